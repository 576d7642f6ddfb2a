// A preset's models in the engine's layout (immutable, shareable between separators) and the
// per-separator runtime that filters frames with them and turns estimates into masks.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "livesep/adapt.h"
#include "livesep/bands.h"
#include "livesep/encoder.h"
#include "livesep/errors.h"
#include "livesep/floor.h"
#include "livesep/nfhmm.h"
#include "livesep/smoothing.h"
#include "livesep/stft.h"

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

// What a separator needs to run a Model: the filter's state and per-frame buffers.
// Created and destroyed on the main thread; used on the audio thread only.
class ModelRuntime {
 public:
  // [main-thread]
  ModelRuntime(std::shared_ptr<const Model> model, float mask_power)
      : model_(std::move(model)), mask_power_(mask_power) {
    if (!model_ || model_->sources.empty()) throw ParameterError("a model needs sources");
    if (mask_power_ != 1.0f && mask_power_ != 2.0f) {
      throw ParameterError("mask power must be 1 or 2, got " + std::to_string(mask_power_));
    }
    // A copy of the sources: adaptive ones change their dictionary as they listen.
    sources_ = model_->banded() ? model_->fit_sources : model_->sources;
    filter_.prepare(sources_, model_->settings);
    adapters_.resize(sources_.size());
    for (std::size_t s = 0; s < sources_.size(); ++s) {
      if (!sources_[s].adaptive) continue;
      if (sources_[s].n_states != 1) {
        throw ParameterError("an adaptive source must have one state, source " +
                             std::to_string(s) + " has " + std::to_string(sources_[s].n_states));
      }
      adapters_[s].prepare(sources_[s].n_rows, sources_[s].n_components,
                           model_->settings.forgetting, model_->settings.adaptation_prior);
    }
    const int n_bins = model_->n_bins();
    const int n_sources = model_->n_sources();
    if (model_->encoder) prepare_encoder();
    // A noise-aware encoder reads the floor as a source's floor column does.
    floors_ = model_->encoder && model_->encoder->noise_aware;
    for (const SourceModel& source : sources_) floors_ = floors_ || source.floor_weight > 0.0f;
    if (floors_) {
      floor_.prepare(model_->n_bins(), kDefaultFramePeriod);
      fit_bins_ = model_->fit_rows();
      floor_column_.assign(model_->sources.front().n_rows, 0.0f);
      if (model_->banded()) full_sources_ = model_->sources;
    }
    if (model_->banded()) {
      const std::size_t n_bands = model_->band_edges.size() - 1;
      band_magnitudes_.assign(n_bands, 0.0f);
      band_estimates_.assign(static_cast<std::size_t>(n_sources) * n_bands, 0.0f);
      padded_estimate_.assign(model_->sources.front().n_rows, 0.0f);
    }
    magnitudes_.assign(n_bins, 0.0f);
    estimates_.assign(static_cast<std::size_t>(n_sources) * n_bins, 0.0f);
    masks_.assign(static_cast<std::size_t>(n_sources) * n_bins, 1.0f / n_sources);
    totals_.assign(n_bins, 0.0f);
    smoother_.prepare(n_sources, n_bins, model_->mask_smoothing, kDefaultFramePeriod);
    if (model_->companion) prepare_companion();
    reset();
  }

  int n_sources() const noexcept { return model_->n_sources(); }
  int n_bins() const noexcept { return model_->n_bins(); }
  // [main-thread] The time between frames (hop / sample rate), which sets the noise floor's
  // and the mask smoothing's time constants; the separator sets it from its stream.
  void set_frame_period(double seconds) {
    if (floors_) floor_.set_frame_period(seconds);
    smoother_.set_frame_period(seconds);
    if (companion_) companion_->set_frame_period(seconds);
  }
  FactorialFilter& filter() noexcept { return filter_; }
  const FactorialFilter& filter() const noexcept { return filter_; }

  // [audio-thread] Iterations per fit and beam for the next frames; negative values restore
  // the model's own settings.
  void apply_quality(int n_iter, int beam) noexcept {
    const FilterSettings& defaults = model_->settings;
    filter_.set_iterations(n_iter >= 0 ? n_iter : defaults.activation.n_iter);
    filter_.set_beam(beam >= 0 ? beam : defaults.beam);
    if (companion_) companion_->apply_quality(n_iter, beam);
  }
  const std::vector<float>& masks() const noexcept { return masks_; }
  const std::vector<float>& magnitudes() const noexcept { return magnitudes_; }
  const std::vector<float>& estimates() const noexcept { return estimates_; }

  // [audio-thread]
  void reset() noexcept {
    for (std::size_t s = 0; s < sources_.size(); ++s) {
      if (!sources_[s].adaptive) continue;
      const SourceModel& trained = model_->sources[s];
      std::copy(trained.dictionaries.begin(), trained.dictionaries.end(),
                sources_[s].dictionaries.begin());
      sources_[s].retile(0);
      adapters_[s].reset(trained.dictionaries.data());
    }
    filter_.reset();
    floor_.reset();
    if (model_->encoder) encoder_.reset();
    smoother_.reset();
    std::fill(masks_.begin(), masks_.end(), 1.0f / n_sources());
    if (companion_) companion_->reset();
  }

