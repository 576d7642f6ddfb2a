// The only file that knows about Python: argument checks, GIL release, error translation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <complex>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "livesep/alloc_counter.h"
#include "livesep/errors.h"
#include "livesep/separator.h"
#include "livesep/stft.h"

namespace py = pybind11;

namespace {

using livesep::ParameterError;

std::string describe_array(const py::array& array) {
  std::ostringstream text;
  text << "dtype=" << py::str(array.dtype()).cast<std::string>() << ", shape=(";
  for (py::ssize_t d = 0; d < array.ndim(); ++d) text << (d ? ", " : "") << array.shape(d);
  text << (array.ndim() == 1 ? ",)" : ")");
  text << ", C-contiguous=" << ((array.flags() & py::array::c_style) ? "True" : "False");
  return text.str();
}

// A float32, C-contiguous array of the given rank, or ParameterError showing what came.
py::array_t<float> checked_float32(const py::handle& object, const char* name, int ndim,
                                   bool writable) {
  if (!py::isinstance<py::array>(object)) {
    throw ParameterError(std::string(name) + " must be a numpy.ndarray of float32, got " +
                         py::str(py::type::of(object)).cast<std::string>());
  }
  auto array = py::reinterpret_borrow<py::array>(object);
  const bool ok = array.dtype().is(py::dtype::of<float>()) && array.ndim() == ndim &&
                  (array.flags() & py::array::c_style) && (!writable || array.writeable());
  if (!ok) {
    throw ParameterError(std::string(name) + " must be a " + std::to_string(ndim) +
                         "-D C-contiguous " + (writable ? "writable " : "") +
                         "float32 array, got " + describe_array(array));
  }
  return py::reinterpret_borrow<py::array_t<float>>(array);
}

// Separator plus a guard: one call at a time, whatever Python threads do.
class PySeparator {
 public:
  void prepare(int sr, int n_fft, int hop, int n_sources) {
    Busy busy(*this);
    engine_.prepare(livesep::SeparatorConfig{sr, n_fft, hop, n_sources});
  }

