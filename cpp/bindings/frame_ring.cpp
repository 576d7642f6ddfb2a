// FrameRing: frames from the audio thread to the live recorder.
#include "bindings/common.h"

#include <cstdint>
#include <string>

namespace livesep::bindings {

PyFrameRing::PyFrameRing(int capacity, int channels) {
  if (capacity < 1 || channels < 1) {
    throw ParameterError("a frame ring needs capacity and channels >= 1, got " +
                         std::to_string(capacity) + " and " + std::to_string(channels));
  }
  ring_.prepare(capacity, channels);
}

void PyFrameRing::push(const py::handle& first_object, const py::handle& rest_object) {
  auto first = checked_float32(first_object, "x", 1, false);
  auto rest = checked_float32(rest_object, "stems", 2, false);
  const py::ssize_t n = first.shape(0);
  if (rest.shape(0) != n || rest.shape(1) != ring_.channels() - 1) {
    throw ParameterError("x (n,) and stems (n, " + std::to_string(ring_.channels() - 1) +
                         ") needed, got " + describe_array(first) + " and " +
                         describe_array(rest));
  }
  ring_.push(first.data(), 1, rest.data(), rest.shape(1), static_cast<int>(n));
}

void bind_frame_ring(py::module_& m) {
  py::class_<PyFrameRing>(m, "FrameRing", R"doc(
Frames of float channels from the audio thread to one consumer (the live recorder).
)doc")
      .def(py::init<int, int>(), py::kw_only(), py::arg("capacity"), py::arg("channels"))
      .def("push", &PyFrameRing::push, py::arg("x"), py::arg("stems"),
           "Append x (n,) as channel 0 and stems (n, channels - 1); drops (counts) if full.")
      .def("pending", [](PyFrameRing& self) {
             return py::make_tuple(self.ring().read_position(), self.ring().write_position());
           }, "(read, write): absolute frame positions of the frames waiting.")
      .def("release", [](PyFrameRing& self, std::uint64_t n) { self.ring().release(n); },
           py::arg("n"), "Hand n read frames back to the producer.")
      .def_property_readonly("storage", [](py::object self) {
             auto& ring = self.cast<PyFrameRing&>().ring();
             return py::array_t<float>({ring.capacity(), ring.channels()}, ring.data(), self);
           }, "The ring's frames (capacity, channels), in place.")
      .def_property_readonly("dropped", [](PyFrameRing& self) { return self.ring().dropped(); });
}

}  // namespace livesep::bindings
