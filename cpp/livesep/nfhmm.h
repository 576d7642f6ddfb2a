// Online (causal) filtering of the N-FHMM: S sources, each an N-HMM whose state q owns a
// dictionary W_s[q] (F x K_s). For each frame v and each evaluated joint state
// c = (q_1..q_S), activations h_c fit v with [W_1[q_1] ... W_S[q_S]] (warm-started from the
// last fit of that joint state), then
//   pred(c)  = sum_c' alpha_{t-1}(c') prod_s A_s(q'_s, q_s)       (prior: prod_s pi_s)
//   l(c)     = counts * sum_f vbar_f log((D_c h_c)_f / sum_f' (D_c h_c)_f')
//   alpha(c) ∝ pred(c) exp(l(c))   over the evaluated states, zero elsewhere,
// with vbar = v / sum(v): the frame's spectral shape scored as `counts` multinomial draws
// (the likelihood scale gamma = counts / sum(v)). Exact mode evaluates every joint state;
// beam mode the B most probable predicted ones. Source s's estimate is
//   Vhat_s = sum_c alpha(c) W_s[q_s] h_{c,s}   (in the units of v).
// A convolutive (NMFD) source has one state and dictionaries W_s^l for lags l < tau: its
// past tau - 1 frames' posterior-weighted activations are held fixed, and their
// contribution P_s = sum_{l>=1} W_s^l h_s(t - l) is a fixed part of every fit and estimate.
// Unfolded sources (deep NMF, Le Roux, Hershey & Weninger 2015; all of a model's sources or
// none, one state each) have L + 1 dictionaries: update l of the fit uses W_s^l, from flat
// activations every frame, and the estimate uses W_s^L; they were trained together, through
// these very updates, on mixtures.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/nmf.h"
#include "livesep/source_model.h"

namespace livesep {

class FactorialFilter {
 public:
  static constexpr int kMaxSources = DictionaryBlocks::kMaxBlocks;
  static constexpr std::int64_t kMaxJointStates = 1 << 20;

  // [main-thread] Checks the models and allocates every buffer for them.
  void prepare(const std::vector<SourceModel>& sources, const FilterSettings& settings) {
    if (sources.empty() || static_cast<int>(sources.size()) > kMaxSources) {
      throw ParameterError("the number of sources must be in [1, " + std::to_string(kMaxSources) +
                           "], got " + std::to_string(sources.size()));
    }
    const int n_bins = sources.front().n_bins;
    std::int64_t n_joint = 1;
    int total_components = 0;
    for (const SourceModel& source : sources) {
      if (source.n_bins != n_bins) {
        throw ParameterError("every source must have the same number of frequency bins (" +
                             std::to_string(n_bins) + "), got " + std::to_string(source.n_bins));
      }
      n_joint *= source.n_states;
      total_components += source.n_components;
      if (n_joint > kMaxJointStates) {
        throw ParameterError("too many joint states (more than " +
                             std::to_string(kMaxJointStates) + ")");
      }
    }
    if (settings.activation.n_iter < 0 || settings.beam < 0 || !(settings.likelihood_counts > 0)) {
      throw ParameterError("iterations and beam must be >= 0 and likelihood counts > 0");
    }
    sources_ = &sources;
    settings_ = settings;
    n_sources_ = static_cast<int>(sources.size());
    n_bins_ = n_bins;
    n_joint_ = static_cast<int>(n_joint);
    total_components_ = total_components;
    strides_.assign(n_sources_, 1);
    for (int s = n_sources_ - 2; s >= 0; --s) {
      strides_[s] = strides_[s + 1] * sources[s + 1].n_states;
    }
    alpha_.assign(n_joint_, 0.0f);
    predicted_.assign(n_joint_, 0.0f);
    swap_.assign(n_joint_, 0.0f);
    log_posterior_.assign(n_joint_, 0.0f);
    evaluated_.assign(n_joint_, 0);
    selection_.assign(n_joint_, 0.0f);
    activation_table_.assign(static_cast<std::size_t>(n_joint_) * total_components_, 0.0f);
    n_rows_ = padded_rows(n_bins_);
    frame_.setZero(n_rows_);
    estimate_.setZero(n_rows_);
    reconstruction_.setZero(n_rows_);
    scratch_.resize(n_rows_, total_components_);
    column_sums_.setZero(total_components_);
    weighted_.clear();
    marginals_.clear();
    history_.clear();
    past_.clear();
    convolutive_ = false;
    layers_ = sources.front().n_layers;
    for (const SourceModel& source : sources) {
      if (source.n_frames > 1 && source.n_states != 1) {
        throw ParameterError("a convolutive source must have one state, got " +
                             std::to_string(source.n_states));
      }
      if (source.n_layers != layers_) {
        throw ParameterError("unfolded sources come all together, with the same number of "
                             "layers; got layers " + std::to_string(source.n_layers) +
                             " beside " + std::to_string(layers_));
      }
      if (layers_ > 0 && (source.n_states != 1 || source.n_frames != 1 || source.adaptive)) {
        throw ParameterError("an unfolded source has one state, one frame and no adaptation; "
                             "got " + std::to_string(source.n_states) + " state(s), " +
                             std::to_string(source.n_frames) + " frame(s)" +
                             (source.adaptive ? ", adaptive" : ""));
      }
      convolutive_ = convolutive_ || source.n_frames > 1;
      weighted_.emplace_back(
          VectorF::Zero(static_cast<Eigen::Index>(source.n_states) * source.n_components));
      marginals_.emplace_back(VectorF::Zero(source.n_states));
      history_.emplace_back(MatrixF::Zero(source.n_components, source.n_frames - 1));
      past_.emplace_back(VectorF::Zero(n_rows_));
    }
    offset_.setZero(n_rows_);
    layer_activation_ = settings.activation;
    layer_activation_.n_iter = 1;
    reset();
  }

