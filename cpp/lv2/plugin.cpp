// livesep.lv2: the engine as an LV2 plugin. Mono in, one output per source (kSourcePorts)
// and their mix; strength and per-source gains; the latency mode (standard, low, ultra: a
// new stream, built in activate() or by the worker); the latency reported on a control output.
// The preset is a patch:writable atom:Path parameter: run() hands the path to the worker,
// which reads the file and builds the engine off the audio thread; run() adopts the result
// at the start of a block and hands the old one back to the worker to free. A preset of the
// same rate and frames as the running one is swapped into the running engine (its model
// only, the stream continues without a break). A preset that cannot be read, or run at the
// host's rate, is reported through the log and the plugin passes audio through: the input
// on the first source output and the mix, silence on the others, latency 0.
#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/atom/util.h>
#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/log/logger.h>
#include <lv2/patch/patch.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "lv2/stream.h"

namespace livesep::lv2 {
namespace {

constexpr const char* kUri = "urn:livesep:separator";
constexpr const char* kPresetUri = "urn:livesep:separator#preset";
// The default presets in the bundle: the full-band one for hosts at kFullBandRate and above
// (livesep.presets.default_preset), when the bundle has it.
constexpr const char* kDefaultPreset = "presets/voice.npz";
constexpr const char* kFullBandPreset = "presets/voice-48k.npz";
constexpr int kFullBandRate = 44100;
constexpr std::size_t kMaxPath = 4096;

enum Port : std::uint32_t {
  kIn = 0, kSource1 = 1, kSource2 = 2, kMix = 3, kStrength = 4, kGain1 = 5, kGain2 = 6,
  kLatency = 7, kControl = 8, kNotify = 9, kLatencyMode = 10,
};

// What the worker sends back to run(): a stream to adopt (or null: pass through), a model
// already swapped into the running stream, or a stream to free.
struct Reply {
  enum Kind : std::uint32_t { Adopt, Swapped } kind;
  Stream* stream;
  char path[kMaxPath];
};

struct Job {
  enum Kind : std::uint32_t { Load, Free } kind;
  Stream* stream;  // Free: the stream run() let go of
  char path[kMaxPath];  // Load: empty for the current preset (a new latency mode)
  int mode;             // Load: the latency mode
};

struct Uris {
  LV2_URID atom_path, atom_object, atom_urid, atom_sequence, patch_set, patch_get,
      patch_property, patch_value, preset;
  void map(LV2_URID_Map* m) {
    atom_path = m->map(m->handle, LV2_ATOM__Path);
    atom_object = m->map(m->handle, LV2_ATOM__Object);
    atom_urid = m->map(m->handle, LV2_ATOM__URID);
    atom_sequence = m->map(m->handle, LV2_ATOM__Sequence);
    patch_set = m->map(m->handle, LV2_PATCH__Set);
    patch_get = m->map(m->handle, LV2_PATCH__Get);
    patch_property = m->map(m->handle, LV2_PATCH__property);
    patch_value = m->map(m->handle, LV2_PATCH__value);
    preset = m->map(m->handle, kPresetUri);
  }
};

class Plugin {
 public:
  // [main-thread] instantiate: reads the bundle's default preset.
  Plugin(double rate, const std::string& bundle, const LV2_Feature* const* features)
      : rate_(static_cast<int>(rate)), bundle_(bundle) {
    for (int i = 0; features && features[i]; ++i) {
      const std::string uri = features[i]->URI;
      if (uri == LV2_URID__map) map_ = static_cast<LV2_URID_Map*>(features[i]->data);
      if (uri == LV2_WORKER__schedule) schedule_ = static_cast<LV2_Worker_Schedule*>(features[i]->data);
      if (uri == LV2_LOG__log) log_ = static_cast<LV2_Log_Log*>(features[i]->data);
    }
    if (map_) {
      uris_.map(map_);
      lv2_atom_forge_init(&forge_, map_);
    }
    lv2_log_logger_init(&logger_, map_, log_);
    if (!bundle_.empty() && bundle_.back() != '/') bundle_ += '/';
    const std::string full_band = bundle_ + kFullBandPreset;
    const std::string preset = rate_ >= kFullBandRate && std::ifstream(full_band).good()
                                   ? full_band : bundle_ + kDefaultPreset;
    std::unique_ptr<Stream> first = build(preset);
    if (first) path_ = preset;
    stream_ = first.release();
  }

  // [main-thread]
  ~Plugin() { delete stream_; }

