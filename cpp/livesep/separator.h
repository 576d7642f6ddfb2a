// The processor that owns the whole per-frame pipeline: streaming STFT in, a model's soft
// masks per source, per-source gains, overlap-add out. Lifecycle as in pedalboard:
// prepare(config, model) allocates everything, process(...) is noexcept and allocation-free
// for any block size, reset() clears the state. Without a model every source receives the
// mixture unchanged (a pass-through, for testing the stream).
//
// Threads: prepare, swap_model, collect_retired and the destructor run on the main thread;
// process and reset on the audio thread (never concurrently with prepare). Gains, mute, solo
// and quality settings are atomics anyone may set at any time; a new model reaches the audio
// thread through a pending slot it picks up at the start of a block, and the model it
// replaces goes to a retired slot the main thread frees, so the audio thread never blocks,
// allocates or frees.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "livesep/denormals.h"
#include "livesep/errors.h"
#include "livesep/model_runtime.h"
#include "livesep/ring.h"
#include "livesep/stft.h"

namespace livesep {

enum class OutputMode { Stems = 0, Mono = 1, Stereo = 2 };

struct SeparatorConfig {
  int sample_rate = 16000;
  int n_fft = 512;
  int hop = 128;
  int synthesis_length = 0;  // 0: symmetric windows; 2 hop: low delay (see stft.h)
  int n_sources = 2;
  OutputMode output = OutputMode::Stems;
  int snapshot_capacity = 512;  // frames of display snapshots the ring holds
  int timing_capacity = 4096;   // process calls whose duration the ring holds
};

// What a display snapshot holds, per frame, as floats in this order:
// input magnitudes (n_bins), masks (n_sources x n_bins), state marginals
// (n_sources x kSnapshotStates, zero beyond each source's states), states per source.
struct SnapshotLayout {
  static constexpr int kSnapshotStates = 256;
  int n_bins = 0;
  int n_sources = 0;
  int record_floats() const noexcept {
    return n_bins + n_sources * n_bins + n_sources * kSnapshotStates + n_sources;
  }
};

class Separator {
 public:
  static constexpr int kMaxSources = FactorialFilter::kMaxSources;

  Separator() {
    for (auto& gain : gains_) gain.store(1.0f);
    for (auto& flag : muted_) flag.store(false);
    for (auto& flag : soloed_) flag.store(false);
  }
  ~Separator() { release_models(); }
  Separator(const Separator&) = delete;
  Separator& operator=(const Separator&) = delete;

  // [main-thread] Validates the configuration and allocates every buffer. model may be
  // null (pass-through). A failed prepare leaves the separator unprepared.
  void prepare(const SeparatorConfig& config, std::unique_ptr<ModelRuntime> model) {
    prepared_ = false;
    release_models();
    if (config.sample_rate < 1000 || config.sample_rate > 384000) {
      throw ParameterError("sample rate must be in [1000, 384000] Hz, got " +
                           std::to_string(config.sample_rate));
    }
    if (config.n_sources < 1 || config.n_sources > kMaxSources) {
      throw ParameterError("the number of sources must be in [1, " + std::to_string(kMaxSources) +
                           "], got " + std::to_string(config.n_sources));
    }
    const int n_channels = config.output == OutputMode::Stems    ? config.n_sources
                           : config.output == OutputMode::Stereo ? 2
                                                                 : 1;
    stft_.prepare(config.n_fft, config.hop, n_channels, config.synthesis_length);
    if (model) {
      check_geometry(*model, config.n_sources);
      model->set_low_delay(stft_.low_delay());
      model->set_frame_period(static_cast<double>(config.hop) / config.sample_rate);
    }
    layout_ = SnapshotLayout{stft_.n_bins(), config.n_sources};
    snapshots_.prepare(config.snapshot_capacity, layout_.record_floats());
    timings_.prepare(config.timing_capacity, 2);
    frame_index_ = 0;
    unchanged_frames_ = stft_.n_fft() / stft_.hop();
    config_ = config;
    n_channels_ = n_channels;
    source_spectra_.assign(static_cast<std::size_t>(config.n_sources) * stft_.n_bins(),
                           Complex(0.0f, 0.0f));
    current_ = model.release();
    prepared_ = true;
  }