  // [audio-thread] Forget the past: the next frame starts from the initial distributions.
  void reset() noexcept {
    for (MatrixF& history : history_) history.setZero();
    frames_seen_ = 0;
    std::fill(alpha_.begin(), alpha_.end(), 0.0f);
    const float start = 1.0f / static_cast<float>(total_components_);
    std::fill(activation_table_.begin(), activation_table_.end(), start);
    first_frame_ = true;
  }

  // [audio-thread] Evaluate this many joint states per frame from now on (0: all).
  void set_beam(int beam) noexcept { settings_.beam = std::max(0, beam); }
  void set_iterations(int n_iter) noexcept { settings_.activation.n_iter = std::max(0, n_iter); }
  const FilterSettings& settings() const noexcept { return settings_; }

  int n_sources() const noexcept { return n_sources_; }
  int n_joint_states() const noexcept { return n_joint_; }
  int n_evaluated() const noexcept { return n_evaluated_; }
  // Joint posterior alpha_t (row-major over (q_1..q_S)) and per-source state marginals.
  const std::vector<float>& posterior() const noexcept { return alpha_; }
  const VectorF& marginal(int source) const noexcept { return marginals_[source]; }
  // After a non-silent frame: the frame scaled to sum to one, the model's reconstruction of
  // it (all sources, posterior-mixed, same scale), and a source's posterior-weighted
  // activations per state (n_states x n_components).
  const VectorF& frame() const noexcept { return frame_; }
  const VectorF& reconstruction() const noexcept { return reconstruction_; }
  const VectorF& weighted_activations(int source) const noexcept { return weighted_[source]; }
  // The last frame's sum, the unit of its estimates.
  float mass() const noexcept { return mass_; }

