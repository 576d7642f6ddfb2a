// The per-separator runtime of a Model (model.h): it filters frames with the model (and its
// companion's) and turns their estimates into masks.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "livesep/adapt.h"
#include "livesep/bands.h"
#include "livesep/encoder.h"
#include "livesep/errors.h"
#include "livesep/floor.h"
#include "livesep/model.h"
#include "livesep/nfhmm.h"
#include "livesep/smoothing.h"
#include "livesep/stft.h"

namespace livesep {

// What a separator needs to run a Model: the filter's state and per-frame buffers.
// Created and destroyed on the main thread; used on the audio thread only.
class ModelRuntime {
 public:
  // [main-thread] With `shared_floor`, the noise floor is that tracker's, which its owner
  // updates before each of this runtime's frames (a companion reads its model's).
  ModelRuntime(std::shared_ptr<const Model> model, float mask_power,
               const NoiseFloorTracker* shared_floor = nullptr)
      : model_(std::move(model)),
        shared_floor_(shared_floor),
        owner_floor_(shared_floor),
        mask_power_(mask_power) {
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
    // One tracker serves this model and its companion.
    floors_ = reads_floor(*model_) || (model_->companion && reads_floor(*model_->companion));
    if (floors_) {
      if (!shared_floor_) floor_.prepare(model_->n_bins(), kDefaultFramePeriod);
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

  ModelRuntime(const ModelRuntime&) = delete;  // a companion points at its owner's floor
  ModelRuntime& operator=(const ModelRuntime&) = delete;

  int n_sources() const noexcept { return model_->n_sources(); }
  int n_bins() const noexcept { return model_->n_bins(); }
  // [main-thread] The time between frames (hop / sample rate), which sets the noise floor's
  // and the mask smoothing's time constants; the separator sets it from its stream.
  void set_frame_period(double seconds) {
    frame_period_ = seconds;
    if (floors_ && !shared_floor_) floor_.set_frame_period(seconds);
    smoother_.set_frame_period(seconds);
    if (companion_) companion_->set_frame_period(seconds);
  }
  // [main-thread] Whether the frames come through the low-delay windows (stft.h). A model
  // with a recurrent encoder then reads the frame its masks act on, where the newest
  // milliseconds weigh most; dictionaries keep reading the symmetric frame they were
  // trained on. A companion that reads another frame than its owner tracks its own floor.
  void set_low_delay(bool low_delay) {
    reads_masked_frame_ = low_delay && model_->encoder != nullptr;
    if (!companion_) return;
    companion_->set_low_delay(low_delay);
    const bool same_frame = companion_->reads_masked_frame_ == reads_masked_frame_;
    companion_->shared_floor_ = same_frame ? companion_->owner_floor_ : nullptr;
    if (!same_frame && companion_->floors_) {
      companion_->floor_.prepare(companion_->n_bins(), companion_->frame_period_);
    }
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

  // [audio-thread] Filters the frame and updates masks (n_sources x n_bins): soft masks
  // M_s = Vhat_s^p / sum_j Vhat_j^p, an even split where every estimate is zero, then
  // smoothed over time when the model says so (smoothing.h). `fit_spectrum` is the frame
  // through the symmetric window, `masked_spectrum` the one the masks act on (the same
  // unless the windows are low-delay: set_low_delay).
  void process_frame(const Complex* fit_spectrum, const Complex* masked_spectrum) noexcept {
    const Complex* mixture = reads_masked_frame_ ? masked_spectrum : fit_spectrum;
    // sqrt(re^2 + im^2) vectorises; std::abs (hypotf) guards against overflow that cannot
    // happen for finite audio frames, at several times the cost.
    const int n_bins = this->n_bins();
    for (int f = 0; f < n_bins; ++f) {
      const float re = mixture[f].real(), im = mixture[f].imag();
      magnitudes_[f] = std::sqrt(re * re + im * im);
    }
    fit_frame(fit_spectrum, masked_spectrum);
  }

 private:
  // [audio-thread] process_frame on the frame's magnitudes, already in magnitudes_.
  void fit_frame(const Complex* fit_spectrum, const Complex* masked_spectrum) noexcept {
    const int n_bins = this->n_bins();
    const int n_sources = this->n_sources();
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
    if (companion_) mix_companion(fit_spectrum, masked_spectrum);
    smoother_.process(magnitudes_.data(), mask);
  }

  // [main-thread] The companion's runtime; it must separate the same sources from the same
  // frames, unsmoothed (the mixed masks are smoothed here), and have no companion itself. It
  // may cover the lower bins only (a companion at a lower rate, frames as long in seconds),
  // whose magnitudes it reads from this model's; above them the masks are this model's.
  void prepare_companion() {
    const Model& other = *model_->companion;
    const float share = model_->companion_share;
    if (!(share > 0.0f && share < 1.0f)) {
      throw ParameterError("a companion's share must be in (0, 1), got " + std::to_string(share));
    }
    if (other.n_sources() != n_sources() || other.n_bins() > n_bins() || other.companion ||
        other.mask_smoothing != 0.0) {
      throw ParameterError("a companion model must have this model's " +
                           std::to_string(n_sources()) + " sources, at most its " +
                           std::to_string(n_bins()) + " bins, no smoothing and no companion; "
                           "it has " + std::to_string(other.n_sources()) + " and " +
                           std::to_string(other.n_bins()));
    }
    companion_ = std::make_unique<ModelRuntime>(model_->companion, mask_power_, &floor_);
  }

  // [audio-thread] masks = (1 - share) masks + share companion's masks, this frame's, on the
  // bins the companion covers (whose magnitudes it takes from this model's when both read
  // the same frame).
  void mix_companion(const Complex* fit_spectrum, const Complex* masked_spectrum) noexcept {
    const int n_bins = this->n_bins(), covered = companion_->n_bins();
    if (companion_->reads_masked_frame_ == reads_masked_frame_) {
      std::copy(magnitudes_.begin(), magnitudes_.begin() + covered,
                companion_->magnitudes_.begin());
      companion_->fit_frame(fit_spectrum, masked_spectrum);
    } else {
      companion_->process_frame(fit_spectrum, masked_spectrum);
    }
    const float share = model_->companion_share;
    for (int s = 0; s < n_sources(); ++s) {
      const float* other = companion_->masks().data() + static_cast<std::size_t>(s) * covered;
      float* mask = masks_.data() + static_cast<std::size_t>(s) * n_bins;
      for (int f = 0; f < covered; ++f) mask[f] = (1.0f - share) * mask[f] + share * other[f];
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
    encoder_.encode(magnitudes_.data(), floor().power(), activations_.data());
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

  // [main-thread] Whether the model reads a noise floor: a source's floor column, or a
  // noise-aware encoder's features.
  static bool reads_floor(const Model& model) noexcept {
    bool reads = model.encoder && model.encoder->noise_aware;
    for (const SourceModel& source : model.sources) reads = reads || source.floor_weight > 0.0f;
    return reads;
  }

  const NoiseFloorTracker& floor() const noexcept {
    return shared_floor_ ? *shared_floor_ : floor_;
  }

  // [audio-thread] The noise floor under this frame, as the floor column of the sources that
  // have one (pooled into bands for a banded fit, full resolution for its estimates). A
  // silent frame leaves the floor as it was, and so the columns (zero until one sounds).
  void track_floor() noexcept {
    if (shared_floor_ ? !shared_floor_->started() : !floor_.update(magnitudes_.data())) return;
    for (std::size_t s = 0; s < sources_.size(); ++s) {
      const float weight = sources_[s].floor_weight;
      if (!(weight > 0.0f)) continue;
      floor().write_column(weight, fit_bins_, n_bins(), floor_column_.data());
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
  bool floors_ = false;                   // it or its companion reads the noise floor
  bool reads_masked_frame_ = false;       // fits the low-delay frame (set_low_delay)
  double frame_period_ = kDefaultFramePeriod;
  NoiseFloorTracker floor_;               // unused when shared_floor_ is given
  const NoiseFloorTracker* shared_floor_;  // the owner's, for a companion reading its frame
  const NoiseFloorTracker* owner_floor_;   // the owner's, for a companion
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