  // [audio-thread] Filters the mixture frame and updates masks (n_sources x n_bins): soft
  // masks M_s = Vhat_s^p / sum_j Vhat_j^p, an even split where every estimate is zero, then
  // smoothed over time when the model says so (smoothing.h).
  void process_frame(const Complex* mixture) noexcept {
    const int n_bins = this->n_bins();
    const int n_sources = this->n_sources();
    // sqrt(re^2 + im^2) vectorises; std::abs (hypotf) guards against overflow that cannot
    // happen for finite audio frames, at several times the cost.
    for (int f = 0; f < n_bins; ++f) {
      const float re = mixture[f].real(), im = mixture[f].imag();
      magnitudes_[f] = std::sqrt(re * re + im * im);
    }
    if (floors_) track_floor();
    if (model_->encoder) {
      encode_frame();
    } else if (model_->banded()) {
      fit_bands();
    } else if (filter_.process_frame(magnitudes_.data(), estimates_.data())) {
      adapt();
    }
    // Source by source over the bins, so that every loop vectorises.
    const std::size_t n_values = static_cast<std::size_t>(n_sources) * n_bins;
    const float* estimate = estimates_.data();
    float* mask = masks_.data();
    float* total = totals_.data();
    if (mask_power_ == 2.0f) {
      for (std::size_t i = 0; i < n_values; ++i) mask[i] = estimate[i] * estimate[i];
    } else {
      std::copy(estimate, estimate + n_values, mask);
    }
    std::copy(mask, mask + n_bins, total);
    for (int s = 1; s < n_sources; ++s) {
      const float* source_mask = mask + static_cast<std::size_t>(s) * n_bins;
      for (int f = 0; f < n_bins; ++f) total[f] += source_mask[f];
    }
    const float even = 1.0f / static_cast<float>(n_sources);
    for (int s = 0; s < n_sources; ++s) {
      float* source_mask = mask + static_cast<std::size_t>(s) * n_bins;
      for (int f = 0; f < n_bins; ++f) {
        // Usable: above 1e-30 and finite (NaN fails both tests, infinity the second).
        const bool usable = total[f] > 1e-30f && total[f] <= std::numeric_limits<float>::max();
        source_mask[f] = usable ? source_mask[f] / total[f] : even;
      }
    }
    if (companion_) mix_companion(mixture);
    smoother_.process(magnitudes_.data(), mask);
  }

 private:
  // [main-thread] The companion's runtime; it must separate the same sources from the same
  // frames, unsmoothed (the mixed masks are smoothed here), and have no companion itself.
  void prepare_companion() {
    const Model& other = *model_->companion;
    const float share = model_->companion_share;
    if (!(share > 0.0f && share < 1.0f)) {
      throw ParameterError("a companion's share must be in (0, 1), got " + std::to_string(share));
    }
    if (other.n_sources() != n_sources() || other.n_bins() != n_bins() || other.companion ||
        other.mask_smoothing != 0.0) {
      throw ParameterError("a companion model must have this model's " +
                           std::to_string(n_sources()) + " sources and " +
                           std::to_string(n_bins()) + " bins, no smoothing and no companion; "
                           "it has " + std::to_string(other.n_sources()) + " and " +
                           std::to_string(other.n_bins()));
    }
    companion_ = std::make_unique<ModelRuntime>(model_->companion, mask_power_);
  }

  // [audio-thread] masks = (1 - share) masks + share companion's masks, this frame's.
  void mix_companion(const Complex* mixture) noexcept {
    companion_->process_frame(mixture);
    const float share = model_->companion_share;
    const float* other = companion_->masks().data();
    float* mask = masks_.data();
    for (std::size_t i = 0; i < masks_.size(); ++i) {
      mask[i] = (1.0f - share) * mask[i] + share * other[i];
    }
  }

  // [main-thread] Checks that the encoder's outputs are the sources' activations.
  void prepare_encoder() {
    const EncoderWeights& weights = *model_->encoder;
    encoder_.prepare(weights);
    if (weights.n_bins() != n_bins() || weights.n_sources() != n_sources()) {
      throw ParameterError("the encoder takes " + std::to_string(weights.n_bins()) +
                           " bins and has " + std::to_string(weights.n_sources()) +
                           " outputs, the sources have " + std::to_string(n_bins()) +
                           " bins and number " + std::to_string(n_sources()));
    }
    for (int s = 0; s < n_sources(); ++s) {
      const SourceModel& source = sources_[s];
      if (source.n_states != 1 || source.n_frames != 1 || source.n_layers != 0 ||
          source.adaptive || source.n_components != weights.n_components(s)) {
        throw ParameterError(
            "source " + std::to_string(s) + " has " + std::to_string(source.n_states) +
            " state(s), " + std::to_string(source.n_frames) + " frame(s), " +
            std::to_string(source.n_layers) + " layer(s) and " +
            std::to_string(source.n_components) + " components, the encoder gives it " +
            std::to_string(weights.n_components(s)) + ": with an encoder every source has one "
            "state, one frame, no layers, no adaptation and the encoder's components");
      }
    }
    activations_.assign(encoder_.total_components(), 0.0f);
    padded_estimate_.assign(sources_.front().n_rows, 0.0f);
  }