  // [main-thread] Hands a new model to the running audio thread without blocking it. The
  // model must have this separator's number of sources and bins.
  void swap_model(std::unique_ptr<ModelRuntime> model) {
    if (!prepared_) throw ParameterError("the separator is not prepared");
    if (!model) throw ParameterError("swap_model needs a model");
    check_geometry(*model, config_.n_sources);
    model->set_low_delay(stft_.low_delay());
    model->set_frame_period(static_cast<double>(config_.hop) / config_.sample_rate);
    collect_retired();
    delete pending_.exchange(model.release(), std::memory_order_acq_rel);
  }

  // [main-thread] Frees a model the audio thread has replaced. Returns true if it freed one.
  bool collect_retired() {
    ModelRuntime* retired = retired_.exchange(nullptr, std::memory_order_acq_rel);
    delete retired;
    return retired != nullptr;
  }

  // True once the audio thread runs the most recently swapped-in model.
  bool swap_pending() const noexcept { return pending_.load(std::memory_order_acquire) != nullptr; }

  // [audio-thread] Back to silence; the configuration and model stay.
  void reset() noexcept {
    if (!prepared_) return;
    stft_.reset();
    unchanged_frames_ = stft_.n_fft() / stft_.hop();  // the silence before the start counts
    if (current_) current_->reset();
  }

  // [main-thread] Display snapshots (one per frame with a model) and process-call timings
  // (seconds, samples); read them with pop(). A full ring drops new records.
  FloatRecordRing& snapshots() noexcept { return snapshots_; }
  FloatRecordRing& timings() noexcept { return timings_; }
  const SnapshotLayout& snapshot_layout() const noexcept { return layout_; }
  void set_snapshots_enabled(bool enabled) noexcept { snapshots_enabled_.store(enabled); }

  // [any-thread] Per-source settings applied from the next frame on.
  void set_gain(int source, float gain) noexcept { gains_[clamp_source(source)].store(gain); }
  void set_muted(int source, bool muted) noexcept { muted_[clamp_source(source)].store(muted); }
  void set_soloed(int source, bool soloed) noexcept { soloed_[clamp_source(source)].store(soloed); }
  float gain(int source) const noexcept { return gains_[clamp_source(source)].load(); }
  bool muted(int source) const noexcept { return muted_[clamp_source(source)].load(); }
  bool soloed(int source) const noexcept { return soloed_[clamp_source(source)].load(); }
  // [any-thread] How far the separation goes, from the next frame on: 1 the full masks, 0
  // none (the main source, the first soloed one or else source 0, is the input unchanged and
  // every other source silent); in between the masks are blended towards that, so the
  // sources still sum to the input. Clamped to [0, 1]; NaN reads as 1.
  void set_strength(float strength) noexcept {
    strength_.store(std::isnan(strength) ? 1.0f : std::clamp(strength, 0.0f, 1.0f));
  }
  float strength() const noexcept { return strength_.load(); }
  // [any-thread] Work per frame: iterations per fit and joint states evaluated (0: all);
  // negative values mean the model's own settings.
  void set_quality(int n_iter, int beam) noexcept {
    requested_iterations_.store(n_iter);
    requested_beam_.store(beam);
  }

  bool prepared() const noexcept { return prepared_; }
  bool has_model() const noexcept { return current_ != nullptr; }
  const SeparatorConfig& config() const noexcept { return config_; }
  int n_channels() const noexcept { return n_channels_; }
  int n_bins() const noexcept { return stft_.n_bins(); }
  // Output sample t is the separation of input sample t - latency_samples().
  int latency_samples() const noexcept { return prepared_ ? stft_.latency_samples() : 0; }
  // The model the audio thread runs (for reading its state between process calls).
  const ModelRuntime* model() const noexcept { return current_; }