  // [audio-thread] connect_port
  void connect(std::uint32_t port, void* data) {
    if (port <= kMix) audio_[port] = static_cast<float*>(data);
    else if (port <= kGain2) controls_[port - kStrength] = static_cast<const float*>(data);
    else if (port == kLatency) latency_ = static_cast<float*>(data);
    else if (port == kControl) control_ = static_cast<const LV2_Atom_Sequence*>(data);
    else if (port == kNotify) notify_ = static_cast<LV2_Atom_Sequence*>(data);
    else if (port == kLatencyMode) mode_port_ = static_cast<const float*>(data);
  }

  // [main-thread] Not concurrent with run(): a latency mode set before the stream starts
  // gets its stream here.
  void activate() {
    const int mode = wanted_mode();
    if (mode != mode_) {
      std::lock_guard<std::mutex> lock(path_mutex_);
      mode_ = mode;
      if (!path_.empty()) {
        delete stream_;
        stream_ = build(path_, mode_).release();
        sent_valid_ = false;
      }
    }
    if (stream_) stream_->reset();
  }

  // [audio-thread]
  void run(std::uint32_t n) {
    bool announce = false;
    if (notify_ && map_) {
      const std::uint32_t capacity = notify_->atom.size;
      lv2_atom_forge_set_buffer(&forge_, reinterpret_cast<std::uint8_t*>(notify_), capacity);
      lv2_atom_forge_sequence_head(&forge_, &notify_frame_, 0);
    }
    if (control_ && map_) {
      LV2_ATOM_SEQUENCE_FOREACH(control_, event) {
        if (event->body.type != uris_.atom_object) continue;
        const auto* object = reinterpret_cast<const LV2_Atom_Object*>(&event->body);
        if (object->body.otype == uris_.patch_get) announce = true;
        if (object->body.otype != uris_.patch_set) continue;
        const LV2_Atom* property = nullptr;
        const LV2_Atom* value = nullptr;
        lv2_atom_object_get(object, uris_.patch_property, &property, uris_.patch_value, &value, 0);
        if (!property || property->type != uris_.atom_urid || !value ||
            reinterpret_cast<const LV2_Atom_URID*>(property)->body != uris_.preset ||
            value->type != uris_.atom_path || value->size >= kMaxPath || !schedule_) {
          continue;
        }
        Job job{Job::Load, nullptr, {}, mode_};
        std::memcpy(job.path, LV2_ATOM_BODY_CONST(value), value->size);
        job.path[value->size] = '\0';
        schedule_->schedule_work(schedule_->handle, sizeof job, &job);
      }
    }
    if (const int mode = wanted_mode(); mode != mode_ && schedule_) {
      mode_ = mode;
      Job job{Job::Load, nullptr, {}, mode};
      schedule_->schedule_work(schedule_->handle, sizeof job, &job);
    }
    if (stream_) {
      stream_->separator().set_strength(*controls_[0] * 0.01f);
      stream_->separator().set_gain(0, *controls_[1]);
      stream_->separator().set_gain(1, *controls_[2]);
    }
    float* outs[kSourcePorts] = {audio_[kSource1], audio_[kSource2]};
    for (std::uint32_t start = 0; start < n; start += kChunk) {
      const int count = static_cast<int>(std::min<std::uint32_t>(kChunk, n - start));
      std::copy_n(audio_[kIn] + start, count, input_);  // the host may process in place
      float* chunk_outs[kSourcePorts] = {outs[0] + start, outs[1] + start};
      if (stream_) {
        stream_->process(input_, chunk_outs, audio_[kMix] + start, count);
      } else {
        std::copy_n(input_, count, chunk_outs[0]);
        std::copy_n(input_, count, audio_[kMix] + start);
        std::fill_n(chunk_outs[1], count, 0.0f);
      }
    }
    if (latency_) *latency_ = stream_ ? static_cast<float>(stream_->latency_samples()) : 0.0f;
    if (announce || announce_) send_preset();
    announce_ = false;
    if (notify_ && map_) lv2_atom_forge_pop(&forge_, &notify_frame_);
  }

