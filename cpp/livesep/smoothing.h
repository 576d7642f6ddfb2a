// Masks smoothed over time, weighted by the power they act on (livesep.spectral.MaskSmoother
// is the numpy reference). Per source s and bin f, with p = |X|^2 the frame's power,
//   num_s = a num_s + (1 - a) M_s p,   den = a den + (1 - a) p,   M'_s = num_s / den,
// a = exp(-frame period / time constant): the share of the recent power each source was
// given, so that a frame-wise fit, which knows no time, does not flicker from one frame to
// the next (musical noise). Loud frames weigh more than quiet ones, so an onset takes over
// at once and the masks still sum to 1. Where den is not above 1e-30 (silence) or not finite
// (absurd input), the frame's own masks pass unchanged and the bin starts afresh.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "livesep/errors.h"

namespace livesep {

class MaskSmoother {
 public:
  static constexpr float kLeastWeight = 1e-30f;
  static constexpr float kMostWeight = std::numeric_limits<float>::max();
  static constexpr double kMaxSeconds = 10.0;

  // [main-thread] Throws unless `seconds` is a time constant this smoother takes.
  static void check(double seconds) {
    if (!(seconds >= 0.0 && seconds <= kMaxSeconds)) {
      throw ParameterError("mask smoothing must be in [0, " + std::to_string(kMaxSeconds) +
                           "] seconds, got " + std::to_string(seconds));
    }
  }

  // [main-thread] For n_sources masks of n_bins, smoothed with `seconds` as time constant
  // over frames one `frame_seconds` apart. seconds 0 leaves the masks as they are.
  void prepare(int n_sources, int n_bins, double seconds, double frame_seconds) {
    check(seconds);
    seconds_ = seconds;
    if (seconds_ > 0.0) {
      weighted_.assign(static_cast<std::size_t>(n_sources) * n_bins, 0.0f);
      power_.assign(n_bins, 0.0f);
    }
    set_frame_period(frame_seconds);
    reset();
  }

  bool active() const noexcept { return seconds_ > 0.0; }

  // [main-thread] The time between frames, which sets the coefficient.
  void set_frame_period(double frame_seconds) {
    coefficient_ = active() ? static_cast<float>(std::exp(-frame_seconds / seconds_)) : 0.0f;
  }

  // [audio-thread]
  void reset() noexcept {
    std::fill(weighted_.begin(), weighted_.end(), 0.0f);
    std::fill(power_.begin(), power_.end(), 0.0f);
  }

  // [audio-thread] Smooths masks (n_sources x n_bins) in place, given the frame's
  // magnitudes (n_bins).
  void process(const float* magnitudes, float* masks) noexcept {
    if (!active()) return;
    const int n_bins = static_cast<int>(power_.size());
    const int n_sources = static_cast<int>(weighted_.size()) / std::max(n_bins, 1);
    const float a = coefficient_, b = 1.0f - coefficient_;
    for (int f = 0; f < n_bins; ++f) {
      power_[f] = a * power_[f] + b * (magnitudes[f] * magnitudes[f]);
    }
    for (int s = 0; s < n_sources; ++s) {
      float* mask = masks + static_cast<std::size_t>(s) * n_bins;
      float* weighted = weighted_.data() + static_cast<std::size_t>(s) * n_bins;
      for (int f = 0; f < n_bins; ++f) {
        weighted[f] = a * weighted[f] + b * (mask[f] * (magnitudes[f] * magnitudes[f]));
        const bool usable = power_[f] > kLeastWeight && power_[f] <= kMostWeight;
        mask[f] = usable ? weighted[f] / power_[f] : mask[f];
        weighted[f] = usable ? weighted[f] : 0.0f;
      }
    }
    for (int f = 0; f < n_bins; ++f) {
      const bool usable = power_[f] > kLeastWeight && power_[f] <= kMostWeight;
      power_[f] = usable ? power_[f] : 0.0f;
    }
  }

 private:
  double seconds_ = 0.0;
  float coefficient_ = 0.0f;
  std::vector<float> weighted_;  // n_sources x n_bins: the smoothed M_s p
  std::vector<float> power_;     // n_bins: the smoothed p
};

}  // namespace livesep
