// A preset's models in the engine's layout (immutable, shareable between separators), built
// on the main thread; model_runtime.h runs them.
#pragma once

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "livesep/bands.h"
#include "livesep/encoder.h"
#include "livesep/errors.h"
#include "livesep/floor.h"
#include "livesep/nfhmm.h"

namespace livesep {

// The sources of a preset and how to infer with them. Built on the main thread.
struct Model {
  std::vector<SourceModel> sources;
  FilterSettings settings;
  // A recurrent encoder in place of the activation fit (sources then one state each, their
  // dictionary its decoder); null for every other model.
  std::shared_ptr<const EncoderWeights> encoder;

  // Fitting on bands (bands.h), when band_edges is not empty: fit_sources are the sources
  // summed over the bands, for the activation fit; `sources` stay at full resolution for the
  // estimates and masks.
  std::vector<int> band_edges;
  std::vector<SourceModel> fit_sources;

  // The masks' smoothing over time (smoothing.h): its time constant in seconds, 0 for none.
  double mask_smoothing = 0.0;

  // A second model of the same sources run on the same frames, its masks mixed in before
  // the smoothing: (1 - companion_share) of this model's and companion_share of its. Two
  // models whose errors differ make better masks together than either alone.
  std::shared_ptr<const Model> companion;
  float companion_share = 0.0f;

  int n_sources() const noexcept { return static_cast<int>(sources.size()); }
  int n_bins() const noexcept { return sources.empty() ? 0 : sources.front().n_bins; }
  bool banded() const noexcept { return !band_edges.empty(); }
  // The bins the fit covers: up to the last band's edge when the bands stop short of the
  // top bin (a preset's fit_bins), else fitted_bins (every bin but for unfolded sources).
  int fit_rows() const {
    return banded() && band_edges.back() < n_bins() ? band_edges.back() : fitted_bins(sources);
  }
};

// [main-thread] Makes the model fit its activations on the bands `edges` (bands.h). Not for
// a model with a recurrent encoder, adaptive or convolutive sources.
inline void fit_on_bands(Model& model, std::vector<int> edges) {
  if (model.encoder) throw ParameterError("fitting on bands needs a model without an encoder");
  model.fit_sources.clear();
  for (const SourceModel& source : model.sources) {
    model.fit_sources.push_back(pool_source(source, edges));
  }
  model.band_edges = std::move(edges);
}

// [main-thread] The bands a model is fitted on when none are asked for
// (livesep.engine.fit_band_edges): for unfolded sources whose layers cover fewer bins than
// their estimates (fitted_bins), each covered bin and one band above, where every layer is
// zero: the same fit in fewer rows. Empty (every bin) for any other model.
inline std::vector<int> covered_band_edges(const Model& model) {
  if (model.encoder || model.banded()) return {};
  for (const SourceModel& source : model.sources) {
    if (source.adaptive || source.n_frames > 1) return {};
  }
  const int n_bins = model.n_bins(), covered = fitted_bins(model.sources);
  if (covered >= n_bins - 1) return {};
  std::vector<int> edges(static_cast<std::size_t>(covered) + 1);
  std::iota(edges.begin(), edges.end(), 0);
  edges.push_back(n_bins);
  return edges;
}

// [main-thread] Makes the model fit its activations on its lowest fit_bins bins only (a
// preset's fit_bins) and estimate every bin from them; a noise floor joins the fit on those
// bins. Only for sources without an encoder, adaptation, frames or layers; after add_floors.
inline void fit_lower_bins(Model& model, int fit_bins) {
  bool plain = !model.encoder && !model.banded();
  for (const SourceModel& source : model.sources) {
    plain = plain && !source.adaptive && source.n_frames == 1 && source.n_layers == 0;
  }
  if (!plain) {
    throw ParameterError("fit_bins (" + std::to_string(fit_bins) + ") needs sources without "
                         "layers, frames or adaptation, and no encoder");
  }
  if (fit_bins < 2 || fit_bins >= model.n_bins()) {
    throw ParameterError("fit_bins must be 2 to " + std::to_string(model.n_bins() - 1) +
                         ", got " + std::to_string(fit_bins));
  }
  std::vector<int> edges(static_cast<std::size_t>(fit_bins) + 1);
  std::iota(edges.begin(), edges.end(), 0);
  fit_on_bands(model, std::move(edges));
}

// [main-thread] Gives each source with a weight above 0 a noise floor column (floor.h); call
// before fit_on_bands. Not for adaptive or convolutive sources, nor with an encoder.
inline void add_floors(Model& model, const std::vector<float>& weights) {
  if (weights.size() != model.sources.size()) {
    throw ParameterError("floors needs one weight per source (" +
                         std::to_string(model.sources.size()) + "), got " +
                         std::to_string(weights.size()));
  }
  for (std::size_t s = 0; s < weights.size(); ++s) {
    const float weight = weights[s];
    if (!(weight >= 0.0f) || !std::isfinite(weight)) {
      throw ParameterError("a floor weight must be finite and >= 0, got " +
                           std::to_string(weight) + " for source " + std::to_string(s));
    }
    if (weight == 0.0f) continue;
    const SourceModel& source = model.sources[s];
    if (source.adaptive || source.n_frames > 1 || model.encoder || model.banded()) {
      throw ParameterError("a noise floor needs a source that neither adapts nor spans frames, "
                           "a model without an encoder, and to come before the bands; source " +
                           std::to_string(s) + " does not");
    }
    add_floor_column(model.sources[s], weight);
  }
}

// [main-thread] One source from W (blocks, F, K), A (Q, Q) and pi (Q,), row-major, into the
// engine's layout (the Python module's Model and the C++ preset reader both use it; they
// check the values first). blocks is Q, or the lags of a convolutive source (frames > 1),
// or layers + 1 of an unfolded one; those have one state.
inline SourceModel make_source_model(const float* W, int blocks, int f, int k,
                                     const float* A, const float* pi, int frames, int layers) {
  SourceModel source;
  source.n_states = frames > 1 || layers > 0 ? 1 : blocks;
  source.n_frames = frames;
  source.n_layers = layers;
  source.n_components = k;
  source.n_bins = f;
  source.n_rows = padded_rows(f);
  source.dictionaries.assign(static_cast<std::size_t>(blocks) * source.n_rows * k, 0.0f);
  source.column_sums.assign(static_cast<std::size_t>(blocks) * k, 0.0f);
  for (int block = 0; block < blocks; ++block) {
    for (int bin = 0; bin < f; ++bin) {
      for (int component = 0; component < k; ++component) {
        const float value = W[(static_cast<std::size_t>(block) * f + bin) * k + component];
        source.dictionaries[(static_cast<std::size_t>(block) * k + component) * source.n_rows +
                            bin] = value;
        source.column_sums[static_cast<std::size_t>(block) * k + component] += value;
      }
    }
  }
  source.tile();
  const int q = source.n_states;
  source.transitions.assign(A, A + static_cast<std::size_t>(q) * q);
  source.initial.assign(pi, pi + q);
  return source;
}

}  // namespace livesep
