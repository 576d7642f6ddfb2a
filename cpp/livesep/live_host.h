// The live stream's audio callback, registered with PortAudio directly: no Python, no GIL,
// no allocation, no lock on the audio thread.
//
// Per callback: pick the input channel, separate it (through the rate bridge when the
// device runs at another rate than the preset), queue input and stems for the recorder,
// mix the engine's channels onto the device's (with a one-block crossfade when bypass
// changes the mix), and note the callback's timing and PortAudio's status flags in
// preallocated arrays that the main thread reads behind an atomic counter.
//
// In file mode the host reads a signal it holds (at the device rate) instead of the input
// device, looping or ending in silence, so that a file plays through exactly the live path.
//
// Why not a Python callback: it needs the GIL, and any other Python thread holding it (or
// preempted while holding it) delays the callback; at 48 kHz / 256 frames a period is
// 5.3 ms, the same as Python's default switch interval, and such stalls were seen as xruns.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/rate_bridge.h"
#include "livesep/ring.h"
#include "livesep/separator.h"

namespace livesep {

struct LiveHostConfig {
  int in_channels = 1;    // interleaved channels PortAudio delivers
  int input_channel = 0;  // the one separated
  int out_channels = 1;   // interleaved channels PortAudio expects
  int max_block = 8192;   // larger callbacks are handled in pieces of this size
  int history = 1 << 16;  // callbacks whose timing is kept (a power of two)
};

// One callback's PortAudio status flags as the main thread reads them.
struct XrunRecord {
  std::uint64_t callback = 0;  // the flagged callback's number, from 0
  double time = 0.0;           // its start
  double previous = 0.0;       // the previous callback's start (its own start for the first)
  unsigned long flags = 0;
};

class LiveHost {
 public:
  // PortAudio's PaStreamCallbackFlags bits (portaudio.h).
  static constexpr unsigned long kInputUnderflow = 0x1, kInputOverflow = 0x2,
                                 kOutputUnderflow = 0x4, kOutputOverflow = 0x8;
  static constexpr int kXrunLog = 64;

  // [main-thread] engine (prepared), bridge (prepared for the engine's channels, or null
  // at the engine's rate) and recorder (1 + engine channels, or null) must outlive the host
  // and not be used elsewhere while it streams. mix and bypass_mix are engine channels x
  // out_channels row-major, or empty for "engine channel c to device channel c".
  // A non-empty feed replaces the input device's signal (file mode), looping if loop is set.
  LiveHost(Separator& engine, RateBridge* bridge, FrameRing* recorder, const LiveHostConfig& config,
           std::vector<float> mix, std::vector<float> bypass_mix, std::vector<float> feed = {},
           bool loop = true)
      : engine_(engine), bridge_(bridge), recorder_(recorder), config_(config),
        feed_(std::move(feed)), loop_(loop) {
    const int engine_channels = engine.n_channels();
    if (!engine.prepared()) throw ParameterError("the live host needs a prepared separator");
    if (config.input_channel < 0 || config.input_channel >= config.in_channels ||
        config.out_channels < 1 || config.max_block < 1 || config.history < 1 ||
        (config.history & (config.history - 1)) != 0) {
      throw ParameterError("bad live host configuration: input channel " +
                           std::to_string(config.input_channel) + " of " +
                           std::to_string(config.in_channels) + ", " +
                           std::to_string(config.out_channels) + " outputs, max_block " +
                           std::to_string(config.max_block) + ", history " +
                           std::to_string(config.history));
    }
    const std::size_t matrix = static_cast<std::size_t>(engine_channels) * config.out_channels;
    for (const auto* m : {&mix, &bypass_mix}) {
      if (!m->empty() && m->size() != matrix) {
        throw ParameterError("a mix matrix must be " + std::to_string(engine_channels) + " x " +
                             std::to_string(config.out_channels) + ", got " +
                             std::to_string(m->size()) + " values");
      }
    }
    if (bridge && (bridge->channels() != engine_channels || bridge->max_block() < config.max_block)) {
      throw ParameterError("the rate bridge is prepared for " + std::to_string(bridge->channels()) +
                           " channels and blocks of " + std::to_string(bridge->max_block()) +
                           "; the host needs " + std::to_string(engine_channels) + " and " +
                           std::to_string(config.max_block));
    }
    if (recorder && recorder->channels() != 1 + engine_channels) {
      throw ParameterError("the recorder ring needs " + std::to_string(1 + engine_channels) +
                           " channels, has " + std::to_string(recorder->channels()));
    }
    mixes_[0] = std::move(mix);
    mixes_[1] = std::move(bypass_mix);
    engine_channels_ = engine_channels;
    x_.assign(config.max_block, 0.0f);
    stems_.assign(static_cast<std::size_t>(config.max_block) * engine_channels, 0.0f);
    faded_.assign(static_cast<std::size_t>(config.max_block) * config.out_channels, 0.0f);
    starts_.assign(config.history, 0.0);
    ends_.assign(config.history, 0.0);
    frames_.assign(config.history, 0);
  }

