// Separator: the streaming engine behind a one-call-at-a-time guard.
#include "bindings/common.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace livesep::bindings {

namespace {

livesep::OutputMode output_mode(const std::string& name) {
  if (name == "stems") return livesep::OutputMode::Stems;
  if (name == "mono") return livesep::OutputMode::Mono;
  if (name == "stereo") return livesep::OutputMode::Stereo;
  throw ParameterError("output must be 'stems', 'mono' or 'stereo', got '" + name + "'");
}

}  // namespace

void PySeparator::prepare(int sr, int n_fft, int hop, const py::object& n_sources_object,
                          const py::object& model_object, const std::string& output,
                          float mask_power, int synthesis_length) {
  Busy busy(*this);
  std::unique_ptr<livesep::ModelRuntime> runtime;
  int n_sources = n_sources_object.is_none() ? 2 : n_sources_object.cast<int>();
  if (!model_object.is_none()) {
    const auto& model = model_object.cast<const PyModel&>().model;
    if (!n_sources_object.is_none() && n_sources != model->n_sources()) {
      throw ParameterError("n_sources=" + std::to_string(n_sources) + " but the model has " +
                           std::to_string(model->n_sources()) + " sources");
    }
    n_sources = model->n_sources();
    runtime = std::make_unique<livesep::ModelRuntime>(model, mask_power);
  }
  livesep::SeparatorConfig config;
  config.sample_rate = sr;
  config.n_fft = n_fft;
  config.hop = hop;
  config.synthesis_length = synthesis_length;
  config.n_sources = n_sources;
  config.output = output_mode(output);
  engine_.prepare(config, std::move(runtime));
  mask_power_ = mask_power;
}

void PySeparator::swap_model(const PyModel& model, const py::object& mask_power) {
  const float power = mask_power.is_none() ? mask_power_ : mask_power.cast<float>();
  engine_.swap_model(std::make_unique<livesep::ModelRuntime>(model.model, power));
}

py::array_t<float> PySeparator::process(const py::handle& x_object,
                                        const py::handle& out_object) {
  require_prepared();
  auto x = checked_float32(x_object, "x", 1, false);
  const py::ssize_t n = x.shape(0);
  if (n < 1 || n > (py::ssize_t{1} << 30)) {
    throw ParameterError("x must hold between 1 and 2**30 samples, got " + std::to_string(n));
  }
  const int n_channels = engine_.n_channels();
  // Built in one expression: a default-constructed array_t would allocate an empty array
  // on every call.
  const bool given = !out_object.is_none();
  py::array_t<float> out = given ? checked_float32(out_object, "out", 2, true)
                                 : py::array_t<float>({static_cast<py::ssize_t>(n_channels), n});
  if (given && (out.shape(0) != n_channels || out.shape(1) != n)) {
    throw ParameterError("out must have shape (n_channels, len(x)) = (" +
                         std::to_string(n_channels) + ", " + std::to_string(n) + "), got " +
                         describe_array(out));
  }
  const float* in = x.data();
  float* dst = out.mutable_data();
  {
    Busy busy(*this);
    py::gil_scoped_release release;
    engine_.process(in, dst, static_cast<int>(n));
  }
  return out;
}

