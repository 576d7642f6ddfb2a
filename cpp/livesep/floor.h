// A noise floor a source can hold as one more dictionary column, rewritten every frame: the
// stationary part of what the microphone hears, tracked causally (livesep.spectral.noise_floor
// is the numpy reference). Per bin, the power p = |X|^2 is smoothed over time,
//   S_t = a S_{t-1} + (1 - a) p_t,        a = exp(-frame period / 36 ms),
// and the floor follows it down at once but rises by at most 10 dB/s, or up to the least S of
// the last 1.5 s (minimum statistics) when that is higher:
//   N_t = min(S_t, max(r N_{t-1}, W_t)),  r = 10^(10 dB/s x frame period / 10),
// W_t the least S over the sub-window under way and the last six complete ones of 0.25 s.
// Speech comes and goes faster than the floor may rise, so the floor stays on the noise
// beneath it; a noise model trained on other rooms then has the room's own hum, hiss or
// rumble to explain it with. The column is sqrt(N) scaled to sum to the source's floor
// weight (its activation starts and updates like every other). The first sounding frame sets
// S = N = p; the window bounds how long a floor that started too low (a stream that starts in
// a fade or near silence, a fan switched on) takes to find the room: about 2 s. Silent frames
// (magnitudes summing to at most 1e-20) change nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "livesep/nfhmm.h"
#include "livesep/nmf.h"

namespace livesep {

class NoiseFloorTracker {
 public:
  static constexpr double kSmoothingSeconds = 0.036;
  static constexpr double kRiseDecibelsPerSecond = 10.0;
  static constexpr double kSubwindowSeconds = 0.25;
  static constexpr int kSubwindows = 6;
  static constexpr float kSilentMass = 1e-20f;

  // [main-thread] For frames of n_bins magnitudes, one every frame_seconds.
  void prepare(int n_bins, double frame_seconds) {
    smoothed_.assign(n_bins, 0.0f);
    floor_.assign(n_bins, 0.0f);
    current_.assign(n_bins, 0.0f);
    older_.assign(n_bins, 0.0f);
    minima_.assign(static_cast<std::size_t>(kSubwindows) * n_bins, 0.0f);
    set_frame_period(frame_seconds);
    reset();
  }

  // [main-thread] The time between frames, which sets the time constants.
  void set_frame_period(double frame_seconds) {
    smoothing_ = static_cast<float>(std::exp(-frame_seconds / kSmoothingSeconds));
    rise_ = static_cast<float>(std::pow(10.0, kRiseDecibelsPerSecond * frame_seconds / 10.0));
    subwindow_frames_ = std::max(
        1, static_cast<int>(std::floor(kSubwindowSeconds / frame_seconds + 0.5)));
  }

  // [audio-thread] Forget the floor: the next sounding frame starts it again.
  void reset() noexcept {
    started_ = false;
    std::fill(floor_.begin(), floor_.end(), 0.0f);
  }

  // [audio-thread] The floor's power N per bin (zeros before any sound).
  const float* power() const noexcept { return floor_.data(); }
  // [audio-thread] Whether a sounding frame has started the floor.
  bool started() const noexcept { return started_; }

  // [audio-thread] Tracks one frame of magnitudes (n_bins); false for a silent frame, which
  // changes nothing.
  bool update(const float* magnitudes) noexcept {
    const int n_bins = static_cast<int>(floor_.size());
    float mass = 0.0f;
    for (int f = 0; f < n_bins; ++f) mass += magnitudes[f];
    if (!(mass > kSilentMass) || !std::isfinite(mass)) return false;
    if (!started_) {
      for (int f = 0; f < n_bins; ++f) {
        smoothed_[f] = floor_[f] = current_[f] = magnitudes[f] * magnitudes[f];
      }
      std::fill(older_.begin(), older_.end(), std::numeric_limits<float>::max());
      started_ = true;
      counted_ = 1;
      stored_ = 0;
      next_ = 0;
      return true;
    }
    const float a = smoothing_, b = 1.0f - smoothing_;
    for (int f = 0; f < n_bins; ++f) {
      smoothed_[f] = a * smoothed_[f] + b * magnitudes[f] * magnitudes[f];
      current_[f] = std::min(current_[f], smoothed_[f]);
      const float window = std::min(current_[f], older_[f]);
      floor_[f] = std::min(smoothed_[f], std::max(rise_ * floor_[f], window));
    }
    if (++counted_ == subwindow_frames_) close_subwindow();
    return true;
  }

  // [audio-thread] Stores the sub-window's least S (over the oldest when all are full) and
  // starts the next.
  void close_subwindow() noexcept {
    const std::size_t n_bins = floor_.size();
    std::copy(current_.begin(), current_.end(),
              minima_.begin() + static_cast<std::ptrdiff_t>(next_ * n_bins));
    next_ = (next_ + 1) % kSubwindows;
    stored_ = std::min(stored_ + 1, kSubwindows);
    std::fill(older_.begin(), older_.end(), std::numeric_limits<float>::max());
    for (int w = 0; w < stored_; ++w) {
      const float* minimum = minima_.data() + static_cast<std::size_t>(w) * n_bins;
      for (std::size_t f = 0; f < n_bins; ++f) older_[f] = std::min(older_[f], minimum[f]);
    }
    std::fill(current_.begin(), current_.end(), std::numeric_limits<float>::max());
    counted_ = 0;
  }

