// Context for unfolded presets trained on stacked frames: each layer of the fit sees the
// frame and the frames some hops before it, one after the other (n_bins x lags rows), so
// that what a sound does over time (a click's single frame, a vowel's steady partials)
// joins what its spectrum is. Lags are counted in the preset's hops; at a shorter hop (a
// low-latency mode) each becomes the nearest number of the stream's frames. Frames from
// before the stream began are zero.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "livesep/errors.h"

namespace livesep {

// The most frames a context may stack (the frame itself included).
inline constexpr int kMaxContextFrames = 8;
// The longest lag a context may reach back, in the preset's hops.
inline constexpr int kMaxContextLag = 64;

// [main-thread] Checks lags in the preset's hops: 2 to kMaxContextFrames of them, rising
// from 0 to at most kMaxContextLag.
inline void check_context_lags(const std::vector<int>& lags) {
  bool valid = lags.size() >= 2 && static_cast<int>(lags.size()) <= kMaxContextFrames &&
               lags.front() == 0 && lags.back() <= kMaxContextLag;
  for (std::size_t j = 1; valid && j < lags.size(); ++j) valid = lags[j] > lags[j - 1];
  if (!valid) {
    std::string shown;
    for (std::size_t j = 0; j < lags.size() && j < 10; ++j) {
      shown += (j ? ", " : "") + std::to_string(lags[j]);
    }
    throw ParameterError("context lags must rise from 0 to at most " +
                         std::to_string(kMaxContextLag) + " hops, 2 to " +
                         std::to_string(kMaxContextFrames) + " of them, got [" + shown + "]");
  }
}

// The stream's recent frames, stacked for the fit.
class ContextFrames {
 public:
  // [main-thread] For frames of n_bins; lags in the preset's hops, hops_per_frame the
  // preset's hops per frame of the stream (1 at the preset's own hop).
  void prepare(int n_bins, const std::vector<int>& lags, double hops_per_frame) {
    check_context_lags(lags);
    if (n_bins < 1 || !(hops_per_frame > 0.0) || !std::isfinite(hops_per_frame)) {
      throw ParameterError("a context needs bins and a positive frame ratio, got " +
                           std::to_string(n_bins) + " and " + std::to_string(hops_per_frame));
    }
    n_bins_ = n_bins;
    frames_.clear();
    // floor(x + 0.5), as the numpy reference rounds (x >= 0).
    for (int lag : lags) frames_.push_back(static_cast<int>(std::floor(lag / hops_per_frame + 0.5)));
    length_ = frames_.back() + 1;
    ring_.assign(static_cast<std::size_t>(length_) * n_bins_, 0.0f);
    reset();
  }

  // [audio-thread] Forgets the past: earlier frames are zero again.
  void reset() noexcept {
    std::fill(ring_.begin(), ring_.end(), 0.0f);
    newest_ = 0;
  }

  int n_lags() const noexcept { return static_cast<int>(frames_.size()); }
  // The lags in the stream's frames.
  const std::vector<int>& lag_frames() const noexcept { return frames_; }

  // [audio-thread] Remembers frame v (n_bins) and writes the stacked frame (n_bins x lags:
  // v first, then the frame each lag before it) to out.
  void push(const float* v, float* out) noexcept {
    newest_ = (newest_ + 1) % length_;
    std::copy(v, v + n_bins_, ring_.begin() + static_cast<std::ptrdiff_t>(newest_) * n_bins_);
    for (std::size_t j = 0; j < frames_.size(); ++j) {
      const int row = (newest_ + length_ - frames_[j] % length_) % length_;
      const float* frame = ring_.data() + static_cast<std::size_t>(row) * n_bins_;
      std::copy(frame, frame + n_bins_, out + j * static_cast<std::size_t>(n_bins_));
    }
  }

 private:
  int n_bins_ = 0;
  int length_ = 1;
  int newest_ = 0;
  std::vector<int> frames_;
  std::vector<float> ring_;  // length_ frames of n_bins_
};

}  // namespace livesep
