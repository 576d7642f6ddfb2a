// The submodule _core._internal: test-only probes into the engine (allocation counts, the
// activation solver, the factorial filter and the streaming STFT on their own).
#include "bindings/common.h"

#include <algorithm>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "livesep/alloc_counter.h"
#include "livesep/model_runtime.h"
#include "livesep/nfhmm.h"
#include "livesep/nmf.h"
#include "livesep/stft.h"

namespace livesep::bindings {

namespace {

// Test-only: allocations made by the engine's process() alone, with buffers made beforehand.
std::uint64_t count_process_allocations(PySeparator& separator, const py::handle& x_object,
                                        const py::handle& out_object) {
  separator.require_prepared();
  auto x = checked_float32(x_object, "x", 1, false);
  auto out = checked_float32(out_object, "out", 2, true);
  const int n = static_cast<int>(x.shape(0));
  if (out.shape(0) != separator.engine().n_channels() || out.shape(1) != n) {
    throw ParameterError("out must have shape (n_channels, len(x)), got " + describe_array(out));
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

// Test-only: run the activation solver on one frame v (F,) with dictionary W (F, K) from h0.
py::array_t<float> solve_activations(const py::handle& W_object, const py::handle& v_object,
                                     const py::handle& h_object, float beta, float l1,
                                     int n_iter, float epsilon) {
  auto W = checked_float32(W_object, "W", 2, false);
  auto v = checked_float32(v_object, "v", 1, false);
  auto h0 = checked_float32(h_object, "h", 1, false);
  const int f = static_cast<int>(W.shape(0));
  const int k = static_cast<int>(W.shape(1));
  if (v.shape(0) != f || h0.shape(0) != k) throw ParameterError("W, v and h disagree in shape");
  const int rows = livesep::padded_rows(f);
  livesep::MatrixF dictionary = livesep::MatrixF::Zero(rows, k);
  dictionary.topRows(f) = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                                                         Eigen::RowMajor>>(W.data(), f, k);
  livesep::VectorF column_sums = dictionary.colwise().sum().transpose();
  livesep::VectorF frame = livesep::VectorF::Zero(rows);
  frame.head(f) = Eigen::Map<const livesep::VectorF>(v.data(), f);
  livesep::DictionaryBlocks blocks;
  blocks.n_blocks = 1;
  blocks.n_rows = rows;
  livesep::AlignedFloats tiled(static_cast<std::size_t>(rows) * k);
  livesep::tile_dictionary(dictionary.data(), rows, k, tiled.data());
  blocks.data[0] = dictionary.data();
  blocks.tiled[0] = tiled.data();
  blocks.n_components[0] = k;
  livesep::ActivationSettings settings;
  settings.divergence = divergence_from_beta(beta);
  settings.l1 = l1;
  settings.n_iter = n_iter;
  settings.epsilon = epsilon;
  livesep::ActivationScratch scratch;
  scratch.resize(rows, k);
  py::array_t<float> h(k);
  std::copy(h0.data(), h0.data() + k, h.mutable_data());
  livesep::update_activations(blocks, column_sums.data(), frame, h.mutable_data(), settings,
                              scratch);
  return h;
}

// Test-only: filter frames V (T, F) with a model; returns (estimates (T, S, F), posteriors
// (T, J), evaluated per frame (T,)).
py::tuple filter_frames(const PyModel& model, const py::handle& V_object) {
  auto V = checked_float32(V_object, "V", 2, false);
  const auto& m = *model.model;
  if (V.shape(1) != m.n_bins()) throw ParameterError("V must be (T, n_bins)");
  livesep::FactorialFilter filter;
  filter.prepare(m.sources, m.settings);
  const py::ssize_t t_max = V.shape(0);
  const int n_sources = m.n_sources();
  const int n_bins = m.n_bins();
  py::array_t<float> estimates({t_max, static_cast<py::ssize_t>(n_sources),
                                static_cast<py::ssize_t>(n_bins)});
  py::array_t<float> posteriors({t_max, static_cast<py::ssize_t>(filter.n_joint_states())});
  py::array_t<int> evaluated(t_max);
  for (py::ssize_t t = 0; t < t_max; ++t) {
    filter.process_frame(V.data() + t * n_bins,
                         estimates.mutable_data() + t * n_sources * n_bins);
    std::copy(filter.posterior().begin(), filter.posterior().end(),
              posteriors.mutable_data() + t * filter.n_joint_states());
    evaluated.mutable_data()[t] = filter.n_evaluated();
  }
  return py::make_tuple(estimates, posteriors, evaluated);
}

// Test-only: a model's runtime (noise floors included) on frames V (T, F) of real spectra,
// one every frame_seconds; returns the masks after each frame (T, S, F).
py::array_t<float> runtime_masks(const PyModel& model, const py::handle& V_object,
                                 double frame_seconds) {
  auto V = checked_float32(V_object, "V", 2, false);
  livesep::ModelRuntime runtime(model.model, 2.0f);
  const int n_bins = runtime.n_bins();
  const int n_sources = runtime.n_sources();
  if (V.shape(1) != n_bins) throw ParameterError("V must be (T, n_bins)");
  runtime.set_frame_period(frame_seconds);
  const py::ssize_t t_max = V.shape(0);
  py::array_t<float> masks({t_max, static_cast<py::ssize_t>(n_sources),
                            static_cast<py::ssize_t>(n_bins)});
  std::vector<livesep::Complex> spectrum(n_bins);
  for (py::ssize_t t = 0; t < t_max; ++t) {
    for (int f = 0; f < n_bins; ++f) spectrum[f] = livesep::Complex(V.data()[t * n_bins + f], 0.0f);
    runtime.process_frame(spectrum.data(), spectrum.data());
    std::copy(runtime.masks().begin(), runtime.masks().end(),
              masks.mutable_data() + t * n_sources * n_bins);
  }
  return masks;
}

}  // namespace

void bind_test_probes(py::module_& internal) {
  internal.def("allocation_count", &livesep::allocation_count,
               "Heap allocations made by the extension's own code since it was loaded.");
  internal.def("count_process_allocations", &count_process_allocations, py::arg("separator"),
               py::arg("x"), py::arg("out"),
               "Run separator.process(x, out) and return the allocations it made.");
  internal.def("count_host_allocations", &PyLiveHost::run_counting, py::arg("host"),
               py::arg("indata"), py::arg("outdata"), py::arg("flags") = 0UL,
               "Run one live host callback and return the allocations it made.");
  internal.def("solve_activations", &solve_activations, py::arg("W"), py::arg("v"), py::arg("h"),
               py::kw_only(), py::arg("beta") = 1.0f, py::arg("l1") = 0.0f,
               py::arg("n_iter") = 10, py::arg("epsilon") = 1e-9f,
               "The C++ activation solver on one frame; returns the updated h.");
  internal.def("filter_frames", &filter_frames, py::arg("model"), py::arg("V"),
               "Run the factorial filter on frames V (T, F): estimates, posteriors, evaluated.");
  internal.def("runtime_masks", &runtime_masks, py::arg("model"), py::arg("V"),
               py::arg("frame_seconds"),
               "A model's runtime on frames V (T, F), one every frame_seconds: masks (T, S, F).");
  internal.def("stream_spectra", &stream_spectra, py::arg("x"), py::kw_only(), py::arg("n_fft"),
               py::arg("hop_length"), py::arg("block_size"),
               "Analysis spectra (n_frames, n_bins) the streaming STFT produces for x.");
}

}  // namespace livesep::bindings
