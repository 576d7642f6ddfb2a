// Reading livesep preset files (format "livesep-preset", versions 1 to 7) in C++, without
// Python: the same .npz files livesep writes (livesep.presets), checked as the Python reader
// checks them (format, version, fields, shapes against meta and n_fft, finite non-negative
// values, columns / rows summing to 1), then converted into the engine's Model with the
// inference settings livesep.engine.EngineSettings() resolves for that preset. Main thread
// only; every failure is a PresetError naming the file, the field and the value.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/json.h"
#include "livesep/model_runtime.h"
#include "livesep/npz.h"
#include "livesep/preset_encoder.h"

namespace livesep {

// The engine defaults of livesep.engine.EngineSettings, resolved per preset.
struct PresetInference {
  int beam = 128;
  float likelihood_counts = 30.0f;
  float mask_power = 2.0f;
  int state_iterations = 10, single_state_iterations = 100;
  float state_floor = 1e-3f, single_state_floor = 1.0f;
  double single_state_smoothing = 0.03;  // seconds; none for N-HMM presets
  double forgetting = 0.99;  // as livesep passes it, a double cast to float by the engine
  float adaptation_prior = 1.0f;
};

struct Preset {
  std::string path, name;
  int sr = 0, n_fft = 0, hop = 0, version = 0;
  std::vector<std::string> source_names;
  float mask_power = 2.0f;
  std::shared_ptr<const Model> model;

  int n_sources() const noexcept { return static_cast<int>(source_names.size()); }
};

class PresetReader : private PresetEncoderReader {
 public:
  // [main-thread] Reads and checks `path` and builds its model.
  static Preset load(const std::string& path, const PresetInference& inference = {}) {
    NpzFile file(path);
    PresetReader reader(file);
    return reader.build(inference);
  }

 private:
  struct Entry {
    std::string name;
    int n_states = 1, n_components = 1, frames = 1, layers = 0;
    bool adaptive = false;
    float floor = 0.0f;
  };

  explicit PresetReader(const NpzFile& file) : PresetEncoderReader(file) {}

  Preset build(const PresetInference& inference) {
    if (!file_.has("meta")) fail("missing entry 'meta' (the JSON header); not a livesep preset");
    const NpyArray meta_array = file_.read("meta");
    if (!meta_array.is_text) fail("meta must be a 0-d unicode array holding JSON text");
    JsonValue meta;
    try {
      meta = JsonReader::parse(meta_array.text);
    } catch (const PresetError& error) {
      fail(std::string("meta: ") + error.what());
    }
    std::vector<std::string> expected = {"meta"};
    Preset preset = level(meta, "", kNewestVersion, inference, expected);
    for (const std::string& name : file_.names()) {
      bool known = false;
      for (const std::string& key : expected) known = known || name == key;
      if (!known) fail("unexpected entry '" + name + ".npy' (meta lists " +
                       std::to_string(preset.n_sources()) + " source(s)" +
                       (preset.model->companion ? " and a companion)" : ")"));
    }
    return preset;
  }

  static constexpr int kNewestVersion = 7;