  // PortAudio's PaStreamCallback, userData being the host.
  static int portaudio_callback(const void* input, void* output, unsigned long frames,
                                const void* /*time_info*/, unsigned long flags,
                                void* host) noexcept {
    static_cast<LiveHost*>(host)->process(static_cast<const float*>(input),
                                          static_cast<float*>(output), frames, flags);
    return 0;  // paContinue
  }

  // [audio-thread] One callback: frames of in_channels in, out_channels out (interleaved).
  void process(const float* in, float* out, unsigned long frames, unsigned long flags) noexcept {
    const double start = now();
    if (frames == 0) return;
    if (flags != 0 && !ignore_flags_.load(std::memory_order_relaxed)) note_flags(start, flags);
    const int in_channels = config_.in_channels, out_channels = config_.out_channels;
    for (unsigned long begin = 0; begin < frames; begin += config_.max_block) {
      const int n = static_cast<int>(std::min<unsigned long>(config_.max_block, frames - begin));
      if (!feed_.empty()) {
        read_feed(n);
      } else {
        for (int i = 0; i < n; ++i) {
          x_[i] = in ? in[(begin + i) * in_channels + config_.input_channel] : 0.0f;
        }
      }
      if (bridge_) {
        bridge_->process(engine_, x_.data(), n, stems_.data());
      } else {
        engine_.process(x_.data(), 1, stems_.data(), 1, engine_channels_, n);
      }
      if (recorder_) recorder_->push(x_.data(), 1, stems_.data(), engine_channels_, n);
      mix(out + begin * out_channels, n);
    }
    const std::uint64_t index = callbacks_.load(std::memory_order_relaxed);
    const std::size_t slot = index & static_cast<std::uint64_t>(config_.history - 1);
    starts_[slot] = start;
    frames_[slot] = static_cast<std::int64_t>(frames);
    ends_[slot] = now();
    frames_done_.fetch_add(frames, std::memory_order_relaxed);
    callbacks_.store(index + 1, std::memory_order_release);
  }

  // [any-thread] Controls.
  void set_bypass(bool bypass) noexcept { bypass_.store(bypass, std::memory_order_relaxed); }
  // Stopping JACK ports can flag the last blocks: the host ignores flags once told to.
  void set_ignore_flags(bool ignore) noexcept { ignore_flags_.store(ignore); }

  int in_channels() const noexcept { return config_.in_channels; }
  int out_channels() const noexcept { return config_.out_channels; }

  // [any-thread] File mode: the next feed sample to play, and whether a feed without loop
  // has ended.
  std::int64_t feed_position() const noexcept { return feed_position_.load(std::memory_order_relaxed); }
  bool feed_finished() const noexcept { return feed_finished_.load(std::memory_order_relaxed); }

  // [main-thread] What the audio thread noted; read behind callbacks() (acquire).
  std::uint64_t callbacks() const noexcept { return callbacks_.load(std::memory_order_acquire); }
  std::uint64_t frames_done() const noexcept { return frames_done_.load(std::memory_order_relaxed); }
  int history() const noexcept { return config_.history; }
  double start_time(std::uint64_t index) const noexcept { return starts_[slot(index)]; }
  double end_time(std::uint64_t index) const noexcept { return ends_[slot(index)]; }
  std::int64_t frames(std::uint64_t index) const noexcept { return frames_[slot(index)]; }
  std::array<std::uint64_t, 4> flag_counts() const noexcept {
    return {flag_counts_[0].load(), flag_counts_[1].load(), flag_counts_[2].load(),
            flag_counts_[3].load()};
  }
  std::uint64_t xrun_records() const noexcept { return xrun_records_.load(std::memory_order_acquire); }
  // The record of flagged callback number i (valid for the last kXrunLog).
  const XrunRecord& xrun_record(std::uint64_t i) const noexcept { return xrun_log_[i % kXrunLog]; }

