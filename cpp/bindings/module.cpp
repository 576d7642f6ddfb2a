// The extension module livesep._core: one binder per bound class, each in its own file
// beside this one, and the test-only probes in the submodule _internal. The order matters:
// a class is registered before any signature that names it.
#include "bindings/common.h"

PYBIND11_MODULE(_core, m) {
  namespace bindings = livesep::bindings;
  m.doc() = "livesep's C++ engine.";

  bindings::register_error_translator();

  bindings::bind_model(m);
  bindings::bind_separator(m);
  bindings::bind_resampler(m);
  bindings::bind_rate_bridge(m);
  bindings::bind_frame_ring(m);
  bindings::bind_live_host(m);

  pybind11::module_ internal = m.def_submodule("_internal", "Test-only probes into the engine.");
  bindings::bind_test_probes(internal);
}