  // [main-thread] (the host's worker thread) Reads presets and frees streams.
  LV2_Worker_Status work(LV2_Worker_Respond_Function respond, LV2_Worker_Respond_Handle handle,
                         std::uint32_t size, const void* data) {
    if (size != sizeof(Job)) return LV2_WORKER_ERR_UNKNOWN;
    const Job& job = *static_cast<const Job*>(data);
    if (job.kind == Job::Free) {
      delete job.stream;
      return LV2_WORKER_SUCCESS;
    }
    Reply reply{Reply::Adopt, nullptr, {}};
    std::lock_guard<std::mutex> lock(path_mutex_);
    if (job.path[0] != '\0') path_ = job.path;
    std::snprintf(reply.path, kMaxPath, "%s", path_.c_str());
    // The stream run() will have: the last one this worker sent, else the one it runs.
    Stream* running = sent_valid_ ? sent_ : stream_;
    try {
      Preset preset = PresetReader::load(path_);
      if (running && running->latency_mode() == job.mode && running->same_geometry(preset)) {
        running->swap_model(preset);
        reply.kind = Reply::Swapped;
        lv2_log_note(&logger_, "livesep: preset %s loaded\n", path_.c_str());
        return respond(handle, sizeof reply, &reply);
      }
    } catch (const std::exception&) {
      // build() below reads the file again and reports the error through the log.
    }
    reply.stream = build(path_, job.mode).release();
    sent_ = reply.stream;
    sent_valid_ = true;
    return respond(handle, sizeof reply, &reply);
  }

  // [audio-thread] Adopts what the worker built.
  LV2_Worker_Status work_response(std::uint32_t size, const void* data) {
    if (size != sizeof(Reply)) return LV2_WORKER_ERR_UNKNOWN;
    const Reply& reply = *static_cast<const Reply*>(data);
    if (reply.kind == Reply::Adopt) {
      Job job{Job::Free, stream_, {}, 0};
      stream_ = reply.stream;
      if (job.stream) schedule_->schedule_work(schedule_->handle, sizeof job, &job);
    }
    std::memcpy(announced_path_, reply.path, kMaxPath);
    announce_ = true;
    return LV2_WORKER_SUCCESS;
  }

  // [main-thread]
  LV2_State_Status save(LV2_State_Store_Function store, LV2_State_Handle handle,
                        const LV2_Feature* const* features) {
    std::lock_guard<std::mutex> lock(path_mutex_);
    if (!map_ || path_.empty()) return LV2_STATE_SUCCESS;
    std::string stored = path_;
    LV2_State_Map_Path* mapper = find<LV2_State_Map_Path>(features, LV2_STATE__mapPath);
    if (mapper) {
      char* abstract = mapper->abstract_path(mapper->handle, path_.c_str());
      stored = abstract;
      free(abstract);
    }
    return store(handle, uris_.preset, stored.c_str(), stored.size() + 1, uris_.atom_path,
                 LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE);
  }

  // [main-thread] Not concurrent with run() (no state:threadSafeRestore), so the stream is
  // replaced here.
  LV2_State_Status restore(LV2_State_Retrieve_Function retrieve, LV2_State_Handle handle,
                           const LV2_Feature* const* features) {
    if (!map_) return LV2_STATE_ERR_NO_FEATURE;
    std::size_t size = 0;
    std::uint32_t type = 0, flags = 0;
    const void* value = retrieve(handle, uris_.preset, &size, &type, &flags);
    if (!value || type != uris_.atom_path) return LV2_STATE_SUCCESS;
    std::string path(static_cast<const char*>(value), strnlen(static_cast<const char*>(value), size));
    LV2_State_Map_Path* mapper = find<LV2_State_Map_Path>(features, LV2_STATE__mapPath);
    if (mapper) {
      char* absolute = mapper->absolute_path(mapper->handle, path.c_str());
      path = absolute;
      free(absolute);
    }
    std::lock_guard<std::mutex> lock(path_mutex_);
    path_ = path;
    delete stream_;
    stream_ = build(path, mode_).release();
    sent_valid_ = false;
    std::snprintf(announced_path_, kMaxPath, "%s", path.c_str());
    announce_ = true;
    return LV2_STATE_SUCCESS;
  }

 private:
  template <typename T>
  static T* find(const LV2_Feature* const* features, const char* uri) {
    for (int i = 0; features && features[i]; ++i) {
      if (std::strcmp(features[i]->URI, uri) == 0) return static_cast<T*>(features[i]->data);
    }
    return nullptr;
  }

  // [any-thread] The latency mode the port asks for (standard without the port).
  int wanted_mode() const noexcept {
    if (!mode_port_ || !(*mode_port_ >= 0.0f)) return 0;
    return std::min(static_cast<int>(*mode_port_ + 0.5f), kLatencyModes - 1);
  }

  // [main-thread] A stream for `path`, or null (pass through) with the reason logged.
  std::unique_ptr<Stream> build(const std::string& path, int mode = 0) {
    try {
      auto stream = std::make_unique<Stream>(path, rate_, mode);
      lv2_log_note(&logger_, "livesep: preset %s loaded (%d Hz%s, latency mode %d, latency %d "
                   "samples)\n", path.c_str(), stream->preset().sr,
                   stream->resampled() ? ", resampled" : "", mode, stream->latency_samples());
      return stream;
    } catch (const std::exception& error) {
      lv2_log_error(&logger_, "livesep: %s; passing audio through\n", error.what());
      return nullptr;
    }
  }

