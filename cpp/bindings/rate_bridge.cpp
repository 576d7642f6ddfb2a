// RateBridge: device rate <-> engine rate around one engine call per block.
#include "bindings/common.h"

#include <string>

namespace livesep::bindings {

namespace {

livesep::ResamplerDesign design(const py::tuple& spec, const char* name) {
  if (spec.size() != 3) throw ParameterError(std::string(name) + " must be (up, down, taps)");
  return livesep::ResamplerDesign{spec[0].cast<int>(), spec[1].cast<int>(),
                                  taps_from(spec[2], name)};
}

}  // namespace

PyRateBridge::PyRateBridge(const py::tuple& down, const py::tuple& up, int channels, int margin,
                           int max_block) {
  bridge_.prepare(design(down, "down"), design(up, "up"), channels, margin, max_block);
}

void PyRateBridge::process(PySeparator& separator, const py::handle& x_object,
                           const py::handle& out_object) {
  auto x = checked_float32(x_object, "x", 1, false);
  auto out = checked_float32(out_object, "out", 2, true);
  const py::ssize_t n = x.shape(0);
  if (n < 1 || n > bridge_.max_block() || out.shape(0) != n ||
      out.shape(1) != bridge_.channels()) {
    throw ParameterError("x (n,) with 1 <= n <= " + std::to_string(bridge_.max_block()) +
                         " and out (n, " + std::to_string(bridge_.channels()) + ") needed, got " +
                         describe_array(x) + " and " + describe_array(out));
  }
  if (separator.engine().n_channels() != bridge_.channels()) {
    throw ParameterError("the separator has " + std::to_string(separator.engine().n_channels()) +
                         " output channels; the bridge was made for " +
                         std::to_string(bridge_.channels()));
  }
  const float* in = x.data();
  float* result = out.mutable_data();
  separator.run_exclusively([&](livesep::Separator& engine) {
    bridge_.process(engine, in, static_cast<int>(n), result);
  });
}

void bind_rate_bridge(py::module_& m) {
  py::class_<PyRateBridge>(m, "RateBridge", R"doc(
Device rate <-> engine rate around one engine call per block (see livesep.resampling).
)doc")
      .def(py::init<const py::tuple&, const py::tuple&, int, int, int>(), py::kw_only(),
           py::arg("down"), py::arg("up"), py::arg("channels"), py::arg("margin"),
           py::arg("max_block") = 8192)
      .def("process", &PyRateBridge::process, py::arg("separator"), py::arg("x"), py::arg("out"),
           "Separate device-rate x (n,) into out (n, channels) through separator. GIL released.")
      .def_property_readonly("offset", [](PyRateBridge& self) { return self.bridge().offset(); })
      .def_property_readonly("underruns",
                             [](PyRateBridge& self) { return self.bridge().underruns(); })
      .def_property_readonly("overflows",
                             [](PyRateBridge& self) { return self.bridge().overflows(); })
      .def_property_readonly("primed", [](PyRateBridge& self) { return self.bridge().primed(); });
}

}  // namespace livesep::bindings