  // [audio-thread] n >= 1 mono input samples in[i * in_stride] to n_channels() output
  // channels, out[c * channel_stride + i * sample_stride]. Writes silence when unprepared.
  void process(const float* in, std::ptrdiff_t in_stride, float* out,
               std::ptrdiff_t channel_stride, std::ptrdiff_t sample_stride, int n) noexcept {
    if (!prepared_) {
      for (int c = 0; c < n_channels_; ++c) {
        for (int i = 0; i < n; ++i) out[c * channel_stride + i * sample_stride] = 0.0f;
      }
      return;
    }
    const auto started = std::chrono::steady_clock::now();
    ScopedFlushDenormals flush_denormals;
    adopt_pending_model();
    stft_.process(in, in_stride, out, channel_stride, sample_stride, n,
                  [this](const Complex* mixture, Complex* channels) noexcept {
                    run_frame(mixture, channels);
                  });
    if (float* record = timings_.begin_write()) {
      record[0] = std::chrono::duration<float>(std::chrono::steady_clock::now() - started).count();
      record[1] = static_cast<float>(n);
      timings_.end_write(call_index_);
    }
    ++call_index_;
  }

  // [audio-thread] Planar output: out is n_channels() x n, row-major.
  void process(const float* in, float* out, int n) noexcept { process(in, 1, out, n, 1, n); }

 private:
  int clamp_source(int source) const noexcept { return std::clamp(source, 0, kMaxSources - 1); }

  void check_geometry(const ModelRuntime& model, int n_sources) const {
    if (model.n_sources() != n_sources || model.n_bins() != stft_.n_bins()) {
      throw ParameterError("the model has " + std::to_string(model.n_sources()) + " sources and " +
                           std::to_string(model.n_bins()) + " bins; the separator needs " +
                           std::to_string(n_sources) + " and " + std::to_string(stft_.n_bins()));
    }
  }

  void release_models() {
    delete current_;
    current_ = nullptr;
    delete pending_.exchange(nullptr);
    delete retired_.exchange(nullptr);
  }

  // [audio-thread] Takes the pending model once the previous replaced one has been freed.
  void adopt_pending_model() noexcept {
    if (pending_.load(std::memory_order_acquire) == nullptr) return;
    if (retired_.load(std::memory_order_acquire) != nullptr) return;
    ModelRuntime* next = pending_.exchange(nullptr, std::memory_order_acq_rel);
    if (next == nullptr) return;
    retired_.store(current_, std::memory_order_release);
    current_ = next;
    current_->reset();
  }