  // One preset's meta (the file's, or its companion's under `prefix` "companion.", of a
  // version up to `newest`) and arrays; their entry names are added to `expected`.
  Preset level(const JsonValue& meta, const std::string& prefix, int newest,
               const PresetInference& inference, std::vector<std::string>& expected) {
    const std::string where = prefix.empty() ? "" : prefix + "preset: ";
    if (meta.kind != JsonValue::Kind::Object) {
      fail(where + "meta must be a JSON object, got " + show(meta));
    }
    const JsonValue* format = meta.find("format");
    if (format == nullptr) fail(where + "meta: missing field 'format'; not a livesep preset");
    if (format->kind != JsonValue::Kind::String || format->text != "livesep-preset") {
      fail(where + "format is " + show(*format) +
           ", expected 'livesep-preset'; not a livesep preset");
    }
    const JsonValue& version_value = field(meta, "version", where + "meta");
    if (version_value.kind != JsonValue::Kind::Number || !version_value.integral) {
      fail(where + "version must be an integer, got " + show(version_value));
    }
    Preset preset;
    preset.path = file_.path();
    preset.version = static_cast<int>(version_value.number);
    if (preset.version < 1 || preset.version > kNewestVersion) {
      fail(where + "version: the file is livesep-preset version " + show(version_value) +
           ", but this reader reads versions 1 to 7 only" +
           (version_value.number > kNewestVersion ? "; a newer livesep wrote it, upgrade livesep"
                                                  : ""));
    }
    if (preset.version > newest) {
      fail(where + "version is " + std::to_string(preset.version) + ", newer than its file's (" +
           std::to_string(newest) + ")");
    }
    preset.name = text(field(meta, "name", "meta"), "name");
    preset.sr = integer(field(meta, "sr", "meta"), "sr", PresetLimits::kMinRate,
                        PresetLimits::kMaxRate);
    preset.n_fft = integer(field(meta, "n_fft", "meta"), "n_fft", 16, 65536);
    preset.hop = integer(field(meta, "hop_length", "meta"), "hop_length", 1, preset.n_fft);
    if (preset.n_fft % 4 != 0) fail("n_fft must be a multiple of 4 in [16, 65536], got " +
                                    std::to_string(preset.n_fft));
    if (preset.n_fft % preset.hop != 0 || preset.n_fft / preset.hop < 2) {
      fail("hop_length must divide n_fft=" + std::to_string(preset.n_fft) +
           " into at least 2 parts, got " + std::to_string(preset.hop));
    }
    const std::string window = text(field(meta, "window", "meta"), "window");
    if (window != "sqrt-hann") fail("window must be 'sqrt-hann', got '" + window + "'");
    const std::string model = text(field(meta, "model", "meta"), "model");
    if (model != "nmf" && model != "nhmm" && model != "nae") {
      fail("model must be 'nmf', 'nhmm' or 'nae', got '" + model + "'");
    }
    const EncoderSize encoder_size = encoder_entry(meta, model, preset.version);
    const JsonValue* fit_bins = meta.find("fit_bins");
    if (fit_bins && preset.version < 5) {
      fail("fit_bins is not a field of version " + std::to_string(preset.version) +
           " files: fits on the lower bins came with version 5");
    }
    const int fit_rows = fit_bins ? integer(*fit_bins, "fit_bins", 2, preset.n_fft / 2) : 0;
    const double bands_above = fit_bands_above(meta, preset, fit_bins != nullptr);
    const JsonValue& sources = field(meta, "sources", "meta");
    if (sources.kind != JsonValue::Kind::Array) fail("sources must be a list, got " + show(sources));
    const int count = static_cast<int>(sources.items.size());
    if (count < 1 || count > PresetLimits::kMaxSources) {
      fail("sources: a preset holds 1 to 16 sources, got " + std::to_string(count));
    }
    std::vector<Entry> entries;
    for (int s = 0; s < count; ++s) entries.push_back(entry(sources.items[s], s, preset.version));
    for (int s = 0; s < count; ++s) {
      const std::string label = "sources[" + std::to_string(s) + "]";
      if (model != "nhmm" && entries[s].n_states != 1) {
        fail(label + " has " + std::to_string(entries[s].n_states) + " states but model '" +
             model + "' has one state per source (use model 'nhmm')");
      }
      if (entries[s].layers != entries[0].layers) {
        fail(label + ".layers is " + std::to_string(entries[s].layers) +
             " but sources[0].layers is " + std::to_string(entries[0].layers) +
             ": a preset's sources are all unfolded with the same layers, or none is");
      }
    }
    if (entries[0].layers > 0 && model != "nmf") {
      fail("model is '" + model + "' but the sources are unfolded, which model 'nmf' describes");
    }
    for (const std::string& key : encoder_names(encoder_size.layers, count)) {
      expected.push_back(prefix + key);
    }
    for (int s = 0; s < count; ++s) {
      for (const char* key : {".W", ".A", ".pi"}) {
        expected.push_back(prefix + "source" + std::to_string(s) + key);
      }
    }
    auto built = std::make_shared<Model>();
    bool single = true;
    std::int64_t total = 0;
    for (int s = 0; s < count; ++s) {
      built->sources.push_back(source(entries[s], s, preset.n_fft / 2 + 1, prefix, total));
      preset.source_names.push_back(entries[s].name);
      single = single && entries[s].n_states == 1;
    }
    FilterSettings& settings = built->settings;
    settings.activation.divergence = Divergence::KullbackLeibler;
    settings.activation.l1 = 0.0f;
    settings.activation.epsilon = 1e-9f;
    settings.activation.n_iter = single ? inference.single_state_iterations : inference.state_iterations;
    settings.reseed_floor = single ? inference.single_state_floor : inference.state_floor;
    settings.beam = inference.beam;
    settings.likelihood_counts = inference.likelihood_counts;
    settings.forgetting = static_cast<float>(inference.forgetting);
    settings.adaptation_prior = inference.adaptation_prior;
    // A companion's masks are mixed in before the smoothing, which is its preset's.
    built->mask_smoothing = single && prefix.empty() ? inference.single_state_smoothing : 0.0;
    if (encoder_size.hidden > 0) {
      std::vector<int> components;
      for (const Entry& entry : entries) components.push_back(entry.n_components);
      built->encoder = encoder(encoder_size, preset.n_fft / 2 + 1, components, prefix, total);
    }
    if (prefix.empty()) {
      attach_companion(meta, preset, *built, inference, expected);
    } else if (meta.find("companion") != nullptr) {
      fail(where + "companion: a companion has no companion of its own");
    }
    FactorialFilter probe;  // an impossible geometry fails here, not on the audio thread
    try {
      std::vector<float> floors;
      for (const Entry& entry : entries) floors.push_back(entry.floor);
      add_floors(*built, floors);
      if (fit_rows > 0) {
        fit_lower_bins(*built, fit_rows);
      } else if (bands_above > 0.0) {
        std::vector<int> edges = octave_band_edges(preset.sr, preset.n_fft, bands_above);
        if (static_cast<int>(edges.size()) - 1 < built->n_bins()) {
          fit_on_bands(*built, std::move(edges));
        }
      } else if (std::vector<int> edges = covered_band_edges(*built); !edges.empty()) {
        fit_on_bands(*built, std::move(edges));
      }
      probe.prepare(built->sources, built->settings);
      if (built->encoder || built->companion) ModelRuntime runtime_probe(built, 2.0f);
    } catch (const ParameterError& error) {
      fail(where + error.what());
    }
    preset.mask_power = inference.mask_power;
    preset.model = std::move(built);
    return preset;
  }

