// The encoder of a recurrent non-negative autoencoder (Smaragdis & Venkataramani, "A neural
// network alternative to non-negative audio models", ICASSP 2017, its recurrent variant),
// trained on mixtures: for each frame of mixture magnitudes m (F bins),
//   x    = log(m^2 + kFeatureFloor)                          features
// or, for a noise-aware encoder, 2F features from m and the stream's noise floor N (floor.h,
// power per bin; zero before any sound), with r = mean(N) + 1e-20 and log10:
//   x_f     = clip(log10((m_f^2 + 1e-20) / (N_f + 1e-20 + 1e-6 r)), -3, 6)   a posteriori SNR
//   x_{F+f} = clip(log10((m_f^2 + 1e-20) / r), -6, 6)                        level over the floor
//   z    = tanh(W_in x + b_in)                               H
//   g    = GRU_L(...GRU_1(z))                                H, each with its own state
//   h_s  = scale_s * softplus(W_s g + b_s)                   K_s per source, non-negative
// where each GRU layer follows PyTorch's equations and gate order (reset, update, new):
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  u = sigmoid(W_iu x + b_iu + W_hu h + b_hu)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - u) * n + u * h.
// The sources' estimates are then their non-negative dictionaries times h_s (the decoder),
// and the masks come from those estimates as for every other model.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <string>
#include <vector>

#include "livesep/errors.h"

namespace livesep {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The trained weights, immutable once built on the main thread.
struct EncoderWeights {
  static constexpr float kFeatureFloor = 1e-10f;

  // Features of the frame against the noise floor (2F inputs) instead of its log power (F).
  bool noise_aware = false;

  RowMatrixF input_weights;              // H x F
  Eigen::VectorXf input_bias;            // H
  std::vector<RowMatrixF> gate_inputs;   // per layer 3H x H: reset, update, new
  std::vector<RowMatrixF> gate_hiddens;  // per layer 3H x H
  std::vector<Eigen::VectorXf> gate_input_biases;   // per layer 3H
  std::vector<Eigen::VectorXf> gate_hidden_biases;  // per layer 3H
  std::vector<RowMatrixF> output_weights;           // per source K_s x H
  std::vector<Eigen::VectorXf> output_biases;       // per source K_s
  std::vector<Eigen::VectorXf> output_scales;       // per source K_s, > 0

  int n_inputs() const noexcept { return static_cast<int>(input_weights.cols()); }
  int n_bins() const noexcept { return noise_aware ? n_inputs() / 2 : n_inputs(); }
  int n_hidden() const noexcept { return static_cast<int>(input_weights.rows()); }
  int n_layers() const noexcept { return static_cast<int>(gate_inputs.size()); }
  int n_sources() const noexcept { return static_cast<int>(output_weights.size()); }
  int n_components(int source) const noexcept {
    return static_cast<int>(output_weights[source].rows());
  }

  // [main-thread] Throws ParameterError unless every shape agrees and every value is finite.
  void check() const {
    const Eigen::Index h = n_hidden();
    const auto fail = [](const std::string& what) {
      throw ParameterError("encoder: " + what);
    };
    if (h < 1 || n_bins() < 2 || (noise_aware && n_inputs() % 2 != 0)) {
      fail("the input layer must be (hidden >= 1, bins >= 2), twice the bins when noise-aware");
    }
    if (input_bias.size() != h) fail("the input bias must have one value per hidden unit");
    if (n_layers() < 1) fail("at least one recurrent layer is needed");
    if (gate_hiddens.size() != gate_inputs.size() || gate_input_biases.size() != gate_inputs.size() ||
        gate_hidden_biases.size() != gate_inputs.size()) {
      fail("every recurrent layer needs input and hidden weights and biases");
    }
    for (int layer = 0; layer < n_layers(); ++layer) {
      if (gate_inputs[layer].rows() != 3 * h || gate_inputs[layer].cols() != h ||
          gate_hiddens[layer].rows() != 3 * h || gate_hiddens[layer].cols() != h ||
          gate_input_biases[layer].size() != 3 * h || gate_hidden_biases[layer].size() != 3 * h) {
        fail("recurrent layer " + std::to_string(layer) + " must have (3H, H) weights and (3H,) "
             "biases with H = " + std::to_string(h));
      }
    }
    if (n_sources() < 1 || output_biases.size() != output_weights.size() ||
        output_scales.size() != output_weights.size()) {
      fail("every source needs output weights, a bias and a scale");
    }
    bool finite = input_weights.allFinite() && input_bias.allFinite();
    for (int layer = 0; layer < n_layers(); ++layer) {
      finite = finite && gate_inputs[layer].allFinite() && gate_hiddens[layer].allFinite() &&
               gate_input_biases[layer].allFinite() && gate_hidden_biases[layer].allFinite();
    }
    for (int s = 0; s < n_sources(); ++s) {
      const Eigen::Index k = output_weights[s].rows();
      if (k < 1 || output_weights[s].cols() != h || output_biases[s].size() != k ||
          output_scales[s].size() != k) {
        fail("source " + std::to_string(s) + "'s output must be (K, H) with K >= 1 and "
             "(K,) bias and scale");
      }
      finite = finite && output_weights[s].allFinite() && output_biases[s].allFinite() &&
               output_scales[s].allFinite() && (output_scales[s].array() > 0.0f).all();
    }
    if (!finite) fail("the weights hold a non-finite value or a scale <= 0");
  }
};

// An encoder's running state: the recurrent layers' hidden vectors and per-frame scratch.
// Prepared on the main thread; used on the audio thread only, allocation-free.
class EncoderState {
 public:
  // [main-thread]
  void prepare(const EncoderWeights& weights) {
    weights.check();
    weights_ = &weights;
    const Eigen::Index h = weights.n_hidden();
    features_.setZero(weights.n_inputs());
    power_.setZero(weights.n_bins());
    layer_input_.setZero(h);
    gates_input_.setZero(3 * h);
    gates_hidden_.setZero(3 * h);
    hidden_.assign(weights.n_layers(), Eigen::VectorXf::Zero(h));
    int total = 0;
    for (int s = 0; s < weights.n_sources(); ++s) total += weights.n_components(s);
    total_components_ = total;
    reset();
  }