  // Seconds on the steady clock (CLOCK_MONOTONIC: Python's time.perf_counter on Linux).
  static double now() noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  std::size_t slot(std::uint64_t index) const noexcept {
    return static_cast<std::size_t>(index & static_cast<std::uint64_t>(config_.history - 1));
  }

  void read_feed(int n) noexcept {
    const auto size = static_cast<std::int64_t>(feed_.size());
    std::int64_t position = feed_position_.load(std::memory_order_relaxed);
    int done = 0;
    while (done < n && !feed_finished_.load(std::memory_order_relaxed)) {
      if (position >= size) {
        if (!loop_) {
          feed_finished_.store(true, std::memory_order_relaxed);
          break;
        }
        position = 0;
      }
      const int count = static_cast<int>(std::min<std::int64_t>(n - done, size - position));
      std::copy_n(feed_.data() + position, count, x_.data() + done);
      done += count;
      position += count;
    }
    std::fill(x_.data() + done, x_.data() + n, 0.0f);
    feed_position_.store(position, std::memory_order_relaxed);
  }

  void note_flags(double start, unsigned long flags) noexcept {
    const unsigned long kinds[4] = {kInputUnderflow, kInputOverflow, kOutputUnderflow,
                                    kOutputOverflow};
    for (int k = 0; k < 4; ++k) {
      if (flags & kinds[k]) flag_counts_[k].fetch_add(1, std::memory_order_relaxed);
    }
    const std::uint64_t record = xrun_records_.load(std::memory_order_relaxed);
    const std::uint64_t callback = callbacks_.load(std::memory_order_relaxed);
    xrun_log_[record % kXrunLog] =
        XrunRecord{callback, start, callback ? starts_[slot(callback - 1)] : start, flags};
    xrun_records_.store(record + 1, std::memory_order_release);
  }

  // out (n, out_channels) from stems_ (n, engine channels) through the current mix; a change
  // of mix fades from the old one to the new over this block, so it never clicks.
  void mix(float* out, int n) noexcept {
    const int target = bypass_.load(std::memory_order_relaxed) ? 1 : 0;
    apply(mixes_[target], out, n);
    if (target == current_mix_) return;
    float* old = faded_.data();
    apply(mixes_[current_mix_], old, n);
    const int channels = config_.out_channels;
    for (int i = 0; i < n; ++i) {
      const float ramp = static_cast<float>(i + 1) / static_cast<float>(n);
      for (int c = 0; c < channels; ++c) {
        float& value = out[i * channels + c];
        value = (value - old[i * channels + c]) * ramp + old[i * channels + c];
      }
    }
    current_mix_ = target;
  }

  void apply(const std::vector<float>& matrix, float* out, int n) const noexcept {
    const int rows = engine_channels_, channels = config_.out_channels;
    for (int i = 0; i < n; ++i) {
      const float* stems = stems_.data() + static_cast<std::ptrdiff_t>(i) * rows;
      float* frame = out + static_cast<std::ptrdiff_t>(i) * channels;
      for (int c = 0; c < channels; ++c) {
        if (matrix.empty()) {
          frame[c] = c < rows ? stems[c] : 0.0f;
          continue;
        }
        float sum = 0.0f;
        for (int s = 0; s < rows; ++s) sum += stems[s] * matrix[s * channels + c];
        frame[c] = sum;
      }
    }
  }

  Separator& engine_;
  RateBridge* bridge_;
  FrameRing* recorder_;
  LiveHostConfig config_;
  int engine_channels_ = 1;
  std::array<std::vector<float>, 2> mixes_;  // normal, bypass
  int current_mix_ = 0;
  std::vector<float> x_, stems_, faded_;
  std::vector<double> starts_, ends_;
  std::vector<std::int64_t> frames_;
  std::atomic<std::uint64_t> callbacks_{0}, frames_done_{0}, xrun_records_{0};
  std::array<std::atomic<std::uint64_t>, 4> flag_counts_{};
  std::array<XrunRecord, kXrunLog> xrun_log_{};
  std::vector<float> feed_;
  bool loop_ = true;
  std::atomic<std::int64_t> feed_position_{0};
  std::atomic<bool> bypass_{false}, ignore_flags_{false}, feed_finished_{false};
};

}  // namespace livesep
