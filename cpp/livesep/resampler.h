// Streaming rational resampling by a polyphase FIR filter: the live host's bridge between a
// device's rate and a preset's.
//
// Output m is sum_k h[k] * u[m * down - k], where u is the input upsampled by `up` (zeros
// between samples) and h the prototype low-pass designed at up x the input rate (with gain
// `up`): scipy.signal.upfirdn(h, x, up, down), produced as soon as the input it needs has
// arrived. Every output is the same dot product in the same order however the input is
// chunked, so streaming results are bit-identical to one call over the whole signal.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "livesep/errors.h"

namespace livesep {

class Resampler {
 public:
  // [main-thread] Prototype taps h (n_taps, at up x the input rate), channels per frame, and
  // the largest input chunk per internal step (longer inputs are split).
  void prepare(int up, int down, const float* taps, int n_taps, int channels, int max_input) {
    if (up < 1 || down < 1 || n_taps < 1 || channels < 1 || max_input < 1) {
      throw ParameterError("a resampler needs up, down, taps, channels and max_input >= 1, got " +
                           std::to_string(up) + ", " + std::to_string(down) + ", " +
                           std::to_string(n_taps) + ", " + std::to_string(channels) + ", " +
                           std::to_string(max_input));
    }
    up_ = up;
    down_ = down;
    channels_ = channels;
    max_input_ = max_input;
    per_phase_ = (n_taps + up - 1) / up;
    // Phase p holds h[p], h[p + up], ... reversed, so that it meets the input oldest first.
    phases_.assign(static_cast<std::size_t>(up) * per_phase_, 0.0f);
    for (int p = 0; p < up; ++p) {
      for (int t = 0; t < per_phase_; ++t) {
        const int k = p + t * up;
        phases_[static_cast<std::size_t>(p) * per_phase_ + per_phase_ - 1 - t] =
            k < n_taps ? taps[k] : 0.0f;
      }
    }
    stride_ = per_phase_ - 1 + max_input;
    history_.assign(static_cast<std::size_t>(channels) * stride_, 0.0f);
    reset();
  }

  // [audio-thread] Back to silence before the first sample.
  void reset() noexcept {
    std::fill(history_.begin(), history_.end(), 0.0f);
    consumed_ = 0;
    next_input_ = 0;
    next_phase_ = 0;
  }

  int channels() const noexcept { return channels_; }
  int taps_per_phase() const noexcept { return per_phase_; }

  // The most frames process can return for n input frames.
  int max_output(int n) const noexcept {
    return static_cast<int>((static_cast<std::int64_t>(n) * up_ + down_ - 1) / down_) + 1;
  }

  // [audio-thread] n input frames in[i * channels + c]; writes the frames now complete to
  // out (room for max_output(n)) the same way and returns how many.
  int process(const float* in, int n, float* out) noexcept {
    int produced = 0;
    for (int begin = 0; begin < n; begin += max_input_) {
      const int count = std::min(max_input_, n - begin);
      produced += step(in + static_cast<std::ptrdiff_t>(begin) * channels_, count,
                       out + static_cast<std::ptrdiff_t>(produced) * channels_);
    }
    return produced;
  }

 private:
  int step(const float* in, int n, float* out) noexcept {
    const int kept = per_phase_ - 1;
    for (int c = 0; c < channels_; ++c) {
      float* line = history_.data() + static_cast<std::size_t>(c) * stride_;
      for (int i = 0; i < n; ++i) line[kept + i] = in[static_cast<std::ptrdiff_t>(i) * channels_ + c];
    }
    // history position j holds input sample consumed_ - kept + j.
    const std::int64_t last = consumed_ + n - 1;
    int produced = 0;
    while (next_input_ <= last) {
      const int start = static_cast<int>(next_input_ - consumed_);  // = position - kept
      const Eigen::Map<const Eigen::VectorXf> phase(
          phases_.data() + static_cast<std::size_t>(next_phase_) * per_phase_, per_phase_);
      for (int c = 0; c < channels_; ++c) {
        const Eigen::Map<const Eigen::VectorXf> window(
            history_.data() + static_cast<std::size_t>(c) * stride_ + start, per_phase_);
        out[static_cast<std::ptrdiff_t>(produced) * channels_ + c] = phase.dot(window);
      }
      ++produced;
      next_phase_ += down_;
      next_input_ += next_phase_ / up_;
      next_phase_ %= up_;
    }
    for (int c = 0; c < channels_; ++c) {
      float* line = history_.data() + static_cast<std::size_t>(c) * stride_;
      std::memmove(line, line + n, sizeof(float) * kept);
    }
    consumed_ += n;
    return produced;
  }

  int up_ = 1, down_ = 1, channels_ = 1, max_input_ = 1, per_phase_ = 1, stride_ = 1;
  std::vector<float> phases_;   // up x per_phase, each phase reversed
  std::vector<float> history_;  // channels x (per_phase - 1 + max_input), planar
  std::int64_t consumed_ = 0;    // input frames taken so far
  std::int64_t next_input_ = 0;  // the newest input sample the next output needs
  int next_phase_ = 0;           // that output's phase: (m * down) mod up
};

}  // namespace livesep