  py::array_t<float> process(const py::handle& x_object, const py::handle& out_object) {
    require_prepared();
    auto x = checked_float32(x_object, "x", 1, false);
    const py::ssize_t n = x.shape(0);
    if (n < 1 || n > (py::ssize_t{1} << 30)) {
      throw ParameterError("x must hold between 1 and 2**30 samples, got " + std::to_string(n));
    }
    const int n_sources = engine_.config().n_sources;
    py::array_t<float> out;
    if (out_object.is_none()) {
      out = py::array_t<float>({static_cast<py::ssize_t>(n_sources), n});
    } else {
      out = checked_float32(out_object, "out", 2, true);
      if (out.shape(0) != n_sources || out.shape(1) != n) {
        throw ParameterError("out must have shape (n_sources, len(x)) = (" +
                             std::to_string(n_sources) + ", " + std::to_string(n) + "), got " +
                             describe_array(out));
      }
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

  void reset() {
    Busy busy(*this);
    engine_.reset();
  }

  void require_prepared() const {
    if (!engine_.prepared()) {
      throw ParameterError("the Separator is not prepared: call prepare(sr=..., n_fft=..., "
                           "hop=..., n_sources=...) first");
    }
  }

  livesep::Separator& engine() { return engine_; }

 private:
  struct Busy {
    explicit Busy(PySeparator& owner) : owner_(owner) {
      if (owner_.busy_.exchange(true)) {
        throw ParameterError("the Separator is already in use by another thread");
      }
    }
    ~Busy() { owner_.busy_.store(false); }
    PySeparator& owner_;
  };

  livesep::Separator engine_;
  std::atomic<bool> busy_{false};
};

// Test-only: allocations made by the engine's process() alone, with buffers made beforehand.
std::uint64_t count_process_allocations(PySeparator& separator, const py::handle& x_object,
                                        const py::handle& out_object) {
  separator.require_prepared();
  auto x = checked_float32(x_object, "x", 1, false);
  auto out = checked_float32(out_object, "out", 2, true);
  const int n = static_cast<int>(x.shape(0));
  if (out.shape(0) != separator.engine().config().n_sources || out.shape(1) != n) {
    throw ParameterError("out must have shape (n_sources, len(x)), got " + describe_array(out));
  }
  const float* in = x.data();
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  const std::uint64_t before = livesep::allocation_count();
  separator.engine().process(in, dst, n);
  return livesep::allocation_count() - before;
}

// Test-only: the analysis spectra the streaming STFT hands to its frame callback, feeding x
// in blocks of block_size samples. Returns a complex64 array (n_frames, n_bins).
py::array_t<std::complex<float>> stream_spectra(const py::handle& x_object, int n_fft, int hop,
                                                int block_size) {
  auto x = checked_float32(x_object, "x", 1, false);
  if (block_size < 1) {
    throw ParameterError("block_size must be >= 1, got " + std::to_string(block_size));
  }
  livesep::StreamingStft stream;
  stream.prepare(n_fft, hop, 1);
  const int n = static_cast<int>(x.shape(0));
  const int n_bins = stream.n_bins();
  std::vector<std::complex<float>> frames;
  frames.reserve(static_cast<std::size_t>(n / hop + 1) * n_bins);
  std::vector<float> out(static_cast<std::size_t>(block_size));
  for (int start = 0; start < n; start += block_size) {
    const int count = std::min(block_size, n - start);
    stream.process(x.data() + start, 1, out.data(), count, 1, count,
                   [&frames, n_bins](const livesep::Complex* mixture, livesep::Complex* channel) {
                     frames.insert(frames.end(), mixture, mixture + n_bins);
                     std::copy(mixture, mixture + n_bins, channel);
                   });
  }
  const py::ssize_t n_frames = static_cast<py::ssize_t>(frames.size()) / n_bins;
  py::array_t<std::complex<float>> result({n_frames, static_cast<py::ssize_t>(n_bins)});
  std::copy(frames.begin(), frames.end(), result.mutable_data());
  return result;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "livesep's C++ engine.";

  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const ParameterError& error) {
      py::object python_error = py::module_::import("livesep.errors").attr("ParameterError");
      PyErr_SetString(python_error.ptr(), error.what());
    }
  });

  py::class_<PySeparator>(m, "Separator", R"doc(
Streaming separator: mono in, one channel per source out, any block size.

Lifecycle: ``prepare`` allocates everything, ``process`` runs the audio path without
allocating (the GIL is released while it works), ``reset`` returns to silence.
)doc")
      .def(py::init<>())
      .def("prepare", &PySeparator::prepare, py::kw_only(), py::arg("sr"), py::arg("n_fft") = 512,
           py::arg("hop_length") = 128, py::arg("n_sources") = 2,
           "Validate the settings and allocate every buffer.")
      .def("process", &PySeparator::process, py::arg("x"), py::kw_only(),
           py::arg("out") = py::none(),
           "Process x (float32, shape (n,)); return or fill out (float32, (n_sources, n)).")
      .def("reset", &PySeparator::reset, "Clear the stream state back to silence.")
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

  py::module_ internal = m.def_submodule("_internal", "Test-only probes into the engine.");
  internal.def("allocation_count", &livesep::allocation_count,
               "Heap allocations made by the extension's own code since it was loaded.");
  internal.def("count_process_allocations", &count_process_allocations, py::arg("separator"),
               py::arg("x"), py::arg("out"),
               "Run separator.process(x, out) and return the allocations it made.");
  internal.def("stream_spectra", &stream_spectra, py::arg("x"), py::kw_only(), py::arg("n_fft"),
               py::arg("hop_length"), py::arg("block_size"),
               "Analysis spectra (n_frames, n_bins) the streaming STFT produces for x.");
}
