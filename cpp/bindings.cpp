// The only file that knows about Python: argument checks, GIL release, error translation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <memory>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "livesep/alloc_counter.h"
#include "livesep/errors.h"
#include "livesep/live_host.h"
#include "livesep/model.h"
#include "livesep/nfhmm.h"
#include "livesep/nmf.h"
#include "livesep/rate_bridge.h"
#include "livesep/resampler.h"
#include "livesep/ring.h"
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

// One source from W (Q, F, K), A (Q, Q), pi (Q,), all float32, into the engine's layout. A
// convolutive source (frames > 1) has W (frames, F, K), one lag per block, and one state.
livesep::SourceModel convert_source(const py::handle& item, std::size_t index, int frames) {
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
  const int q = frames > 1 ? 1 : blocks;
  if (q < 1 || f < 2 || k < 1 || A.shape(0) != q || A.shape(1) != q || pi.shape(0) != q) {
    throw ParameterError(where + ": W must be (Q, F, K) with A (Q, Q) and pi (Q,), got W " +
                         describe_array(W) + ", A " + describe_array(A) + ", pi " +
                         describe_array(pi));
  }
  livesep::SourceModel source;
  source.n_states = q;
  source.n_frames = frames;
  source.n_components = k;
  source.n_bins = f;
  source.n_rows = livesep::padded_rows(f);
  source.dictionaries.assign(static_cast<std::size_t>(blocks) * source.n_rows * k, 0.0f);
  source.column_sums.assign(static_cast<std::size_t>(blocks) * k, 0.0f);
  const float* w = W.data();
  for (int state = 0; state < blocks; ++state) {
    for (int bin = 0; bin < f; ++bin) {
      for (int component = 0; component < k; ++component) {
        const float value = w[(static_cast<std::size_t>(state) * f + bin) * k + component];
        if (!(value >= 0.0f) || !std::isfinite(value)) {
          throw ParameterError(where + ".W holds a negative or non-finite value: " +
                               std::to_string(value));
        }
        source.dictionaries[(static_cast<std::size_t>(state) * k + component) * source.n_rows +
                            bin] = value;
        source.column_sums[static_cast<std::size_t>(state) * k + component] += value;
      }
    }
  }
  source.tile();
  source.transitions.assign(A.data(), A.data() + static_cast<std::size_t>(q) * q);
  source.initial.assign(pi.data(), pi.data() + q);
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

// An immutable model shared by any number of separators.
struct PyModel {
  std::shared_ptr<const livesep::Model> model;
};

PyModel make_model(const py::list& sources, float beta, float l1, int n_iter, int beam,
                   float likelihood_counts, float reseed_floor, float epsilon,
                   const py::object& adaptive, float forgetting, float adaptation_prior,
                   const py::object& frames_object) {
  auto model = std::make_shared<livesep::Model>();
  std::vector<int> frames(sources.size(), 1);
  if (!frames_object.is_none()) {
    frames = frames_object.cast<std::vector<int>>();
    if (frames.size() != sources.size()) {
      throw ParameterError("frames needs one value per source (" +
                           std::to_string(sources.size()) + "), got " +
                           std::to_string(frames.size()));
    }
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    model->sources.push_back(convert_source(sources[i], i, frames[i]));
  }
  if (!adaptive.is_none()) {
    const auto flags = adaptive.cast<std::vector<bool>>();
    if (flags.size() != model->sources.size()) {
      throw ParameterError("adaptive needs one flag per source (" +
                           std::to_string(model->sources.size()) + "), got " +
                           std::to_string(flags.size()));
    }
    for (std::size_t i = 0; i < flags.size(); ++i) {
      if (flags[i] && (model->sources[i].n_states != 1 || model->sources[i].n_frames != 1)) {
        throw ParameterError("an adaptive source must have one state and one frame; sources[" +
                             std::to_string(i) + "] has " +
                             std::to_string(model->sources[i].n_states));
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
  return PyModel{model};
}

livesep::OutputMode output_mode(const std::string& name) {
  if (name == "stems") return livesep::OutputMode::Stems;
  if (name == "mono") return livesep::OutputMode::Mono;
  if (name == "stereo") return livesep::OutputMode::Stereo;
  throw ParameterError("output must be 'stems', 'mono' or 'stereo', got '" + name + "'");
}

// Separator plus a guard: one call at a time, whatever Python threads do.
class PySeparator {
 public:
  void prepare(int sr, int n_fft, int hop, const py::object& n_sources_object,
               const py::object& model_object, const std::string& output, float mask_power) {
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
    engine_.prepare(livesep::SeparatorConfig{sr, n_fft, hop, n_sources, output_mode(output)},
                    std::move(runtime));
    mask_power_ = mask_power;
  }

  void swap_model(const PyModel& model, const py::object& mask_power) {
    const float power = mask_power.is_none() ? mask_power_ : mask_power.cast<float>();
    engine_.swap_model(std::make_unique<livesep::ModelRuntime>(model.model, power));
  }

  py::array_t<float> process(const py::handle& x_object, const py::handle& out_object) {
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

  // The sounddevice callback's call: indata (n, in_channels) and outdata (n, out_channels),
  // both C-contiguous float32; channel input_channel of indata is separated into the first
  // n_channels() columns of outdata, any further columns are zeroed.
  void process_interleaved(const py::handle& in_object, const py::handle& out_object,
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

  // Display snapshots recorded since the last call, oldest first.
  py::dict pop_snapshots(int max_frames) {
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

  // Durations (seconds) and sizes (samples) of the process calls since the last call.
  py::tuple pop_timings() {
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

  int checked_source(int source) const {
    require_prepared();
    if (source < 0 || source >= engine_.config().n_sources) {
      throw ParameterError("source must be in [0, " + std::to_string(engine_.config().n_sources) +
                           "), got " + std::to_string(source));
    }
    return source;
  }

  // Copies of the model's last-frame state; call between process calls.
  py::array_t<float> masks() const {
    const livesep::ModelRuntime* model = require_model();
    py::array_t<float> out({static_cast<py::ssize_t>(model->n_sources()),
                            static_cast<py::ssize_t>(model->n_bins())});
    std::copy(model->masks().begin(), model->masks().end(), out.mutable_data());
    return out;
  }

  py::list state_marginals() const {
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

  int n_evaluated() const { return require_model()->filter().n_evaluated(); }

  // The live host runs this engine on the audio thread from now until release_to_python:
  // process and reset from Python fail meanwhile instead of racing it.
  void claim_for_host() {
    require_prepared();
    if (busy_.exchange(true)) {
      throw ParameterError("the Separator is already in use by another thread");
    }
  }
  void release_to_python() { busy_.store(false); }

  // Runs work on the engine with the GIL released, holding the engine against other threads.
  template <typename Work>
  void run_exclusively(Work&& work) {
    require_prepared();
    Busy busy(*this);
    py::gil_scoped_release release;
    work(engine_);
  }

 private:
  const livesep::ModelRuntime* require_model() const {
    require_prepared();
    if (!engine_.model()) throw ParameterError("the Separator has no model");
    return engine_.model();
  }

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
  float mask_power_ = 2.0f;
  std::atomic<bool> busy_{false};
};

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

// Taps as a float32 vector, with the name in errors.
std::vector<float> taps_from(const py::handle& object, const char* name) {
  auto taps = checked_float32(object, name, 1, false);
  if (taps.size() < 1) throw ParameterError(std::string(name) + " must not be empty");
  return std::vector<float>(taps.data(), taps.data() + taps.size());
}

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

class PyRateBridge {
 public:
  PyRateBridge(const py::tuple& down, const py::tuple& up, int channels, int margin,
               int max_block) {
    bridge_.prepare(design(down, "down"), design(up, "up"), channels, margin, max_block);
  }

  void process(PySeparator& separator, const py::handle& x_object, const py::handle& out_object) {
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

  livesep::RateBridge& bridge() { return bridge_; }

 private:
  static livesep::ResamplerDesign design(const py::tuple& spec, const char* name) {
    if (spec.size() != 3) throw ParameterError(std::string(name) + " must be (up, down, taps)");
    return livesep::ResamplerDesign{spec[0].cast<int>(), spec[1].cast<int>(),
                                    taps_from(spec[2], name)};
  }

  livesep::RateBridge bridge_;
};

class PyFrameRing {
 public:
  PyFrameRing(int capacity, int channels) {
    if (capacity < 1 || channels < 1) {
      throw ParameterError("a frame ring needs capacity and channels >= 1, got " +
                           std::to_string(capacity) + " and " + std::to_string(channels));
    }
    ring_.prepare(capacity, channels);
  }

  void push(const py::handle& first_object, const py::handle& rest_object) {
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

  livesep::FrameRing& ring() { return ring_; }

 private:
  livesep::FrameRing ring_;
};

class PyLiveHost {
 public:
  PyLiveHost(py::object separator, int in_channels, int input_channel, int out_channels,
             py::object bridge, py::object recorder, const py::handle& mix,
             const py::handle& bypass_mix, int max_block, const py::handle& feed, bool loop)
      : separator_(std::move(separator)), bridge_(std::move(bridge)),
        recorder_(std::move(recorder)) {
    auto& owner = separator_.cast<PySeparator&>();
    livesep::LiveHostConfig config;
    config.in_channels = in_channels;
    config.input_channel = input_channel;
    config.out_channels = out_channels;
    config.max_block = max_block;
    livesep::RateBridge* bridge_pointer =
        bridge_.is_none() ? nullptr : &bridge_.cast<PyRateBridge&>().bridge();
    livesep::FrameRing* ring =
        recorder_.is_none() ? nullptr : &recorder_.cast<PyFrameRing&>().ring();
    owner.claim_for_host();
    try {
      host_ = std::make_unique<livesep::LiveHost>(owner.engine(), bridge_pointer, ring, config,
                                                  matrix(mix, "mix"),
                                                  matrix(bypass_mix, "bypass_mix"),
                                                  samples(feed), loop);
    } catch (...) {
      owner.release_to_python();
      throw;
    }
  }
  ~PyLiveHost() {
    host_.reset();
    separator_.cast<PySeparator&>().release_to_python();
  }

  livesep::LiveHost& host() { return *host_; }

  void run(const py::handle& in_object, const py::handle& out_object, unsigned long flags) {
    run_counting(in_object, out_object, flags);
  }

  // run, returning the heap allocations the callback itself made (test-only probe).
  std::uint64_t run_counting(const py::handle& in_object, const py::handle& out_object,
                             unsigned long flags) {
    auto in = checked_float32(in_object, "indata", 2, false);
    auto out = checked_float32(out_object, "outdata", 2, true);
    if (in.shape(1) != host_->in_channels() || out.shape(1) != host_->out_channels()) {
      throw ParameterError("indata needs " + std::to_string(host_->in_channels()) +
                           " channels and outdata " + std::to_string(host_->out_channels()) +
                           ", got " + describe_array(in) + " and " + describe_array(out));
    }
    if (in.shape(0) != out.shape(0)) {
      throw ParameterError("indata and outdata must hold the same number of frames, got " +
                           describe_array(in) + " and " + describe_array(out));
    }
    const float* input = in.data();
    float* output = out.mutable_data();
    const unsigned long frames = static_cast<unsigned long>(in.shape(0));
    py::gil_scoped_release release;
    const std::uint64_t before = livesep::allocation_count();
    host_->process(input, output, frames, flags);
    return livesep::allocation_count() - before;
  }

  py::tuple timings(std::uint64_t first) const {
    const std::uint64_t count = host_->callbacks();
    // The audio thread may be overwriting the oldest slots: keep clear of them.
    const std::uint64_t margin = static_cast<std::uint64_t>(host_->history()) / 2;
    const std::uint64_t begin = std::max(first, count > margin ? count - margin : 0);
    const auto n = static_cast<py::ssize_t>(count > begin ? count - begin : 0);
    py::array_t<double> starts(n), ends(n);
    py::array_t<std::int64_t> frames(n);
    for (py::ssize_t i = 0; i < n; ++i) {
      starts.mutable_at(i) = host_->start_time(begin + i);
      ends.mutable_at(i) = host_->end_time(begin + i);
      frames.mutable_at(i) = host_->frames(begin + i);
    }
    return py::make_tuple(begin, starts, ends, frames);
  }

  py::list xruns(std::uint64_t first) const {
    const std::uint64_t count = host_->xrun_records();
    const std::uint64_t kept = livesep::LiveHost::kXrunLog;
    py::list records;
    for (std::uint64_t i = std::max(first, count > kept ? count - kept : 0); i < count; ++i) {
      const livesep::XrunRecord& record = host_->xrun_record(i);
      records.append(py::make_tuple(record.callback, record.time, record.previous, record.flags));
    }
    return records;
  }

 private:
  static std::vector<float> samples(const py::handle& object) {
    if (object.is_none()) return {};
    auto feed = checked_float32(object, "feed", 1, false);
    if (feed.size() < 1) throw ParameterError("feed must hold at least one sample");
    return std::vector<float>(feed.data(), feed.data() + feed.size());
  }

  std::vector<float> matrix(const py::handle& object, const char* name) const {
    if (object.is_none()) return {};
    auto array = checked_float32(object, name, 2, false);
    return std::vector<float>(array.data(), array.data() + array.size());
  }

  py::object separator_, bridge_, recorder_;
  std::unique_ptr<livesep::LiveHost> host_;
};


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

  py::class_<PyModel>(m, "Model", R"doc(
A preset's source models in the engine's layout, immutable and shareable.

sources is a list of (W, A, pi) per source: W (Q, F, K) float32 dictionaries whose columns
sum to one, A (Q, Q) transition rows, pi (Q,) initial distribution; Q = 1 is plain NMF.
)doc")
      .def(py::init(&make_model), py::arg("sources"), py::kw_only(), py::arg("beta") = 1.0f,
           py::arg("l1") = 0.0f, py::arg("n_iter") = 10, py::arg("beam") = 0,
           py::arg("likelihood_counts") = 30.0f, py::arg("reseed_floor") = 1e-3f,
           py::arg("epsilon") = 1e-9f, py::arg("adaptive") = py::none(),
           py::arg("forgetting") = 0.99f, py::arg("adaptation_prior") = 1.0f,
           py::arg("frames") = py::none())
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
      .def_property_readonly("adaptive", [](const PyModel& self) {
        std::vector<bool> flags;
        for (const auto& source : self.model->sources) flags.push_back(source.adaptive);
        return flags;
      });

  py::class_<PySeparator>(m, "Separator", R"doc(
Streaming separator: mono in, one channel per source out, any block size.

Lifecycle: ``prepare`` allocates everything, ``process`` runs the audio path without
allocating (the GIL is released while it works), ``reset`` returns to silence.
)doc")
      .def(py::init<>())
      .def("prepare", &PySeparator::prepare, py::kw_only(), py::arg("sr"), py::arg("n_fft") = 512,
           py::arg("hop_length") = 128, py::arg("n_sources") = py::none(),
           py::arg("model") = py::none(), py::arg("output") = "stems",
           py::arg("mask_power") = 2.0f,
           "Validate the settings and allocate every buffer. Without a model every source "
           "receives the mixture (n_sources defaults to 2).")
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

  py::class_<PyLiveHost>(m, "LiveHost", R"doc(
The live stream's audio callback in C++, for PortAudio to call without Python.

``callback_address`` is a ``PaStreamCallback`` and ``userdata_address`` its user data; keep
the host alive until the stream is closed. While a host exists its separator is reserved.
A ``feed`` (float32 samples at the device rate) replaces the input device (file mode).
)doc")
      .def(py::init<py::object, int, int, int, py::object, py::object, const py::handle&,
                    const py::handle&, int, const py::handle&, bool>(),
           py::arg("separator"), py::kw_only(), py::arg("in_channels"),
           py::arg("input_channel"), py::arg("out_channels"), py::arg("bridge") = py::none(),
           py::arg("recorder") = py::none(), py::arg("mix") = py::none(),
           py::arg("bypass_mix") = py::none(), py::arg("max_block") = 8192,
           py::arg("feed") = py::none(), py::arg("loop") = true)
      .def_property_readonly("feed_position",
                             [](PyLiveHost& self) { return self.host().feed_position(); })
      .def_property_readonly("feed_finished",
                             [](PyLiveHost& self) { return self.host().feed_finished(); })
      .def_property_readonly("callback_address", [](PyLiveHost&) {
        return reinterpret_cast<std::uintptr_t>(&livesep::LiveHost::portaudio_callback);
      })
      .def_property_readonly("userdata_address", [](PyLiveHost& self) {
        return reinterpret_cast<std::uintptr_t>(&self.host());
      })
      .def("run", &PyLiveHost::run, py::arg("indata"), py::arg("outdata"), py::kw_only(),
           py::arg("flags") = 0UL,
           "One callback as PortAudio makes it: indata (n, in_channels), outdata (n, "
           "out_channels), status flags. GIL released.")
      .def("set_bypass", [](PyLiveHost& self, bool on) { self.host().set_bypass(on); },
           py::arg("bypass"))
      .def("set_ignore_flags", [](PyLiveHost& self, bool on) { self.host().set_ignore_flags(on); },
           py::arg("ignore"))
      .def_property_readonly("callbacks", [](PyLiveHost& self) { return self.host().callbacks(); })
      .def_property_readonly("frames", [](PyLiveHost& self) { return self.host().frames_done(); })
      .def_property_readonly("flag_counts", [](PyLiveHost& self) {
        const auto counts = self.host().flag_counts();
        return py::make_tuple(counts[0], counts[1], counts[2], counts[3]);
      }, "Callbacks flagged input underflow, input overflow, output underflow, output overflow.")
      .def("timings", &PyLiveHost::timings, py::arg("first"),
           "(first, starts, ends, frames) of callbacks first... (or the oldest still kept).")
      .def("xruns", &PyLiveHost::xruns, py::arg("first"),
           "(callback, start, previous start, flags) of flagged callbacks first... (the last 64 "
           "are kept).")
      .def_static("now", &livesep::LiveHost::now, "The callback's clock, in seconds.");

  py::module_ internal = m.def_submodule("_internal", "Test-only probes into the engine.");
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
  internal.def("stream_spectra", &stream_spectra, py::arg("x"), py::kw_only(), py::arg("n_fft"),
               py::arg("hop_length"), py::arg("block_size"),
               "Analysis spectra (n_frames, n_bins) the streaming STFT produces for x.");
}