  // [audio-thread] Masks (or pass-through), gains and the output mix of one frame.
  void run_frame(const Complex* mixture, Complex* channels) noexcept {
    const int n_bins = stft_.n_bins();
    const int n_sources = config_.n_sources;
    if (current_) {
      current_->apply_quality(requested_iterations_.load(std::memory_order_relaxed),
                              requested_beam_.load(std::memory_order_relaxed));
      current_->process_frame(stft_.fit_spectrum(), mixture);
      if (snapshots_enabled_.load(std::memory_order_relaxed)) write_snapshot();
    }
    ++frame_index_;
    int main_source = -1;
    for (int s = 0; s < n_sources && main_source < 0; ++s) {
      if (soloed_[s].load()) main_source = s;
    }
    const bool any_solo = main_source >= 0;
    main_source = std::max(main_source, 0);
    const float strength = strength_.load(std::memory_order_relaxed);
    // Stems are the channels themselves; a remix sums them first.
    const bool stems = config_.output == OutputMode::Stems;
    Complex* source_spectra = stems ? channels : source_spectra_.data();
    bool main_unchanged = false;
    for (int s = 0; s < n_sources; ++s) {
      const bool audible = !muted_[s].load() && (!any_solo || soloed_[s].load());
      const float gain = audible ? gains_[s].load() : 0.0f;
      Complex* spectrum = source_spectra + static_cast<std::size_t>(s) * n_bins;
      const float unseparated = s == main_source ? 1.0f - strength : 0.0f;
      if (current_ && strength > 0.0f) {
        const float* mask = current_->masks().data() + static_cast<std::size_t>(s) * n_bins;
        for (int f = 0; f < n_bins; ++f) {
          spectrum[f] = mixture[f] * (gain * (strength * mask[f] + unseparated));
        }
      } else {
        const float weight = current_ ? gain * unseparated : gain;
        for (int f = 0; f < n_bins; ++f) spectrum[f] = mixture[f] * weight;
        main_unchanged = main_unchanged || (current_ && s == main_source && weight == 1.0f);
      }
    }
    // At strength 0 with unity gain the main source is the input: once every frame still
    // overlapping is such a frame (the overlap-add then holds the input alone, to rounding),
    // it is output as the input delayed, exactly.
    unchanged_frames_ = main_unchanged ? unchanged_frames_ + 1 : 0;
    const bool dry = unchanged_frames_ >= stft_.n_fft() / stft_.hop();
    for (int c = 0; c < n_channels_; ++c) stft_.set_dry(c, dry && (!stems || c == main_source));
    if (stems) return;
    std::fill(channels, channels + n_bins, Complex(0.0f, 0.0f));
    for (int s = 0; s < n_sources; ++s) {
      const Complex* spectrum = source_spectra_.data() + static_cast<std::size_t>(s) * n_bins;
      for (int f = 0; f < n_bins; ++f) channels[f] += spectrum[f];
    }
    for (int c = 1; c < n_channels_; ++c) std::copy(channels, channels + n_bins, channels + c * n_bins);
  }

  // [audio-thread] The frame's input spectrum, masks and state marginals for displays.
  void write_snapshot() noexcept {
    float* record = snapshots_.begin_write();
    if (record == nullptr) return;
    const int n_bins = layout_.n_bins;
    const int n_sources = layout_.n_sources;
    const int states = SnapshotLayout::kSnapshotStates;
    std::copy(current_->magnitudes().begin(), current_->magnitudes().end(), record);
    std::copy(current_->masks().begin(), current_->masks().end(), record + n_bins);
    float* marginals = record + n_bins + n_sources * n_bins;
    float* counts = marginals + n_sources * states;
    std::fill(marginals, marginals + n_sources * states, 0.0f);
    for (int s = 0; s < n_sources; ++s) {
      const VectorF& marginal = current_->filter().marginal(s);
      const int shown = std::min<int>(states, static_cast<int>(marginal.size()));
      std::copy(marginal.data(), marginal.data() + shown, marginals + s * states);
      counts[s] = static_cast<float>(shown);
    }
    snapshots_.end_write(frame_index_);
  }

  SeparatorConfig config_;
  StreamingStft stft_;
  SnapshotLayout layout_;
  FloatRecordRing snapshots_;
  FloatRecordRing timings_;
  std::atomic<bool> snapshots_enabled_{true};
  std::uint64_t frame_index_ = 0;
  std::uint64_t call_index_ = 0;
  int unchanged_frames_ = 0;  // consecutive frames whose main source was the input unchanged
  bool prepared_ = false;
  int n_channels_ = 0;
  std::vector<Complex> source_spectra_;  // remix: n_sources x n_bins, after masks and gains
  ModelRuntime* current_ = nullptr;      // owned; used by the audio thread
  std::atomic<ModelRuntime*> pending_{nullptr};
  std::atomic<ModelRuntime*> retired_{nullptr};
  std::array<std::atomic<float>, kMaxSources> gains_;
  std::array<std::atomic<bool>, kMaxSources> muted_;
  std::array<std::atomic<bool>, kMaxSources> soloed_;
  std::atomic<float> strength_{1.0f};
  std::atomic<int> requested_iterations_{-1};
  std::atomic<int> requested_beam_{-1};
};

}  // namespace livesep