void PySeparator::process_interleaved(const py::handle& in_object, const py::handle& out_object,
                                      int input_channel) {
  require_prepared();
  auto indata = checked_float32(in_object, "indata", 2, false);
  auto outdata = checked_float32(out_object, "outdata", 2, true);
  const py::ssize_t n = indata.shape(0);
  const py::ssize_t in_channels = indata.shape(1);
  const py::ssize_t out_channels = outdata.shape(1);
  if (outdata.shape(0) != n || n < 1) {
    throw ParameterError("indata and outdata must hold the same number (>= 1) of frames, got " +
                         describe_array(indata) + " and " + describe_array(outdata));
  }
  if (input_channel < 0 || input_channel >= in_channels) {
    throw ParameterError("input_channel must be in [0, " + std::to_string(in_channels) +
                         "), got " + std::to_string(input_channel));
  }
  if (out_channels < engine_.n_channels()) {
    throw ParameterError("outdata needs at least " + std::to_string(engine_.n_channels()) +
                         " channels, got " + describe_array(outdata));
  }
  const float* in = indata.data() + input_channel;
  float* out = outdata.mutable_data();
  const int used = engine_.n_channels();
  Busy busy(*this);
  py::gil_scoped_release release;
  engine_.process(in, in_channels, out, 1, out_channels, static_cast<int>(n));
  for (py::ssize_t i = 0; i < n; ++i) {
    std::fill(out + i * out_channels + used, out + (i + 1) * out_channels, 0.0f);
  }
}

py::dict PySeparator::pop_snapshots(int max_frames) {
  require_prepared();
  const livesep::SnapshotLayout layout = engine_.snapshot_layout();
  auto& ring = engine_.snapshots();
  const int count = std::min(std::max(max_frames, 0), ring.available());
  std::vector<float> records(static_cast<std::size_t>(count) * ring.record_floats());
  std::vector<std::uint64_t> tags(count);
  const int got = ring.pop(records.data(), tags.data(), count);
  const py::ssize_t f = layout.n_bins;
  const py::ssize_t s = layout.n_sources;
  const py::ssize_t q = livesep::SnapshotLayout::kSnapshotStates;
  py::array_t<std::uint64_t> frames(got);
  py::array_t<float> spectrum({static_cast<py::ssize_t>(got), f});
  py::array_t<float> masks({static_cast<py::ssize_t>(got), s, f});
  py::array_t<float> marginals({static_cast<py::ssize_t>(got), s, q});
  py::array_t<int> n_states({static_cast<py::ssize_t>(got), s});
  for (int i = 0; i < got; ++i) {
    const float* record = records.data() + static_cast<std::size_t>(i) * ring.record_floats();
    frames.mutable_data()[i] = tags[i];
    std::copy_n(record, f, spectrum.mutable_data() + i * f);
    std::copy_n(record + f, s * f, masks.mutable_data() + i * s * f);
    std::copy_n(record + f + s * f, s * q, marginals.mutable_data() + i * s * q);
    for (py::ssize_t k = 0; k < s; ++k) {
      n_states.mutable_data()[i * s + k] = static_cast<int>(record[f + s * f + s * q + k]);
    }
  }
  py::dict result;
  result["frame"] = frames;
  result["spectrum"] = spectrum;
  result["masks"] = masks;
  result["marginals"] = marginals;
  result["n_states"] = n_states;
  result["dropped"] = ring.dropped();
  return result;
}

py::tuple PySeparator::pop_timings() {
  require_prepared();
  auto& ring = engine_.timings();
  const int count = ring.available();
  std::vector<float> records(static_cast<std::size_t>(count) * 2);
  std::vector<std::uint64_t> tags(count);
  const int got = ring.pop(records.data(), tags.data(), count);
  py::array_t<double> seconds(got);
  py::array_t<int> samples(got);
  for (int i = 0; i < got; ++i) {
    seconds.mutable_data()[i] = records[2 * i];
    samples.mutable_data()[i] = static_cast<int>(records[2 * i + 1]);
  }
  return py::make_tuple(seconds, samples, ring.dropped());
}

void PySeparator::reset() {
  Busy busy(*this);
  engine_.reset();
}

void PySeparator::require_prepared() const {
  if (!engine_.prepared()) {
    throw ParameterError("the Separator is not prepared: call prepare(sr=..., n_fft=..., "
                         "hop=..., n_sources=...) first");
  }
}

int PySeparator::checked_source(int source) const {
  require_prepared();
  if (source < 0 || source >= engine_.config().n_sources) {
    throw ParameterError("source must be in [0, " + std::to_string(engine_.config().n_sources) +
                         "), got " + std::to_string(source));
  }
  return source;
}

