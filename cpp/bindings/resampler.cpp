// Resampler: streaming polyphase FIR resampling, the GIL released while it works.
#include "bindings/common.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "livesep/resampler.h"

namespace livesep::bindings {

namespace {

class PyResampler {
 public:
  PyResampler(int up, int down, const py::handle& taps, int channels, int max_input)
      : taps_(taps_from(taps, "taps")) {
    resampler_.prepare(up, down, taps_.data(), static_cast<int>(taps_.size()), channels,
                       max_input);
  }

  py::array_t<float> process(const py::handle& object) {
    auto x = py::reinterpret_borrow<py::array>(object);
    const int channels = resampler_.channels();
    const int ndim = (py::isinstance<py::array>(object) && x.ndim() == 2) ? 2 : 1;
    auto checked = checked_float32(object, "x", ndim, false);
    if ((ndim == 2 && checked.shape(1) != channels) || (ndim == 1 && channels != 1)) {
      throw ParameterError("x must have shape (n, " + std::to_string(channels) + ")" +
                           (channels == 1 ? " or (n,)" : "") + ", got " +
                           describe_array(checked));
    }
    const int n = static_cast<int>(checked.shape(0));
    std::vector<float> out(static_cast<std::size_t>(resampler_.max_output(n)) * channels);
    int produced = 0;
    {
      py::gil_scoped_release release;
      produced = resampler_.process(checked.data(), n, out.data());
    }
    std::vector<py::ssize_t> shape{produced};
    if (ndim == 2) shape.push_back(channels);
    py::array_t<float> result(shape);
    std::copy_n(out.data(), static_cast<std::size_t>(produced) * channels, result.mutable_data());
    return result;
  }

  livesep::Resampler& resampler() { return resampler_; }

 private:
  std::vector<float> taps_;
  livesep::Resampler resampler_;
};

}  // namespace

void bind_resampler(py::module_& m) {
  py::class_<PyResampler>(m, "Resampler", R"doc(
Streaming rational resampling by a polyphase FIR filter: ``scipy.signal.upfirdn(taps, x,
up, down)`` produced as the input arrives, identical however the input is chunked.
)doc")
      .def(py::init<int, int, const py::handle&, int, int>(), py::kw_only(), py::arg("up"),
           py::arg("down"), py::arg("taps"), py::arg("channels") = 1,
           py::arg("max_input") = 8192)
      .def("process", &PyResampler::process, py::arg("x"),
           "Resample the next chunk x, (n,) or (n, channels) float32; returns the frames now "
           "complete, same rank.")
      .def("reset", [](PyResampler& self) { self.resampler().reset(); })
      .def_property_readonly("taps_per_phase",
                             [](PyResampler& self) { return self.resampler().taps_per_phase(); });
}

}  // namespace livesep::bindings