  // [audio-thread] patch:Set of the preset path on the notify port, for hosts' displays.
  void send_preset() {
    if (!notify_ || !map_ || announced_path_[0] == '\0') return;
    LV2_Atom_Forge_Frame frame;
    lv2_atom_forge_frame_time(&forge_, 0);
    lv2_atom_forge_object(&forge_, &frame, 0, uris_.patch_set);
    lv2_atom_forge_key(&forge_, uris_.patch_property);
    lv2_atom_forge_urid(&forge_, uris_.preset);
    lv2_atom_forge_key(&forge_, uris_.patch_value);
    lv2_atom_forge_path(&forge_, announced_path_, static_cast<std::uint32_t>(strnlen(announced_path_, kMaxPath)));
    lv2_atom_forge_pop(&forge_, &frame);
  }

  int rate_;
  std::string bundle_;
  LV2_URID_Map* map_ = nullptr;
  LV2_Worker_Schedule* schedule_ = nullptr;
  LV2_Log_Log* log_ = nullptr;
  LV2_Log_Logger logger_{};
  LV2_Atom_Forge forge_{};
  LV2_Atom_Forge_Frame notify_frame_{};
  Uris uris_{};
  float* audio_[4] = {};
  const float* controls_[3] = {};
  float* latency_ = nullptr;
  const float* mode_port_ = nullptr;
  int mode_ = 0;  // the latency mode last asked for (audio thread; activate, restore)
  const LV2_Atom_Sequence* control_ = nullptr;
  LV2_Atom_Sequence* notify_ = nullptr;
  Stream* stream_ = nullptr;  // owned; run() uses it
  Stream* sent_ = nullptr;    // the stream the worker last sent (not yet adopted, maybe)
  bool sent_valid_ = false;
  std::mutex path_mutex_;     // path_ and sent_: the worker, save and restore, never run()
  std::string path_;          // the preset asked for, saved in the state
  char announced_path_[kMaxPath] = {};
  bool announce_ = false;
  float input_[kChunk] = {};
};

Plugin* self(LV2_Handle handle) { return static_cast<Plugin*>(handle); }

LV2_Handle instantiate(const LV2_Descriptor*, double rate, const char* bundle,
                       const LV2_Feature* const* features) {
  try {
    return new Plugin(rate, bundle ? bundle : "", features);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "livesep: cannot instantiate: %s\n", error.what());
    return nullptr;
  }
}

LV2_Worker_Status work(LV2_Handle h, LV2_Worker_Respond_Function respond,
                       LV2_Worker_Respond_Handle handle, std::uint32_t size, const void* data) {
  return self(h)->work(respond, handle, size, data);
}
LV2_Worker_Status work_response(LV2_Handle h, std::uint32_t size, const void* data) {
  return self(h)->work_response(size, data);
}
LV2_State_Status save(LV2_Handle h, LV2_State_Store_Function store, LV2_State_Handle handle,
                      std::uint32_t, const LV2_Feature* const* features) {
  return self(h)->save(store, handle, features);
}
LV2_State_Status restore(LV2_Handle h, LV2_State_Retrieve_Function retrieve,
                         LV2_State_Handle handle, std::uint32_t,
                         const LV2_Feature* const* features) {
  return self(h)->restore(retrieve, handle, features);
}

const void* extension_data(const char* uri) {
  static const LV2_Worker_Interface worker = {work, work_response, nullptr};
  static const LV2_State_Interface state = {save, restore};
  if (std::strcmp(uri, LV2_WORKER__interface) == 0) return &worker;
  if (std::strcmp(uri, LV2_STATE__interface) == 0) return &state;
  return nullptr;
}

const LV2_Descriptor descriptor = {
    kUri,
    instantiate,
    [](LV2_Handle h, std::uint32_t port, void* data) { self(h)->connect(port, data); },
    [](LV2_Handle h) { self(h)->activate(); },
    [](LV2_Handle h, std::uint32_t n) { self(h)->run(n); },
    nullptr,
    [](LV2_Handle h) { delete self(h); },
    extension_data,
};

}  // namespace
}  // namespace livesep::lv2

extern "C" LV2_SYMBOL_EXPORT const LV2_Descriptor* lv2_descriptor(std::uint32_t index) {
  return index == 0 ? &livesep::lv2::descriptor : nullptr;
}