py::array_t<float> PySeparator::masks() const {
  const livesep::ModelRuntime* model = require_model();
  py::array_t<float> out({static_cast<py::ssize_t>(model->n_sources()),
                          static_cast<py::ssize_t>(model->n_bins())});
  std::copy(model->masks().begin(), model->masks().end(), out.mutable_data());
  return out;
}

py::list PySeparator::state_marginals() const {
  const livesep::ModelRuntime* model = require_model();
  py::list marginals;
  for (int s = 0; s < model->n_sources(); ++s) {
    const livesep::VectorF& marginal = model->filter().marginal(s);
    py::array_t<float> out(marginal.size());
    std::copy(marginal.data(), marginal.data() + marginal.size(), out.mutable_data());
    marginals.append(out);
  }
  return marginals;
}

int PySeparator::n_evaluated() const { return require_model()->filter().n_evaluated(); }

void PySeparator::claim_for_host() {
  require_prepared();
  if (busy_.exchange(true)) {
    throw ParameterError("the Separator is already in use by another thread");
  }
}

const livesep::ModelRuntime* PySeparator::require_model() const {
  require_prepared();
  if (!engine_.model()) throw ParameterError("the Separator has no model");
  return engine_.model();
}

void bind_separator(py::module_& m) {
  py::class_<PySeparator>(m, "Separator", R"doc(
Streaming separator: mono in, one channel per source out, any block size.

Lifecycle: ``prepare`` allocates everything, ``process`` runs the audio path without
allocating (the GIL is released while it works), ``reset`` returns to silence.
``livesep.create_separator`` prepares one for a preset.

Examples
--------
>>> import numpy as np
>>> from livesep import create_separator, load_preset
>>> separator = create_separator(load_preset("male-female-nhmm"))
>>> block = np.zeros(128, dtype=np.float32)  # e.g. from an audio callback
>>> separator.process(block).shape            # one row per source
(2, 128)
>>> separator.set_gain(1, 0.0)                # mute the second source from the next frame
>>> separator.latency_samples()               # output t is input t - 511
511
)doc")
      .def(py::init<>())
      .def("prepare", &PySeparator::prepare, py::kw_only(), py::arg("sr"), py::arg("n_fft") = 512,
           py::arg("hop_length") = 128, py::arg("n_sources") = py::none(),
           py::arg("model") = py::none(), py::arg("output") = "stems",
           py::arg("mask_power") = 2.0f, py::arg("synthesis_length") = 0,
           "Validate the settings and allocate every buffer. Without a model every source "
           "receives the mixture (n_sources defaults to 2). synthesis_length 0 uses "
           "symmetric windows (latency n_fft - 1); 2 * hop_length < n_fft the low-delay "
           "asymmetric ones (latency synthesis_length - 1).")
      .def("swap_model", &PySeparator::swap_model, py::arg("model"), py::kw_only(),
           py::arg("mask_power") = py::none(),
           "Hand a new model (same sources and bins) to the running engine without blocking it.")
      .def("collect_retired", [](PySeparator& self) { return self.engine().collect_retired(); },
           "Free the model a swap replaced, once the audio thread let go of it.")
      .def_property_readonly("swap_pending",
                             [](PySeparator& self) { return self.engine().swap_pending(); })
      .def("set_gain", [](PySeparator& self, int source, float gain) {
             self.engine().set_gain(self.checked_source(source), gain);
           }, py::arg("source"), py::arg("gain"), "Linear gain of one source, from the next frame.")
      .def("set_muted", [](PySeparator& self, int source, bool muted) {
             self.engine().set_muted(self.checked_source(source), muted);
           }, py::arg("source"), py::arg("muted"))
      .def("set_soloed", [](PySeparator& self, int source, bool soloed) {
             self.engine().set_soloed(self.checked_source(source), soloed);
           }, py::arg("source"), py::arg("soloed"))
      .def("set_strength", [](PySeparator& self, float strength) {
             self.engine().set_strength(strength);
           }, py::arg("strength"),
           "How far the separation goes, 0 to 1, from the next frame: 1 the full separation, "
           "0 none (the main source, the first soloed one or else source 0, is the input and "
           "the others are silent); the sources always sum to the input.")
      .def_property_readonly("strength", [](PySeparator& self) {
             return self.engine().strength();
           })
      .def("gain", [](PySeparator& self, int source) {
             return self.engine().gain(self.checked_source(source));
           }, py::arg("source"))
      .def("muted", [](PySeparator& self, int source) {
             return self.engine().muted(self.checked_source(source));
           }, py::arg("source"))
      .def("soloed", [](PySeparator& self, int source) {
             return self.engine().soloed(self.checked_source(source));
           }, py::arg("source"))
      .def("set_quality", [](PySeparator& self, int n_iter, int beam) {
             self.engine().set_quality(n_iter, beam);
           }, py::kw_only(), py::arg("n_iter") = -1, py::arg("beam") = -1,
           "Iterations per fit and beam from the next frame on; -1 restores the model's own.")
      .def("masks", &PySeparator::masks, "The last frame's masks, (n_sources, n_bins).")
      .def("state_marginals", &PySeparator::state_marginals,
           "The last frame's state posterior of each source, a list of (Q_s,) arrays.")
      .def_property_readonly("n_evaluated", &PySeparator::n_evaluated,
                             "Joint states evaluated in the last frame.")
      .def_property_readonly("has_model", [](PySeparator& self) { return self.engine().has_model(); })
      .def_property_readonly("n_channels", [](PySeparator& self) {
        self.require_prepared();
        return self.engine().n_channels();
      })
      .def("process", &PySeparator::process, py::arg("x"), py::kw_only(),
           py::arg("out") = py::none(),
           "Process x (float32, shape (n,)); return or fill out (float32, (n_channels, n)).")
      .def("reset", &PySeparator::reset, "Clear the stream state back to silence.")
      .def("process_interleaved", &PySeparator::process_interleaved, py::arg("indata"),
           py::arg("outdata"), py::kw_only(), py::arg("input_channel") = 0,
           "An audio callback's call: separate column input_channel of indata (n, C_in) into "
           "the first n_channels columns of outdata (n, C_out); zero the rest. GIL released.")
      .def("pop_snapshots", &PySeparator::pop_snapshots, py::kw_only(),
           py::arg("max_frames") = 1 << 20,
           "Per-frame display snapshots since the last call: dict of frame (n,), spectrum "
           "(n, F), masks (n, S, F), marginals (n, S, 256), n_states (n, S), dropped.")
      .def("pop_timings", &PySeparator::pop_timings,
           "Process-call durations since the last call: (seconds (n,), samples (n,), dropped).")
      .def("set_snapshots_enabled",
           [](PySeparator& self, bool enabled) { self.engine().set_snapshots_enabled(enabled); },
           py::arg("enabled"), "Turn the display snapshots on or off.")
      .def("latency_samples",
           [](PySeparator& self) { return self.engine().latency_samples(); },
           "Output sample t is the separation of input sample t - latency_samples().")
      .def_property_readonly("prepared", [](PySeparator& self) { return self.engine().prepared(); })
      .def_property_readonly("sr", [](PySeparator& self) {
        self.require_prepared();
        return self.engine().config().sample_rate;
      })
      .def_property_readonly("n_fft", [](PySeparator& self) {
        self.require_prepared();
        return self.engine().config().n_fft;
      })
      .def_property_readonly("hop_length", [](PySeparator& self) {
        self.require_prepared();
        return self.engine().config().hop;
      })
      .def_property_readonly("n_sources", [](PySeparator& self) {
        self.require_prepared();
        return self.engine().config().n_sources;
      });
}

}  // namespace livesep::bindings