  // [audio-thread] Filters one frame of magnitudes v (n_bins) and writes each source's
  // estimate into estimates (n_sources x n_bins, row-major). Returns false for a silent
  // frame, whose estimates are zero and whose states only follow the dynamics.
  bool process_frame(const float* v, float* estimates) noexcept {
    predict();
    frame_.head(n_bins_) = ConstVectorMap(v, n_bins_);
    const float mass = frame_.sum();
    mass_ = mass;
    if (!(mass > 1e-20f) || !std::isfinite(mass)) {
      std::copy(predicted_.begin(), predicted_.end(), alpha_.begin());
      std::fill(estimates, estimates + static_cast<std::size_t>(n_sources_) * n_bins_, 0.0f);
      update_marginals();
      push_history(0.0f);
      return false;
    }
    frame_ /= mass;
    if (convolutive_) compute_past(mass);
    const int n_selected = select_states();
    float best = -std::numeric_limits<float>::infinity();
    // A single candidate takes the whole posterior whatever it scores: it is fitted unscored.
    const bool scored = n_selected > 1;
    for (int i = 0; i < n_selected; ++i) {
      const int joint = evaluated_[i];
      const float score = std::log(predicted_[joint]) + fit_state(joint, scored);
      log_posterior_[i] = std::isfinite(score) ? score : -std::numeric_limits<float>::infinity();
      best = std::max(best, log_posterior_[i]);
    }
    std::fill(alpha_.begin(), alpha_.end(), 0.0f);
    if (!std::isfinite(best)) {
      // No evaluated state explains the frame (cannot happen with finite input): keep the
      // prediction rather than lose track.
      std::copy(predicted_.begin(), predicted_.end(), alpha_.begin());
    } else {
      double total = 0.0;
      for (int i = 0; i < n_selected; ++i) total += std::exp(double(log_posterior_[i] - best));
      for (int i = 0; i < n_selected; ++i) {
        alpha_[evaluated_[i]] = static_cast<float>(std::exp(double(log_posterior_[i] - best)) / total);
      }
    }
    write_estimates(n_selected, mass, estimates);
    update_marginals();
    push_history(mass);
    return true;
  }

 private:
  // Column of history_ holding the activations of `lag` frames ago (1 <= lag < tau): frame
  // number n lives in column n mod (tau - 1).
  int history_column(const SourceModel& source, int lag) const noexcept {
    const std::uint64_t length = static_cast<std::uint64_t>(source.n_frames - 1);
    return static_cast<int>((frames_seen_ + length - static_cast<std::uint64_t>(lag)) % length);
  }

  // The convolutive sources' fixed past contributions to this frame, in its unit-sum scale.
  void compute_past(float mass) noexcept {
    const std::vector<SourceModel>& sources = *sources_;
    offset_.setZero();
    for (int s = 0; s < n_sources_; ++s) {
      const SourceModel& source = sources[s];
      if (source.n_frames < 2) continue;
      past_[s].setZero();
      for (int lag = 1; lag < source.n_frames; ++lag) {
        past_[s].noalias() += ConstMatrixMap(source.dictionary(lag), n_rows_,
                                             source.n_components) *
                              history_[s].col(history_column(source, lag));
      }
      past_[s] /= mass;
      offset_ += past_[s];
    }
  }

  // Remembers this frame's posterior-weighted activations of convolutive sources, in the
  // units of v (scaled by the frame's mass; zero for a silent frame).
  void push_history(float mass) noexcept {
    if (!convolutive_) return;
    const std::vector<SourceModel>& sources = *sources_;
    for (int s = 0; s < n_sources_; ++s) {
      const SourceModel& source = sources[s];
      if (source.n_frames < 2) continue;
      const auto column = static_cast<int>(frames_seen_ % static_cast<std::uint64_t>(
                                                             source.n_frames - 1));
      history_[s].col(column) = weighted_[s] * mass;
    }
    ++frames_seen_;
  }

  int state_of(int joint, int source) const noexcept {
    return (joint / strides_[source]) % (*sources_)[source].n_states;
  }

  // pred = alpha_{t-1} multiplied by A_s along each source's axis (or the prior).
  void predict() noexcept {
    const std::vector<SourceModel>& sources = *sources_;
    if (first_frame_) {
      for (int joint = 0; joint < n_joint_; ++joint) {
        float p = 1.0f;
        for (int s = 0; s < n_sources_; ++s) p *= sources[s].initial[state_of(joint, s)];
        predicted_[joint] = p;
      }
      first_frame_ = false;
      return;
    }
    using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    std::copy(alpha_.begin(), alpha_.end(), predicted_.begin());
    for (int s = 0; s < n_sources_; ++s) {
      // Along source s the joint index is (outer, state, inner) with inner of size stride:
      // each outer slice is an inner x states matrix (column-major) times A_s.
      const int q = sources[s].n_states;
      const int stride = strides_[s];
      const int outer = n_joint_ / (q * stride);
      const Eigen::Map<const RowMajorF> A(sources[s].transitions.data(), q, q);
      if (stride == 1) {
        Eigen::Map<RowMajorF>(swap_.data(), outer, q).noalias() =
            Eigen::Map<const RowMajorF>(predicted_.data(), outer, q) * A;
      } else {
        for (int r = 0; r < outer; ++r) {
          const std::size_t base = static_cast<std::size_t>(r) * q * stride;
          Eigen::Map<MatrixF>(swap_.data() + base, stride, q).noalias() =
              Eigen::Map<const MatrixF>(predicted_.data() + base, stride, q) * A;
        }
      }
      predicted_.swap(swap_);
    }
  }