  // meta's "fit_bands_above" (version 7 on): the frequency in (0, sr / 2) above which the fit
  // runs on 1/12-octave bands, or 0 without it.
  double fit_bands_above(const JsonValue& meta, const Preset& preset, bool has_fit_bins) const {
    const JsonValue* value = meta.find("fit_bands_above");
    if (value == nullptr) return 0.0;
    if (preset.version < 7) {
      fail("fit_bands_above is not a field of version " + std::to_string(preset.version) +
           " files: fits on bands came with version 7");
    }
    if (value->kind != JsonValue::Kind::Number || !(value->number > 0.0) ||
        !(value->number < preset.sr / 2.0)) {
      fail("fit_bands_above must be a number of Hz in (0, " + std::to_string(preset.sr / 2) +
           "), got " + show(*value));
    }
    if (has_fit_bins) fail("fit_bands_above and fit_bins exclude each other: give one");
    return value->number;
  }

  // A companion from meta's "companion" (version 6 on), read as `model`'s.
  void attach_companion(const JsonValue& meta, const Preset& preset, Model& model,
                        const PresetInference& inference, std::vector<std::string>& expected) {
    const JsonValue* value = meta.find("companion");
    if (value == nullptr) return;
    if (preset.version < 6) {
      fail("companion is not a field of version " + std::to_string(preset.version) +
           " files: companions came with version 6");
    }
    if (value->kind != JsonValue::Kind::Object || value->fields.size() != 2) {
      fail("companion must be a JSON object with the fields 'share' and 'preset'");
    }
    const JsonValue& share = field(*value, "share", "companion");
    if (share.kind != JsonValue::Kind::Number || !(share.number > 0.0 && share.number < 1.0)) {
      fail("companion.share must be a number in (0, 1), got " + show(share));
    }
    const Preset other = level(field(*value, "preset", "companion"), "companion.", preset.version,
                               inference, expected);
    // At a lower rate, frames as long in seconds: the companion reads the lower bins.
    const auto seconds_apart = [](std::int64_t a, int a_sr, std::int64_t b, int b_sr) {
      return a * b_sr != b * a_sr;
    };
    if (other.sr > preset.sr || seconds_apart(other.n_fft, other.sr, preset.n_fft, preset.sr) ||
        seconds_apart(other.hop, other.sr, preset.hop, preset.sr) ||
        other.source_names != preset.source_names) {
      fail("the companion '" + other.name + "' must have this preset's sources, and its "
           "n_fft and hop_length at this preset's sr or a lower one, as long in seconds");
    }
    model.companion = other.model;
    model.companion_share = static_cast<float>(share.number);
  }

