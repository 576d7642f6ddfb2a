// Model: a preset's (W, A, pi) per source, checked and converted into the engine's layout.
#include "bindings/common.h"

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "livesep/encoder.h"
#include "livesep/model_runtime.h"
#include "livesep/nfhmm.h"

namespace livesep::bindings {

namespace {

// One source from W (Q, F, K), A (Q, Q), pi (Q,), all float32, into the engine's layout. A
// convolutive source (frames > 1) has W (frames, F, K), one lag per block, and one state; an
// unfolded one (layers > 0) W (layers + 1, F, K), one layer per block, and one state.
livesep::SourceModel convert_source(const py::handle& item, std::size_t index, int frames,
                                    int layers) {
  const std::string where = "sources[" + std::to_string(index) + "]";
  if (!py::isinstance<py::tuple>(item) && !py::isinstance<py::list>(item)) {
    throw ParameterError(where + " must be a (W, A, pi) tuple");
  }
  auto parts = py::reinterpret_borrow<py::sequence>(item);
  if (parts.size() != 3) throw ParameterError(where + " must be a (W, A, pi) tuple");
  auto W = checked_float32(parts[0], (where + ".W").c_str(), 3, false);
  auto A = checked_float32(parts[1], (where + ".A").c_str(), 2, false);
  auto pi = checked_float32(parts[2], (where + ".pi").c_str(), 1, false);
  const auto blocks = static_cast<int>(W.shape(0));
  const auto f = static_cast<int>(W.shape(1));
  const auto k = static_cast<int>(W.shape(2));
  if (frames < 1 || (frames > 1 && blocks != frames)) {
    throw ParameterError(where + ": a convolutive source's W must be (frames, F, K) with frames=" +
                         std::to_string(frames) + ", got W " + describe_array(W));
  }
  if (layers < 0) throw ParameterError(where + ": layers must be >= 0, got " +
                                       std::to_string(layers));
  if (layers > 0 && (frames > 1 || blocks != layers + 1)) {
    throw ParameterError(where + ": an unfolded source's W must be (layers + 1, F, K) with "
                         "layers=" + std::to_string(layers) + " and one frame, got W " +
                         describe_array(W));
  }
  const int q = frames > 1 || layers > 0 ? 1 : blocks;
  if (q < 1 || f < 2 || k < 1 || A.shape(0) != q || A.shape(1) != q || pi.shape(0) != q) {
    throw ParameterError(where + ": W must be (Q, F, K) with A (Q, Q) and pi (Q,), got W " +
                         describe_array(W) + ", A " + describe_array(A) + ", pi " +
                         describe_array(pi));
  }
  const float* w = W.data();
  const std::size_t count = static_cast<std::size_t>(blocks) * f * k;
  for (std::size_t i = 0; i < count; ++i) {
    if (!(w[i] >= 0.0f) || !std::isfinite(w[i])) {
      throw ParameterError(where + ".W holds a negative or non-finite value: " +
                           std::to_string(w[i]));
    }
  }
  livesep::SourceModel source =
      livesep::make_source_model(w, blocks, f, k, A.data(), pi.data(), frames, layers);
  for (float value : source.transitions) {
    if (!(value >= 0.0f) || !std::isfinite(value)) {
      throw ParameterError(where + ".A holds a negative or non-finite value: " +
                           std::to_string(value));
    }
  }
  for (float value : source.initial) {
    if (!(value >= 0.0f) || !std::isfinite(value)) {
      throw ParameterError(where + ".pi holds a negative or non-finite value: " +
                           std::to_string(value));
    }
  }
  return source;
}

livesep::RowMatrixF matrix_from(const py::handle& item, const std::string& name) {
  auto array = checked_float32(item, name.c_str(), 2, false);
  return Eigen::Map<const livesep::RowMatrixF>(array.data(), array.shape(0), array.shape(1));
}

Eigen::VectorXf vector_from(const py::handle& item, const std::string& name) {
  auto array = checked_float32(item, name.c_str(), 1, false);
  return Eigen::Map<const Eigen::VectorXf>(array.data(), array.shape(0));
}

template <typename T, typename Convert>
std::vector<T> list_from(const py::dict& encoder, const char* key, Convert convert) {
  const std::string name = std::string("encoder['") + key + "']";
  if (!encoder.contains(key)) throw ParameterError(name + " is missing");
  py::object items = encoder[key];
  if (!py::isinstance<py::list>(items) && !py::isinstance<py::tuple>(items)) {
    throw ParameterError(name + " must be a list of arrays");
  }
  std::vector<T> out;
  std::size_t index = 0;
  for (const py::handle& item : items) {
    out.push_back(convert(item, name + "[" + std::to_string(index++) + "]"));
  }
  return out;
}

// The recurrent encoder's weights from a dict of float32 arrays (see EncoderWeights).
std::shared_ptr<const livesep::EncoderWeights> convert_encoder(const py::dict& encoder) {
  auto weights = std::make_shared<livesep::EncoderWeights>();
  for (const char* key : {"input_weights", "input_bias"}) {
    if (!encoder.contains(key)) throw ParameterError(std::string("encoder['") + key + "'] is missing");
  }
  weights->input_weights = matrix_from(encoder["input_weights"], "encoder['input_weights']");
  weights->input_bias = vector_from(encoder["input_bias"], "encoder['input_bias']");
  weights->gate_inputs = list_from<livesep::RowMatrixF>(encoder, "gate_inputs", matrix_from);
  weights->gate_hiddens = list_from<livesep::RowMatrixF>(encoder, "gate_hiddens", matrix_from);
  weights->gate_input_biases = list_from<Eigen::VectorXf>(encoder, "gate_input_biases", vector_from);
  weights->gate_hidden_biases =
      list_from<Eigen::VectorXf>(encoder, "gate_hidden_biases", vector_from);
  weights->output_weights = list_from<livesep::RowMatrixF>(encoder, "output_weights", matrix_from);
  weights->output_biases = list_from<Eigen::VectorXf>(encoder, "output_biases", vector_from);
  weights->output_scales = list_from<Eigen::VectorXf>(encoder, "output_scales", vector_from);
  if (encoder.contains("noise_aware")) weights->noise_aware = encoder["noise_aware"].cast<bool>();
  weights->check();
  return weights;
}

PyModel make_model(const py::list& sources, float beta, float l1, int n_iter, int beam,
                   float likelihood_counts, float reseed_floor, float epsilon,
                   const py::object& adaptive, float forgetting, float adaptation_prior,
                   const py::object& frames_object, const py::object& layers_object,
                   const py::object& encoder, const py::object& bands,
                   const py::object& floors, double mask_smoothing,
                   const py::object& companion, float companion_share) {
  auto model = std::make_shared<livesep::Model>();
  const auto per_source = [&](const py::object& given, const char* name, int fallback) {
    std::vector<int> values(sources.size(), fallback);
    if (!given.is_none()) {
      values = given.cast<std::vector<int>>();
      if (values.size() != sources.size()) {
        throw ParameterError(std::string(name) + " needs one value per source (" +
                             std::to_string(sources.size()) + "), got " +
                             std::to_string(values.size()));
      }
    }
    return values;
  };
  const std::vector<int> frames = per_source(frames_object, "frames", 1);
  const std::vector<int> layers = per_source(layers_object, "layers", 0);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    model->sources.push_back(convert_source(sources[i], i, frames[i], layers[i]));
  }
  if (!adaptive.is_none()) {
    const auto flags = adaptive.cast<std::vector<bool>>();
    if (flags.size() != model->sources.size()) {
      throw ParameterError("adaptive needs one flag per source (" +
                           std::to_string(model->sources.size()) + "), got " +
                           std::to_string(flags.size()));
    }
    for (std::size_t i = 0; i < flags.size(); ++i) {
      const livesep::SourceModel& source = model->sources[i];
      if (flags[i] && (source.n_states != 1 || source.n_frames != 1 || source.n_layers != 0)) {
        throw ParameterError("an adaptive source must have one state and one frame and not be "
                             "unfolded; sources[" + std::to_string(i) + "] has " +
                             std::to_string(source.n_states) + " state(s), " +
                             std::to_string(source.n_frames) + " frame(s), " +
                             std::to_string(source.n_layers) + " layer(s)");
      }
      model->sources[i].adaptive = flags[i];
    }
  }
  if (!(forgetting > 0.0f && forgetting <= 1.0f) || !(adaptation_prior >= 0.0f)) {
    throw ParameterError("forgetting must be in (0, 1] and adaptation_prior >= 0, got " +
                         std::to_string(forgetting) + " and " + std::to_string(adaptation_prior));
  }
  model->settings.forgetting = forgetting;
  model->settings.adaptation_prior = adaptation_prior;
  if (model->sources.empty() || model->sources.size() > livesep::FactorialFilter::kMaxSources) {
    throw ParameterError("a model needs between 1 and 16 sources, got " +
                         std::to_string(model->sources.size()));
  }
  if (n_iter < 0 || n_iter > 10000) {
    throw ParameterError("n_iter must be in [0, 10000], got " + std::to_string(n_iter));
  }
  if (beam < 0) throw ParameterError("beam must be >= 0 (0: exact), got " + std::to_string(beam));
  if (!(l1 >= 0.0f) || !(likelihood_counts > 0.0f) || !(reseed_floor >= 0.0f) ||
      !(epsilon > 0.0f)) {
    throw ParameterError("l1 and reseed_floor must be >= 0, likelihood_counts and epsilon > 0");
  }
  model->settings.activation.divergence = divergence_from_beta(beta);
  model->settings.activation.l1 = l1;
  model->settings.activation.n_iter = n_iter;
  model->settings.activation.epsilon = epsilon;
  model->settings.beam = beam;
  model->settings.likelihood_counts = likelihood_counts;
  model->settings.reseed_floor = reseed_floor;
  // A filter is prepared once here so that a model with an impossible geometry fails now.
  livesep::FactorialFilter probe;
  probe.prepare(model->sources, model->settings);
  if (!encoder.is_none()) {
    if (!py::isinstance<py::dict>(encoder)) throw ParameterError("encoder must be a dict of arrays");
    model->encoder = convert_encoder(encoder.cast<py::dict>());
    livesep::ModelRuntime runtime_probe(model, 2.0f);
  }
  if (!floors.is_none()) livesep::add_floors(*model, floors.cast<std::vector<float>>());
  livesep::MaskSmoother::check(mask_smoothing);
  model->mask_smoothing = mask_smoothing;
  if (!bands.is_none()) livesep::fit_on_bands(*model, bands.cast<std::vector<int>>());
  if (!companion.is_none()) {
    if (!py::isinstance<PyModel>(companion)) throw ParameterError("companion must be a Model");
    model->companion = companion.cast<const PyModel&>().model;
    model->companion_share = companion_share;
    livesep::ModelRuntime runtime_probe(model, 2.0f);
  }
  return PyModel{model};
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<PyModel>(m, "Model", R"doc(
A preset's source models in the engine's layout, immutable and shareable.

sources is a list of (W, A, pi) per source: W (Q, F, K) float32 dictionaries whose columns
sum to one, A (Q, Q) transition rows, pi (Q,) initial distribution; Q = 1 is plain NMF.
frames (one per source) gives a convolutive source's lags, W (frames, F, K); layers (one
per source, all 0 or all the same L > 0) makes every source unfolded, W (L + 1, F, K).
encoder (a dict of float32 arrays, see livesep.presets.Encoder) replaces the activation
fit with a recurrent encoder; every source then has one state and W (1, F, K_s).
bands (edges from 0 up to at most F) fits the activations on bins summed into those bands
(bins above the last edge left out), the masks staying at full resolution; not with an
encoder, adaptive or convolutive sources.
floors (one weight per source, 0 for none) gives a source one more component, a noise
floor tracked from the stream and rewritten every frame, whose column sums to the weight.
mask_smoothing (seconds, 0 for none) smooths the masks over time, each weighted by the power
it acts on (livesep.spectral.MaskSmoother).
companion (a Model of the same sources and at most as many bins, unsmoothed, without a
companion) runs on the same frames (their lower bins, when it has fewer), and its masks are
mixed in before the smoothing: (1 - companion_share) of this model's and companion_share, in
(0, 1), of the companion's, on the bins it covers.
)doc")
      .def(py::init(&make_model), py::arg("sources"), py::kw_only(), py::arg("beta") = 1.0f,
           py::arg("l1") = 0.0f, py::arg("n_iter") = 10, py::arg("beam") = 0,
           py::arg("likelihood_counts") = 30.0f, py::arg("reseed_floor") = 1e-3f,
           py::arg("epsilon") = 1e-9f, py::arg("adaptive") = py::none(),
           py::arg("forgetting") = 0.99f, py::arg("adaptation_prior") = 1.0f,
           py::arg("frames") = py::none(), py::arg("layers") = py::none(),
           py::arg("encoder") = py::none(), py::arg("bands") = py::none(),
           py::arg("floors") = py::none(), py::arg("mask_smoothing") = 0.0,
           py::arg("companion") = py::none(), py::arg("companion_share") = 0.0f)
      .def_property_readonly("n_sources", [](const PyModel& self) { return self.model->n_sources(); })
      .def_property_readonly("n_bins", [](const PyModel& self) { return self.model->n_bins(); })
      .def_property_readonly("n_states", [](const PyModel& self) {
        std::vector<int> states;
        for (const auto& source : self.model->sources) states.push_back(source.n_states);
        return states;
      })
      .def_property_readonly("n_iter", [](const PyModel& self) {
        return self.model->settings.activation.n_iter;
      })
      .def_property_readonly("beam", [](const PyModel& self) { return self.model->settings.beam; })
      .def_property_readonly("band_edges", [](const PyModel& self) {
        return self.model->band_edges;
      })
      .def_property_readonly("has_encoder", [](const PyModel& self) {
        return self.model->encoder != nullptr;
      })
      .def_property_readonly("floors", [](const PyModel& self) {
        std::vector<float> weights;
        for (const auto& source : self.model->sources) weights.push_back(source.floor_weight);
        return weights;
      })
      .def_property_readonly("mask_smoothing", [](const PyModel& self) {
        return self.model->mask_smoothing;
      })
      .def_property_readonly("companion_share", [](const PyModel& self) {
        return self.model->companion ? self.model->companion_share : 0.0f;
      })
      .def_property_readonly("adaptive", [](const PyModel& self) {
        std::vector<bool> flags;
        for (const auto& source : self.model->sources) flags.push_back(source.adaptive);
        return flags;
      });
}

}  // namespace livesep::bindings
