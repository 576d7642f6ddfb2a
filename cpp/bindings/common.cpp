// Argument checks every binder uses, and the translation of the engine's errors.
#include "bindings/common.h"

#include <exception>
#include <sstream>

namespace livesep::bindings {

std::string describe_array(const py::array& array) {
  std::ostringstream text;
  text << "dtype=" << py::str(array.dtype()).cast<std::string>() << ", shape=(";
  for (py::ssize_t d = 0; d < array.ndim(); ++d) text << (d ? ", " : "") << array.shape(d);
  text << (array.ndim() == 1 ? ",)" : ")");
  text << ", C-contiguous=" << ((array.flags() & py::array::c_style) ? "True" : "False");
  return text.str();
}

py::array_t<float> checked_float32(const py::handle& object, const char* name, int ndim,
                                   bool writable) {
  if (!py::isinstance<py::array>(object)) {
    throw ParameterError(std::string(name) + " must be a numpy.ndarray of float32, got " +
                         py::str(py::type::of(object)).cast<std::string>());
  }
  auto array = py::reinterpret_borrow<py::array>(object);
  // Equivalent, not identical: an unpickled or copied float32 dtype is another object.
  const bool float32 = py::detail::npy_api::get().PyArray_EquivTypes_(
      array.dtype().ptr(), py::dtype::of<float>().ptr());
  const bool ok = float32 && array.ndim() == ndim &&
                  (array.flags() & py::array::c_style) && (!writable || array.writeable());
  if (!ok) {
    throw ParameterError(std::string(name) + " must be a " + std::to_string(ndim) +
                         "-D C-contiguous " + (writable ? "writable " : "") +
                         "float32 array, got " + describe_array(array));
  }
  return py::reinterpret_borrow<py::array_t<float>>(array);
}

livesep::Divergence divergence_from_beta(float beta) {
  if (beta == 0.0f) return livesep::Divergence::ItakuraSaito;
  if (beta == 1.0f) return livesep::Divergence::KullbackLeibler;
  if (beta == 2.0f) return livesep::Divergence::Euclidean;
  throw ParameterError("beta must be 0 (Itakura-Saito), 1 (Kullback-Leibler) or 2 (Euclidean), "
                       "got " + std::to_string(beta));
}

std::vector<float> taps_from(const py::handle& object, const char* name) {
  auto taps = checked_float32(object, name, 1, false);
  if (taps.size() < 1) throw ParameterError(std::string(name) + " must not be empty");
  return std::vector<float>(taps.data(), taps.data() + taps.size());
}

void register_error_translator() {
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const ParameterError& error) {
      py::object python_error = py::module_::import("livesep.errors").attr("ParameterError");
      PyErr_SetString(python_error.ptr(), error.what());
    }
  });
}

}  // namespace livesep::bindings
