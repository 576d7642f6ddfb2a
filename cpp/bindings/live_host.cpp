// LiveHost: the live stream's audio callback in C++, for PortAudio to call without Python.
#include "bindings/common.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "livesep/alloc_counter.h"

namespace livesep::bindings {

namespace {

std::vector<float> samples(const py::handle& object) {
  if (object.is_none()) return {};
  auto feed = checked_float32(object, "feed", 1, false);
  if (feed.size() < 1) throw ParameterError("feed must hold at least one sample");
  return std::vector<float>(feed.data(), feed.data() + feed.size());
}

std::vector<float> matrix(const py::handle& object, const char* name) {
  if (object.is_none()) return {};
  auto array = checked_float32(object, name, 2, false);
  return std::vector<float>(array.data(), array.data() + array.size());
}

}  // namespace

PyLiveHost::PyLiveHost(py::object separator, int in_channels, int input_channel,
                       int out_channels, py::object bridge, py::object recorder,
                       const py::handle& mix, const py::handle& bypass_mix, int max_block,
                       const py::handle& feed, bool loop)
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

PyLiveHost::~PyLiveHost() {
  host_.reset();
  separator_.cast<PySeparator&>().release_to_python();
}

void PyLiveHost::run(const py::handle& in_object, const py::handle& out_object,
                     unsigned long flags) {
  run_counting(in_object, out_object, flags);
}

std::uint64_t PyLiveHost::run_counting(const py::handle& in_object, const py::handle& out_object,
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

py::tuple PyLiveHost::timings(std::uint64_t first) const {
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

py::list PyLiveHost::xruns(std::uint64_t first) const {
  const std::uint64_t count = host_->xrun_records();
  const std::uint64_t kept = livesep::LiveHost::kXrunLog;
  py::list records;
  for (std::uint64_t i = std::max(first, count > kept ? count - kept : 0); i < count; ++i) {
    const livesep::XrunRecord& record = host_->xrun_record(i);
    records.append(py::make_tuple(record.callback, record.time, record.previous, record.flags));
  }
  return records;
}

void bind_live_host(py::module_& m) {
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
}

}  // namespace livesep::bindings
