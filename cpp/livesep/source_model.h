// One source's trained model in the engine's layout (its dictionaries, transitions and
// initial distribution, tiled for the fit), and the settings of the filter that runs them
// (nfhmm.h).
#pragma once

#include <cstddef>
#include <vector>

#include "livesep/nmf.h"

namespace livesep {

// One source's trained model in the engine's layout, built on the main thread.
struct SourceModel {
  int n_states = 0;
  int n_components = 0;
  int n_bins = 0;
  int n_rows = 0;                   // padded_rows(n_bins)
  int n_frames = 1;                 // lags of a convolutive source (then n_states is 1)
  int n_layers = 0;                 // updates of an unfolded source (then n_states is 1)
  // n_states (or, convolutive, n_frames lag; unfolded, n_layers + 1 layer) blocks of
  // n_rows x n_components, column-major
  AlignedFloats dictionaries;
  std::vector<float> column_sums;   // blocks x n_components
  std::vector<float> transitions;   // n_states x n_states, row-major: A(from, to)
  std::vector<float> initial;       // n_states
  bool adaptive = false;            // learns its dictionary online (one state only)
  float floor_weight = 0.0f;        // > 0: its last component is a noise floor (floor.h)

  AlignedFloats tiled;               // dictionaries again, in row tiles (tile_dictionary)

  std::size_t block_floats() const noexcept {
    return static_cast<std::size_t>(n_rows) * n_components;
  }
  // State q's dictionary; for a convolutive source, lag q's (the current frame's is 0).
  const float* dictionary(int state) const noexcept {
    return dictionaries.data() + static_cast<std::size_t>(state) * block_floats();
  }
  const float* tiled_dictionary(int state) const noexcept {
    return tiled.data() + static_cast<std::size_t>(state) * block_floats();
  }
  // [main-thread] Builds `tiled` from `dictionaries`.
  void tile() {
    tiled.assign(dictionaries.size(), 0.0f);
    const int n_blocks = static_cast<int>(dictionaries.size() / block_floats());
    for (int block = 0; block < n_blocks; ++block) retile(block);
  }
  // [audio-thread] Block `block` of `tiled` from `dictionaries` (after they changed).
  void retile(int block) noexcept {
    tile_dictionary(dictionary(block), n_rows, n_components,
                    tiled.data() + static_cast<std::size_t>(block) * block_floats());
  }
};

struct FilterSettings {
  ActivationSettings activation;
  int beam = 0;                   // joint states evaluated per frame; 0 or >= all: exact
  float likelihood_counts = 30.0f;
  float reseed_floor = 1e-3f;     // warm-start floor, as a fraction of the mean activation
  float forgetting = 0.99f;       // adaptive sources: per-frame decay of their statistics
  float adaptation_prior = 1.0f;  // adaptive sources: weight of the trained dictionary
};

}  // namespace livesep
