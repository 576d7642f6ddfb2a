// Fitting on bands: the activations are fitted on a coarser frequency axis (each bin on its
// own where sources differ, wider bands above) while the masks stay at full resolution.
// A band's magnitude and each dictionary column's band value are sums over its bins, so the
// Kullback-Leibler fit on bands is the same Poisson model of the summed counts, at a
// fraction of the cost when most bins are high. Estimates for the masks come from the
// full-resolution dictionaries with the posterior-weighted activations of the banded fit.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/nfhmm.h"

namespace livesep {

// [main-thread] Checks band edges for n_bins bins: 0 = edges[0] < edges[1] < ... <
// edges[B] <= n_bins, B >= 2. Bins from edges[B] up are left out of the fit (a preset's
// fit_bins); the estimates still cover them.
inline void check_band_edges(const std::vector<int>& edges, int n_bins) {
  bool valid = edges.size() >= 3 && edges.front() == 0 && edges.back() <= n_bins;
  for (std::size_t b = 1; valid && b < edges.size(); ++b) valid = edges[b] > edges[b - 1];
  if (!valid) {
    std::string shown;
    for (std::size_t b = 0; b < edges.size() && b < 8; ++b) {
      shown += (b ? ", " : "") + std::to_string(edges[b]);
    }
    if (edges.size() > 8) shown += ", ...";
    throw ParameterError("band edges must rise from 0 to at most the " +
                         std::to_string(n_bins) + " bins with at least two bands, got [" +
                         shown + "] (" +
                         std::to_string(edges.size()) + " edges)");
  }
}

// [main-thread] Band edges for n_fft / 2 + 1 bins at sr: every bin its own band below
// `above` Hz, then bands of 1 / per_octave octave (at least one bin each), up to the top bin
// (livesep.spectral.fit_bands, which it matches edge for edge).
inline std::vector<int> octave_band_edges(int sr, int n_fft, double above, int per_octave = 12) {
  if (!(above > 0.0) || per_octave < 1) {
    throw ParameterError("bands need above > 0 Hz and per_octave >= 1, got " +
                         std::to_string(above) + " and " + std::to_string(per_octave));
  }
  const int n_bins = n_fft / 2 + 1;
  const int first = static_cast<int>(std::min<double>(n_bins, std::ceil(above * n_fft / sr)));
  std::vector<int> edges(static_cast<std::size_t>(first) + 1);
  for (int b = 0; b <= first; ++b) edges[static_cast<std::size_t>(b)] = b;
  const double nyquist = sr / 2.0, step = std::pow(2.0, 1.0 / per_octave);
  double frequency = std::max(above, static_cast<double>(first) * sr / n_fft);
  while (edges.back() < n_bins) {
    frequency = std::min(frequency * step, nyquist);
    // Halves to even, as Python's round().
    const int edge = std::max(edges.back() + 1,
                              static_cast<int>(std::nearbyint(frequency * n_fft / sr)));
    edges.push_back(std::min(edge, n_bins));
    if (frequency >= nyquist) edges.back() = n_bins;
  }
  return edges;
}

// [audio-thread] out[b] = sum of in[edges[b] .. edges[b + 1]).
inline void pool_bands(const float* in, const std::vector<int>& edges, float* out) noexcept {
  const int n_bands = static_cast<int>(edges.size()) - 1;
  for (int b = 0; b < n_bands; ++b) {
    float sum = 0.0f;
    for (int f = edges[b]; f < edges[b + 1]; ++f) sum += in[f];
    out[b] = sum;
  }
}

// [main-thread] A source's dictionaries summed over the bands: the model the banded fit
// uses (same states and transitions; the same column sums, over the bands' bins only when
// they leave the top bins out, but for a noise floor's, rewritten to its weight there).
inline SourceModel pool_source(const SourceModel& full, const std::vector<int>& edges) {
  check_band_edges(edges, full.n_bins);
  if (full.adaptive || full.n_frames > 1) {
    throw ParameterError("fitting on bands needs sources that neither adapt nor span frames");
  }
  SourceModel banded = full;
  const int n_bands = static_cast<int>(edges.size()) - 1;
  banded.n_bins = n_bands;
  banded.n_rows = padded_rows(n_bands);
  const int blocks = static_cast<int>(full.dictionaries.size() / full.block_floats());
  banded.dictionaries.assign(static_cast<std::size_t>(blocks) * banded.block_floats(), 0.0f);
  for (int block = 0; block < blocks; ++block) {
    for (int k = 0; k < full.n_components; ++k) {
      const float* column = full.dictionary(block) + static_cast<std::size_t>(k) * full.n_rows;
      float* pooled = banded.dictionaries.data() + static_cast<std::size_t>(block) *
                                                       banded.block_floats() +
                      static_cast<std::size_t>(k) * banded.n_rows;
      pool_bands(column, edges, pooled);
      const bool floor = full.floor_weight > 0.0f && k == full.n_components - 1;
      if (edges.back() < full.n_bins && !floor) {
        float sum = 0.0f;
        for (int b = 0; b < n_bands; ++b) sum += pooled[b];
        banded.column_sums[static_cast<std::size_t>(block) * full.n_components + k] = sum;
      }
    }
  }
  banded.tile();
  return banded;
}

// [audio-thread] One source's full-resolution estimate (n_bins floats, times mass) from the
// posterior-weighted activations per state of a banded fit (n_states x n_components); an
// unfolded source's estimate uses its last layer's dictionary. padded: full.n_rows floats of
// scratch, aligned.
inline void full_estimate(const SourceModel& full, const VectorF& weighted, float mass,
                          float* padded, float* out) noexcept {
  std::fill(padded, padded + full.n_rows, 0.0f);
  for (int q = 0; q < full.n_states; ++q) {
    const float* weights = weighted.data() + static_cast<std::size_t>(q) * full.n_components;
    bool any = false;
    for (int k = 0; k < full.n_components; ++k) any = any || weights[k] != 0.0f;
    if (!any) continue;
    multiply_add_tiled(full.tiled_dictionary(full.n_layers > 0 ? full.n_layers : q), full.n_rows,
                       full.n_components, weights, padded);
  }
  for (int f = 0; f < full.n_bins; ++f) out[f] = padded[f] * mass;
}

}  // namespace livesep