  int total_components() const noexcept { return total_components_; }

  // [audio-thread] Back to silence before the first frame: zero hidden states.
  void reset() noexcept {
    for (Eigen::VectorXf& hidden : hidden_) hidden.setZero();
  }

  // [audio-thread] Encodes one frame of magnitudes (n_bins) into the sources' activations,
  // side by side (total_components floats); a noise-aware encoder reads the noise floor's
  // power (n_bins) too.
  void encode(const float* magnitudes, const float* floor, float* activations) noexcept {
    const EncoderWeights& w = *weights_;
    const Eigen::Index h = w.n_hidden();
    const int n_bins = w.n_bins();
    const Eigen::Map<const Eigen::VectorXf> m(magnitudes, n_bins);
    // Capped so that absurd input (huge but finite samples) cannot reach inf - inf = NaN,
    // which the recurrent state would keep.
    if (w.noise_aware) {
      const Eigen::Map<const Eigen::ArrayXf> noise(floor, n_bins);
      const float level = noise.mean() + 1e-20f;
      power_ = m.array().square().min(1e30f) + 1e-20f;
      features_.head(n_bins) =
          (power_ / (noise + (1e-20f + 1e-6f * level))).log10().min(6.0f).max(-3.0f).matrix();
      features_.tail(n_bins) = (power_ / level).log10().min(6.0f).max(-6.0f).matrix();
    } else {
      features_ = (m.array().square().min(1e30f) + EncoderWeights::kFeatureFloor).log().matrix();
    }
    layer_input_.noalias() = w.input_weights * features_;
    layer_input_ = (layer_input_ + w.input_bias).array().tanh().matrix();
    for (int layer = 0; layer < w.n_layers(); ++layer) {
      Eigen::VectorXf& state = hidden_[layer];
      gates_input_.noalias() = w.gate_inputs[layer] * layer_input_;
      gates_input_ += w.gate_input_biases[layer];
      gates_hidden_.noalias() = w.gate_hiddens[layer] * state;
      gates_hidden_ += w.gate_hidden_biases[layer];
      for (Eigen::Index i = 0; i < h; ++i) {
        const float reset = sigmoid(gates_input_[i] + gates_hidden_[i]);
        const float update = sigmoid(gates_input_[h + i] + gates_hidden_[h + i]);
        const float fresh = std::tanh(gates_input_[2 * h + i] + reset * gates_hidden_[2 * h + i]);
        state[i] = (1.0f - update) * fresh + update * state[i];
      }
      layer_input_ = state;
    }
    float* out = activations;
    for (int s = 0; s < w.n_sources(); ++s) {
      const Eigen::Index k = w.n_components(s);
      Eigen::Map<Eigen::VectorXf> source(out, k);
      source.noalias() = w.output_weights[s] * layer_input_;
      for (Eigen::Index i = 0; i < k; ++i) {
        source[i] = w.output_scales[s][i] * softplus(source[i] + w.output_biases[s][i]);
      }
      out += k;
    }
  }

 private:
  static float sigmoid(float x) noexcept { return 1.0f / (1.0f + std::exp(-x)); }
  // log(1 + e^x) without overflow for large x.
  static float softplus(float x) noexcept {
    return x > 20.0f ? x : std::log1p(std::exp(x));
  }

  const EncoderWeights* weights_ = nullptr;
  Eigen::VectorXf features_;
  Eigen::ArrayXf power_;  // a noise-aware encoder's frame power
  Eigen::VectorXf layer_input_;
  Eigen::VectorXf gates_input_;
  Eigen::VectorXf gates_hidden_;
  std::vector<Eigen::VectorXf> hidden_;
  int total_components_ = 0;
};

}  // namespace livesep
