// What the LV2 plugin runs: a preset read from its .npz file, the engine prepared for it at
// the preset's rate and, when the host runs at another rate, the live path's resampling
// chain around it (livesep::RateChain). Built off the audio thread (instantiate, the
// worker, state restore); process() is real-time safe.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "livesep/preset.h"
#include "livesep/rate_chain.h"
#include "livesep/separator.h"

namespace livesep::lv2 {

// Source outputs the plugin has; presets with more sources are refused.
constexpr int kSourcePorts = 2;
// Most samples handed to the engine per step (longer host blocks are split).
constexpr int kChunk = 1024;
// Latency modes, as livesep.engine.LATENCIES: the most algorithmic latency each allows, in
// seconds (standard: the preset's frames).
constexpr double kLatencyBounds[] = {0.0, 0.008, 0.003};
constexpr int kLatencyModes = 3;

// [any-thread] livesep.engine.latency_geometry: the hop and synthesis length (0: symmetric
// windows) a latency mode gives a preset's frames.
inline void latency_geometry(const Preset& preset, int mode, int& hop, int& synthesis) {
  const double bound = kLatencyBounds[mode];
  hop = preset.hop;
  synthesis = 0;
  if (mode == 0 || preset.n_fft - 1 <= bound * preset.sr) return;
  synthesis = std::min(static_cast<int>(bound * preset.sr + 1), preset.n_fft / 2) / 2 * 2;
  hop = synthesis / 2;
}

// [main-thread] livesep.engine.build_model with low-delay windows at a shorter hop:
// transitions (1 - r) I + r A and adaptive forgetting^r, with r the ratio of the hops, so that
// time constants stay in seconds; no mask smoothing by default (EngineSettings.resolved).
inline std::shared_ptr<const Model> at_low_delay(const Model& trained, double ratio,
                                                 double forgetting) {
  auto model = std::make_shared<Model>(trained);
  model->mask_smoothing = 0.0;
  for (SourceModel& source : model->sources) {
    const int q = source.n_states;
    for (int i = 0; i < q; ++i) {
      for (int j = 0; j < q; ++j) {
        float& a = source.transitions[static_cast<std::size_t>(i) * q + j];
        a = static_cast<float>((1.0 - ratio) * (i == j ? 1.0 : 0.0) + ratio * a);
      }
    }
  }
  model->settings.forgetting = static_cast<float>(std::pow(forgetting, ratio));
  return model;
}

class Stream {
 public:
  // [main-thread] Reads `path` and prepares the engine for a host at host_rate. Throws
  // PresetError (unreadable or invalid file) or ParameterError (a preset the plugin cannot
  // run: more than kSourcePorts sources, or a rate it cannot resample from).
  Stream(const std::string& path, int host_rate, int latency_mode = 0)
      : preset_(PresetReader::load(path)), mode_(std::clamp(latency_mode, 0, kLatencyModes - 1)) {
    if (preset_.n_sources() > kSourcePorts) {
      throw ParameterError(path + ": the preset has " + std::to_string(preset_.n_sources()) +
                           " sources; the plugin has outputs for " +
                           std::to_string(kSourcePorts));
    }
    SeparatorConfig config;
    config.sample_rate = preset_.sr;
    config.n_fft = preset_.n_fft;
    latency_geometry(preset_, mode_, config.hop, config.synthesis_length);
    if (config.synthesis_length != 0) {
      preset_.model = at_low_delay(*preset_.model, static_cast<double>(config.hop) / preset_.hop,
                                   PresetInference{}.forgetting);
    }
    config.n_sources = preset_.n_sources();
    config.snapshot_capacity = 1;  // nobody reads displays in a plugin
    config.timing_capacity = 1;
    separator_.set_snapshots_enabled(false);
    separator_.prepare(config, std::make_unique<ModelRuntime>(preset_.model, preset_.mask_power));
    channels_ = preset_.n_sources();
    resampled_ = host_rate != preset_.sr;
    if (resampled_) {
      try {
        chain_.prepare(design_chain(host_rate, preset_.sr, separator_.latency_samples()),
                       channels_, kChunk);
      } catch (const ParameterError& error) {
        throw ParameterError(path + ": the preset runs at " + std::to_string(preset_.sr) +
                             " Hz and cannot be resampled to the host's " +
                             std::to_string(host_rate) + " Hz (" + error.what() + ")");
      }
    }
    scratch_.assign(static_cast<std::size_t>(kChunk) * channels_, 0.0f);
    latency_ = resampled_ ? chain_.latency_samples() : separator_.latency_samples();
    warm_up(host_rate);
  }

