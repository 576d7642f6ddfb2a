// What the binders share: argument checks, the wrappers one binder hands to another, and the
// binder functions module.cpp calls. Only cpp/bindings/ knows about Python: argument checks,
// GIL release and error translation live here, the engine (cpp/livesep/) never sees them.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/live_host.h"
#include "livesep/model_runtime.h"
#include "livesep/nmf.h"
#include "livesep/rate_bridge.h"
#include "livesep/ring.h"
#include "livesep/separator.h"

namespace livesep::bindings {

namespace py = pybind11;

using livesep::ParameterError;

// ---- Argument checks and error translation (common.cpp) ----

// "dtype=float32, shape=(3,), C-contiguous=True": what an argument was, for error messages.
std::string describe_array(const py::array& array);

// A float32, C-contiguous array of the given rank, or ParameterError showing what came.
py::array_t<float> checked_float32(const py::handle& object, const char* name, int ndim,
                                   bool writable);

livesep::Divergence divergence_from_beta(float beta);

// Taps as a float32 vector, with the name in errors.
std::vector<float> taps_from(const py::handle& object, const char* name);

// livesep::ParameterError reaches Python as livesep.errors.ParameterError.
void register_error_translator();

// ---- Wrappers that more than one binder uses ----

// An immutable model shared by any number of separators (model.cpp).
struct PyModel {
  std::shared_ptr<const livesep::Model> model;
};

// Separator plus a guard: one call at a time, whatever Python threads do (separator.cpp).
class PySeparator {
 public:
  void prepare(int sr, int n_fft, int hop, const py::object& n_sources_object,
               const py::object& model_object, const std::string& output, float mask_power,
               int synthesis_length);
  void swap_model(const PyModel& model, const py::object& mask_power);
  py::array_t<float> process(const py::handle& x_object, const py::handle& out_object);

  // The sounddevice callback's call: indata (n, in_channels) and outdata (n, out_channels),
  // both C-contiguous float32; channel input_channel of indata is separated into the first
  // n_channels() columns of outdata, any further columns are zeroed.
  void process_interleaved(const py::handle& in_object, const py::handle& out_object,
                           int input_channel);

  // Display snapshots recorded since the last call, oldest first.
  py::dict pop_snapshots(int max_frames);

  // Durations (seconds) and sizes (samples) of the process calls since the last call.
  py::tuple pop_timings();

  void reset();
  void require_prepared() const;
  livesep::Separator& engine() { return engine_; }
  int checked_source(int source) const;

  // Copies of the model's last-frame state; call between process calls.
  py::array_t<float> masks() const;
  py::list state_marginals() const;
  int n_evaluated() const;

  // The live host runs this engine on the audio thread from now until release_to_python:
  // process and reset from Python fail meanwhile instead of racing it.
  void claim_for_host();
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
  const livesep::ModelRuntime* require_model() const;

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

// Device rate <-> engine rate around one engine call per block (rate_bridge.cpp).
class PyRateBridge {
 public:
  PyRateBridge(const py::tuple& down, const py::tuple& up, int channels, int margin,
               int max_block);
  void process(PySeparator& separator, const py::handle& x_object, const py::handle& out_object);
  livesep::RateBridge& bridge() { return bridge_; }

 private:
  livesep::RateBridge bridge_;
};

// Frames from the audio thread to the live recorder (frame_ring.cpp).
class PyFrameRing {
 public:
  PyFrameRing(int capacity, int channels);
  void push(const py::handle& first_object, const py::handle& rest_object);
  livesep::FrameRing& ring() { return ring_; }

 private:
  livesep::FrameRing ring_;
};

// The live stream's audio callback, holding its separator, bridge and recorder (live_host.cpp).
class PyLiveHost {
 public:
  PyLiveHost(py::object separator, int in_channels, int input_channel, int out_channels,
             py::object bridge, py::object recorder, const py::handle& mix,
             const py::handle& bypass_mix, int max_block, const py::handle& feed, bool loop);
  ~PyLiveHost();

  livesep::LiveHost& host() { return *host_; }

  void run(const py::handle& in_object, const py::handle& out_object, unsigned long flags);

  // run, returning the heap allocations the callback itself made (test-only probe).
  std::uint64_t run_counting(const py::handle& in_object, const py::handle& out_object,
                             unsigned long flags);

  py::tuple timings(std::uint64_t first) const;
  py::list xruns(std::uint64_t first) const;

 private:
  py::object separator_, bridge_, recorder_;
  std::unique_ptr<livesep::LiveHost> host_;
};

// ---- Binders, in the order module.cpp registers them ----

void bind_model(py::module_& m);
void bind_separator(py::module_& m);
void bind_resampler(py::module_& m);
void bind_rate_bridge(py::module_& m);
void bind_frame_ring(py::module_& m);
void bind_live_host(py::module_& m);
void bind_test_probes(py::module_& internal);

}  // namespace livesep::bindings