  // Fills evaluated_ with the joint states to fit this frame, in index order; returns how
  // many. The beam keeps the `beam` largest predictions; ties at the last place go to the
  // lower joint indices, so the beam is the same on every platform and in the numpy
  // reference.
  int select_states() noexcept {
    int n = 0;
    for (int joint = 0; joint < n_joint_; ++joint) {
      if (predicted_[joint] > 0.0f) selection_[n++] = predicted_[joint];
    }
    const int beam = settings_.beam;
    float threshold = 0.0f;
    int ties = 0;  // how many predictions equal to the threshold are still taken
    if (beam > 0 && beam < n) {
      std::nth_element(selection_.begin(), selection_.begin() + (beam - 1),
                       selection_.begin() + n, std::greater<float>());
      threshold = selection_[beam - 1];
      int above = 0;
      for (int joint = 0; joint < n_joint_; ++joint) above += predicted_[joint] > threshold;
      ties = beam - above;
    } else {
      ties = n_joint_;  // every positive prediction
    }
    n = 0;
    for (int joint = 0; joint < n_joint_; ++joint) {
      const float p = predicted_[joint];
      if (p > threshold || (p == threshold && p > 0.0f && ties-- > 0)) evaluated_[n++] = joint;
    }
    n_evaluated_ = n;
    return n;
  }

  // Fits the frame with joint state `joint`'s dictionary; returns its log-likelihood if
  // `scored`, else 0.
  float fit_state(int joint, bool scored) noexcept {
    const std::vector<SourceModel>& sources = *sources_;
    DictionaryBlocks dictionary;
    dictionary.n_blocks = n_sources_;
    dictionary.n_rows = n_rows_;
    int offset = 0;
    for (int s = 0; s < n_sources_; ++s) {
      const int q = state_of(joint, s);
      const int k = sources[s].n_components;
      dictionary.data[s] = sources[s].dictionary(q);
      dictionary.tiled[s] = sources[s].tiled_dictionary(q);
      dictionary.n_components[s] = k;
      column_sums_.segment(offset, k) =
          ConstVectorMap(sources[s].column_sums.data() + static_cast<std::size_t>(q) * k, k);
      offset += k;
    }
    float* h = activation_table_.data() + static_cast<std::size_t>(joint) * total_components_;
    VectorMap activations(h, total_components_);
    if (layers_ > 0) return fit_unfolded(h);
    const float floor = settings_.reseed_floor / static_cast<float>(total_components_);
    activations = activations.cwiseMax(floor);
    const VectorF* past = convolutive_ ? &offset_ : nullptr;
    update_activations(dictionary, column_sums_.data(), frame_, h, settings_.activation,
                       scratch_, past);
    if (!scored) return 0.0f;
    activation_model(dictionary, h, settings_.activation, scratch_, past);
    // The padding rows hold only epsilon: leave them out of the model's total.
    const float model_mass = scratch_.model.head(n_bins_).sum();
    const float shape_log_likelihood =
        frame_.dot(scratch_.model.array().log().matrix()) - std::log(model_mass);
    return settings_.likelihood_counts * shape_log_likelihood;
  }

  // The fit of unfolded sources (their only joint state, unscored): flat activations, then
  // one update with each layer's dictionaries.
  float fit_unfolded(float* h) noexcept {
    const std::vector<SourceModel>& sources = *sources_;
    VectorMap(h, total_components_).setConstant(1.0f / static_cast<float>(total_components_));
    for (int layer = 0; layer < layers_; ++layer) {
      DictionaryBlocks dictionary;
      dictionary.n_blocks = n_sources_;
      dictionary.n_rows = n_rows_;
      int offset = 0;
      for (int s = 0; s < n_sources_; ++s) {
        const int k = sources[s].n_components;
        dictionary.data[s] = sources[s].dictionary(layer);
        dictionary.tiled[s] = sources[s].tiled_dictionary(layer);
        dictionary.n_components[s] = k;
        column_sums_.segment(offset, k) = ConstVectorMap(
            sources[s].column_sums.data() + static_cast<std::size_t>(layer) * k, k);
        offset += k;
      }
      update_activations(dictionary, column_sums_.data(), frame_, h, layer_activation_,
                         scratch_, nullptr);
    }
    return 0.0f;
  }