  const Preset& preset() const noexcept { return preset_; }
  int latency_mode() const noexcept { return mode_; }
  int latency_samples() const noexcept { return latency_; }
  bool resampled() const noexcept { return resampled_; }
  // [main-thread] Whether a model for `other` can replace this stream's in place (the
  // engine's glitch-free model swap): same rate, frames and number of sources.
  bool same_geometry(const Preset& other) const noexcept {
    return other.sr == preset_.sr && other.n_fft == preset_.n_fft && other.hop == preset_.hop &&
           other.n_sources() == preset_.n_sources();
  }
  // [main-thread] Hands `other`'s model to the running engine (Separator::swap_model), at
  // this stream's latency mode.
  void swap_model(const Preset& other) {
    Preset adopted = other;
    int hop = 0, synthesis = 0;
    latency_geometry(other, mode_, hop, synthesis);
    if (synthesis != 0) {
      adopted.model = at_low_delay(*other.model, static_cast<double>(hop) / other.hop,
                                   PresetInference{}.forgetting);
    }
    separator_.swap_model(std::make_unique<ModelRuntime>(adopted.model, adopted.mask_power));
    preset_ = adopted;
  }
  // [any-thread]
  Separator& separator() noexcept { return separator_; }
  // [audio-thread] Back to silence, the preset kept.
  void reset() noexcept {
    separator_.reset();
    chain_.reset();
  }

  // [audio-thread] n <= kChunk input samples to the source outputs (outs[s] for s below
  // kSourcePorts; sources the preset lacks are silent) and their sum, mix.
  void process(const float* in, float* const* outs, float* mix, int n) noexcept {
    if (resampled_) {
      chain_.process(separator_, in, n, scratch_.data());  // interleaved n x channels
      for (int s = 0; s < kSourcePorts; ++s) {
        for (int i = 0; i < n; ++i) {
          outs[s][i] = s < channels_ ? scratch_[static_cast<std::size_t>(i) * channels_ + s] : 0.0f;
        }
      }
    } else {
      separator_.process(in, 1, scratch_.data(), n, 1, n);  // planar channels x n
      for (int s = 0; s < kSourcePorts; ++s) {
        if (s < channels_) {
          std::copy_n(scratch_.data() + static_cast<std::size_t>(s) * n, n, outs[s]);
        } else {
          std::fill_n(outs[s], n, 0.0f);
        }
      }
    }
    for (int i = 0; i < n; ++i) {
      float sum = 0.0f;
      for (int s = 0; s < channels_; ++s) sum += outs[s][i];
      mix[i] = sum;
    }
  }

 private:
  // [main-thread] Runs a tenth of a second of quiet noise through, then resets: the first
  // frames touch code pages and buffers never touched before, and the host's audio thread
  // should not be the one to pay for that (an xrun at the start, measured in jalv).
  void warm_up(int host_rate) {
    std::vector<float> noise(kChunk), sink(kChunk);
    std::uint32_t state = 1;
    float* outs[kSourcePorts] = {sink.data(), sink.data()};
    for (int done = 0; done < host_rate / 10; done += kChunk) {
      for (float& value : noise) {
        state = state * 1664525u + 1013904223u;
        value = 1e-2f * (static_cast<float>(state >> 8) / 16777216.0f - 0.5f);
      }
      process(noise.data(), outs, sink.data(), kChunk);
    }
    reset();
  }

  Preset preset_;
  int mode_ = 0;
  Separator separator_;
  RateChain chain_;
  bool resampled_ = false;
  int channels_ = 1;
  int latency_ = 0;
  std::vector<float> scratch_;
};

}  // namespace livesep::lv2