  Entry entry(const JsonValue& value, int index, int version) const {
    const std::string label = "sources[" + std::to_string(index) + "]";
    if (value.kind != JsonValue::Kind::Object) fail(label + " must be a JSON object");
    for (const auto& item : value.fields) {
      const std::string& key = item.first;
      if (key != "name" && key != "n_states" && key != "n_components" && key != "adaptive" &&
          key != "frames" && key != "layers" && key != "floor" && key != "provenance") {
        fail(label + ": unexpected field '" + key + "'");
      }
    }
    Entry result;
    result.name = text(field(value, "name", label), label + ".name");
    result.n_states = integer(field(value, "n_states", label), label + ".n_states", 1,
                              PresetLimits::kMaxElements);
    result.n_components = integer(field(value, "n_components", label), label + ".n_components",
                                  1, PresetLimits::kMaxElements);
    if (const JsonValue* adaptive = value.find("adaptive")) {
      if (adaptive->kind != JsonValue::Kind::Bool) {
        fail(label + ".adaptive must be true or false, got " + show(*adaptive));
      }
      result.adaptive = adaptive->boolean;
    }
    if (const JsonValue* frames = value.find("frames")) {
      result.frames = integer(*frames, label + ".frames", 1, PresetLimits::kMaxFrames);
    }
    if (const JsonValue* layers = value.find("layers")) {
      if (version < 2) fail(label + ".layers is not a field of version 1 files");
      result.layers = integer(*layers, label + ".layers", 0, PresetLimits::kMaxLayers);
    }
    if (const JsonValue* floor = value.find("floor")) {
      if (version < 4) {
        fail(label + ".floor is not a field of version " + std::to_string(version) +
             " files: noise floors came with version 4");
      }
      if (floor->kind != JsonValue::Kind::Number || !(floor->number > 0.0) ||
          !(floor->number <= PresetLimits::kMaxFloorWeight)) {
        fail(label + ".floor must be a number in (0, " +
             std::to_string(static_cast<int>(PresetLimits::kMaxFloorWeight)) + "], got " +
             show(*floor));
      }
      if (result.adaptive || result.frames > 1) {
        fail(label + ": a source with a floor neither adapts nor spans frames");
      }
      result.floor = static_cast<float>(floor->number);
    }
    const bool special = result.frames > 1 || result.layers > 0;
    if (special && result.n_states != 1) {
      fail(label + ": a convolutive or unfolded source has one state, got " +
           std::to_string(result.n_states));
    }
    if ((special && result.adaptive) || (result.frames > 1 && result.layers > 0)) {
      fail(label + ": frames, layers and adaptive exclude each other");
    }
    return result;
  }

  SourceModel source(const Entry& entry, int index, int n_bins, const std::string& level,
                     std::int64_t& total) const {
    const std::string prefix = level + "source" + std::to_string(index);
    const int q = entry.n_states, k = entry.n_components;
    const int blocks = entry.layers > 0 ? entry.layers + 1 : entry.frames > 1 ? entry.frames : q;
    const std::string layout = entry.layers > 0 ? "layers + 1" : entry.frames > 1 ? "frames" : "n_states";
    const std::string of = " of sources[" + std::to_string(index) + "]";
    const NpyArray W = array(prefix + ".W", {blocks, n_bins, k},
                             "(" + layout + ", n_fft // 2 + 1, n_components)" + of, total);
    const NpyArray A = array(prefix + ".A", {q, q}, "(n_states, n_states)" + of, total);
    const NpyArray pi = array(prefix + ".pi", {q}, "(n_states,)" + of, total);
    // A convolutive source's template sums to 1 over its lags and bins together; an unfolded
    // source's estimate block (its last) keeps the column scale it was trained with.
    const int groups = entry.frames > 1 ? 1 : entry.layers > 0 ? entry.layers : blocks;
    for (int g = 0; g < groups; ++g) {
      for (int c = 0; c < k; ++c) {
        double sum = 0.0;
        for (int b = entry.frames > 1 ? 0 : g; b < (entry.frames > 1 ? blocks : g + 1); ++b) {
          for (int f = 0; f < n_bins; ++f) sum += W.values[(static_cast<std::size_t>(b) * n_bins + f) * k + c];
        }
        check_sum(sum, prefix + ".W: column [" + std::to_string(g) + ", :, " + std::to_string(c) + "]");
      }
    }
    for (int r = 0; r < q; ++r) {
      double sum = 0.0;
      for (int c = 0; c < q; ++c) sum += A.values[static_cast<std::size_t>(r) * q + c];
      check_sum(sum, prefix + ".A: row " + std::to_string(r));
    }
    double sum = 0.0;
    for (float value : pi.values) sum += value;
    check_sum(sum, prefix + ".pi");
    SourceModel built = make_source_model(W.values.data(), blocks, n_bins, k, A.values.data(),
                                          pi.values.data(), entry.frames, entry.layers);
    built.adaptive = entry.adaptive;
    return built;
  }
};

}  // namespace livesep