  void write_estimates(int n_selected, float mass, float* estimates) noexcept {
    const std::vector<SourceModel>& sources = *sources_;
    for (VectorF& weighted : weighted_) weighted.setZero();
    for (int i = 0; i < n_selected; ++i) {
      const int joint = evaluated_[i];
      const float weight = alpha_[joint];
      if (weight == 0.0f) continue;
      const float* h = activation_table_.data() + static_cast<std::size_t>(joint) * total_components_;
      int offset = 0;
      for (int s = 0; s < n_sources_; ++s) {
        const int k = sources[s].n_components;
        weighted_[s].segment(static_cast<Eigen::Index>(state_of(joint, s)) * k, k) +=
            weight * ConstVectorMap(h + offset, k);
        offset += k;
      }
    }
    reconstruction_.setZero();
    for (int s = 0; s < n_sources_; ++s) {
      const SourceModel& source = sources[s];
      estimate_.setZero();
      for (int q = 0; q < source.n_states; ++q) {
        auto weights = weighted_[s].segment(static_cast<Eigen::Index>(q) * source.n_components,
                                            source.n_components);
        if (weights.isZero(0.0f)) continue;
        // An unfolded source's estimate uses its last dictionary, trained for it.
        multiply_add_tiled(source.tiled_dictionary(layers_ > 0 ? layers_ : q), n_rows_,
                           source.n_components, weights.data(), estimate_.data());
      }
      if (source.n_frames > 1) estimate_ += past_[s];
      reconstruction_ += estimate_;
      VectorMap(estimates + static_cast<std::size_t>(s) * n_bins_, n_bins_) =
          estimate_.head(n_bins_) * mass;
    }
  }

  void update_marginals() noexcept {
    for (int s = 0; s < n_sources_; ++s) marginals_[s].setZero();
    for (int joint = 0; joint < n_joint_; ++joint) {
      const float p = alpha_[joint];
      if (p == 0.0f) continue;
      for (int s = 0; s < n_sources_; ++s) marginals_[s][state_of(joint, s)] += p;
    }
  }

  const std::vector<SourceModel>* sources_ = nullptr;
  FilterSettings settings_;
  int n_sources_ = 0;
  int n_bins_ = 0;
  int n_rows_ = 0;
  int n_joint_ = 0;
  int total_components_ = 0;
  int n_evaluated_ = 0;
  bool first_frame_ = true;
  std::vector<int> strides_;
  std::vector<float> alpha_;          // posterior of the last frame, n_joint
  std::vector<float> predicted_;      // prediction for this frame, n_joint
  std::vector<float> swap_;           // mode-product buffer, n_joint
  std::vector<float> log_posterior_;  // per evaluated state
  std::vector<int> evaluated_;        // joint indices evaluated this frame
  std::vector<float> selection_;      // the positive predictions, for choosing the beam
  std::vector<float> activation_table_;  // n_joint x total_components warm starts
  VectorF frame_;                     // v / sum(v), padded
  VectorF estimate_;                  // one source's estimate, padded
  VectorF reconstruction_;            // all sources' estimates of frame_, padded
  VectorF column_sums_;               // the current joint state's column sums
  ActivationScratch scratch_;
  std::vector<VectorF> weighted_;     // per source: alpha-weighted activations per state
  bool convolutive_ = false;          // some source has lagged dictionaries
  int layers_ = 0;                    // the sources' unfolded updates (0: ordinary sources)
  ActivationSettings layer_activation_;  // the activation settings with one update
  std::vector<MatrixF> history_;      // per source: K x (tau - 1) past activations, a ring
  std::uint64_t frames_seen_ = 0;     // frames filtered since the last reset
  std::vector<VectorF> past_;         // per source: this frame's fixed past contribution
  VectorF offset_;                    // sum of past_, the fixed part of every fit
  std::vector<VectorF> marginals_;    // per source: state posterior marginals
  float mass_ = 0.0f;                 // the last frame's sum
};

}  // namespace livesep