  // [audio-thread] column[0..n_bins) = sqrt(N) scaled so that its first fit_bins sum to
  // weight (flat where N is 0 there): the bins the model fits on (fitted_bins). n_bins is
  // at most the tracker's: a companion of the lower bins reads those.
  void write_column(float weight, int fit_bins, int n_bins, float* column) const noexcept {
    double total = 0.0;
    for (int f = 0; f < n_bins; ++f) {
      column[f] = std::sqrt(floor_[f]);
      if (f < fit_bins) total += column[f];
    }
    if (!(total > 1e-30)) {
      std::fill(column, column + n_bins, weight / static_cast<float>(fit_bins));
      return;
    }
    const float scale = static_cast<float>(weight / total);
    for (int f = 0; f < n_bins; ++f) column[f] *= scale;
  }

 private:
  std::vector<float> smoothed_;
  std::vector<float> floor_;
  std::vector<float> current_;  // least S of the sub-window under way
  std::vector<float> older_;    // least S of the complete sub-windows kept
  std::vector<float> minima_;   // kSubwindows x n_bins: each kept sub-window's least S
  float smoothing_ = 0.0f;
  float rise_ = 1.0f;
  bool started_ = false;
  int subwindow_frames_ = 1;
  int counted_ = 0;  // sounding frames in the sub-window under way
  int stored_ = 0;   // complete sub-windows kept, at most kSubwindows
  int next_ = 0;     // the slot of minima_ the next one goes to
};

// [main-thread] Gives `source` its floor column: one more component, last in every block,
// zero until the first frame writes it, with column sum `weight`.
inline void add_floor_column(SourceModel& source, float weight) {
  const int k = source.n_components;
  const std::size_t rows = static_cast<std::size_t>(source.n_rows);
  const std::size_t blocks = source.dictionaries.size() / source.block_floats();
  AlignedFloats dictionaries(blocks * rows * (k + 1), 0.0f);
  std::vector<float> column_sums(blocks * (k + 1), weight);
  for (std::size_t block = 0; block < blocks; ++block) {
    std::copy_n(source.dictionary(static_cast<int>(block)), rows * k,
                dictionaries.data() + block * rows * (k + 1));
    std::copy_n(source.column_sums.data() + block * k, k, column_sums.data() + block * (k + 1));
  }
  source.dictionaries = std::move(dictionaries);
  source.column_sums = std::move(column_sums);
  source.n_components = k + 1;
  source.floor_weight = weight;
  source.tile();
}

// [main-thread] The bins a model's fit covers: one past the last row that any layer of an
// unfolded source uses (a full-band preset may fit on the band below a few kHz and estimate
// the rest from the same activations), else every bin. A floor column joins the fit on
// these bins only, where the dictionaries can share what it explains.
inline int fitted_bins(const std::vector<SourceModel>& sources) {
  if (sources.empty()) return 0;
  int covered = sources.front().n_bins;
  if (sources.front().n_layers == 0) return covered;
  covered = 0;
  for (const SourceModel& source : sources) {
    const int k = source.n_components - (source.floor_weight > 0.0f ? 1 : 0);
    for (int layer = 0; layer < source.n_layers; ++layer) {
      const float* columns = source.dictionary(layer);
      for (int c = 0; c < k; ++c) {
        const float* column = columns + static_cast<std::size_t>(c) * source.n_rows;
        for (int f = source.n_bins - 1; f >= covered; --f) {
          if (column[f] != 0.0f) {
            covered = f + 1;
            break;
          }
        }
      }
    }
  }
  return std::max(covered, 1);
}

// [audio-thread] Writes column (n_bins floats; the padding rows stay zero) as the source's
// last component in every block, in both layouts; an unfolded source's layers get it on
// their first fit_bins only (fitted_bins), its estimate on every bin.
inline void write_floor_column(SourceModel& source, const float* column, int fit_bins) noexcept {
  const int k = source.n_components;
  const int blocks = static_cast<int>(source.dictionaries.size() / source.block_floats());
  for (int block = 0; block < blocks; ++block) {
    float* columns = source.dictionaries.data() + static_cast<std::size_t>(block) *
                                                      source.block_floats();
    float* floor = columns + static_cast<std::size_t>(k - 1) * source.n_rows;
    const int kept = block < source.n_layers ? std::min(fit_bins, source.n_bins) : source.n_bins;
    std::copy_n(column, kept, floor);
    std::fill(floor + kept, floor + source.n_bins, 0.0f);
    float* tiled = source.tiled.data() + static_cast<std::size_t>(block) * source.block_floats();
    detail::for_each_tile(source.n_rows, false, [&](int first, int lanes) {
      const int row = first * detail::kLaneFloats;
      const int height = lanes * detail::kLaneFloats;
      float* out = tiled + static_cast<std::ptrdiff_t>(row) * k +
                   static_cast<std::ptrdiff_t>(k - 1) * height;
      const float* in = floor + row;
      std::copy(in, in + height, out);
    });
  }
}

}  // namespace livesep