  // [audio-thread] The encoder's activations through each source's dictionary.
  void encode_frame() noexcept {
    encoder_.encode(magnitudes_.data(), floor_.power(), activations_.data());
    const float* h = activations_.data();
    const int n_bins = this->n_bins();
    for (int s = 0; s < n_sources(); ++s) {
      const SourceModel& source = sources_[s];
      std::fill(padded_estimate_.begin(), padded_estimate_.end(), 0.0f);
      multiply_add_tiled(source.tiled_dictionary(0), source.n_rows, source.n_components, h,
                         padded_estimate_.data());
      std::copy(padded_estimate_.begin(), padded_estimate_.begin() + n_bins,
                estimates_.begin() + static_cast<std::ptrdiff_t>(s) * n_bins);
      h += source.n_components;
    }
  }

  // [audio-thread] The filter on the frame's bands; the estimates at full resolution.
  void fit_bands() noexcept {
    pool_bands(magnitudes_.data(), model_->band_edges, band_magnitudes_.data());
    const bool heard = filter_.process_frame(band_magnitudes_.data(), band_estimates_.data());
    const int n_bins = this->n_bins();
    for (int s = 0; s < n_sources(); ++s) {
      float* estimate = estimates_.data() + static_cast<std::size_t>(s) * n_bins;
      if (heard) {
        full_estimate(floors_ ? full_sources_[s] : model_->sources[s],
                      filter_.weighted_activations(s), filter_.mass(),
                      padded_estimate_.data(), estimate);
      } else {
        std::fill(estimate, estimate + n_bins, 0.0f);
      }
    }
  }

  // [audio-thread] The noise floor under this frame, as the floor column of the sources that
  // have one (pooled into bands for a banded fit, full resolution for its estimates).
  void track_floor() noexcept {
    if (!floor_.update(magnitudes_.data())) return;
    for (std::size_t s = 0; s < sources_.size(); ++s) {
      const float weight = sources_[s].floor_weight;
      if (!(weight > 0.0f)) continue;
      floor_.write_column(weight, fit_bins_, floor_column_.data());
      if (model_->banded()) {
        write_floor_column(full_sources_[s], floor_column_.data(), fit_bins_);
        std::fill(floor_column_.begin() + fit_bins_, floor_column_.begin() + n_bins(), 0.0f);
        pool_bands(floor_column_.data(), model_->band_edges, floor_column_.data());
        write_floor_column(sources_[s], floor_column_.data(), sources_[s].n_bins);
      } else {
        write_floor_column(sources_[s], floor_column_.data(), fit_bins_);
      }
    }
  }

  // [audio-thread] Adaptive sources learn from the frame just explained.
  void adapt() noexcept {
    for (std::size_t s = 0; s < sources_.size(); ++s) {
      if (!sources_[s].adaptive) continue;
      adapters_[s].update(sources_[s].dictionaries.data(), filter_.frame(),
                          filter_.reconstruction(),
                          filter_.weighted_activations(static_cast<int>(s)).data());
      sources_[s].retile(0);
    }
  }

  // Until the separator says otherwise: a 128-sample hop at 16 kHz.
  static constexpr double kDefaultFramePeriod = 0.008;

  std::shared_ptr<const Model> model_;
  std::vector<SourceModel> sources_;
  bool floors_ = false;                   // a source has a noise floor column
  NoiseFloorTracker floor_;
  int fit_bins_ = 0;                      // the bins the fit covers (fitted_bins)
  AlignedFloats floor_column_;            // full.n_rows: a source's column (pooled in place)
  std::vector<SourceModel> full_sources_;  // banded with floors: the estimates' own copy
  std::vector<DictionaryAdapter> adapters_;
  float mask_power_;
  FactorialFilter filter_;
  std::vector<float> magnitudes_;
  std::vector<float> estimates_;
  std::vector<float> masks_;
  MaskSmoother smoother_;
  std::vector<float> totals_;  // per bin: the sum of the sources' mask numerators
  EncoderState encoder_;
  std::vector<float> activations_;   // the encoder's output, the sources' side by side
  AlignedFloats padded_estimate_;    // one source's estimate, padded for the kernel
  std::vector<float> band_magnitudes_;  // a banded fit's frame
  std::vector<float> band_estimates_;   // a banded fit's estimates (unused but by the filter)
  std::unique_ptr<ModelRuntime> companion_;  // the companion model's runtime, if any
};

}  // namespace livesep
