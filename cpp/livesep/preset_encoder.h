// Reading model "nae"'s recurrent encoder from a preset file (preset.h reads the rest): its
// sizes from the JSON header, its weights from the arrays. Main thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "livesep/encoder.h"
#include "livesep/preset_checks.h"

namespace livesep {

class PresetEncoderReader : public PresetChecks {
 public:
  using PresetChecks::PresetChecks;

  // Model "nae"'s encoder sizes from meta (0 hidden units without one); version 3 on, and
  // noise-aware features (twice the inputs) from version 6 on.
  struct EncoderSize {
    int hidden = 0, layers = 0;
    bool noise_aware = false;
  };

  // [main-thread]
  EncoderSize encoder_entry(const JsonValue& meta, const std::string& model, int version) const {
    const JsonValue* value = meta.find("encoder");
    if (value == nullptr) {
      if (model == "nae") fail("model is 'nae' but meta has no 'encoder' field (its sizes)");
      return {};
    }
    if (version < 3) fail("encoder is not a field of version " + std::to_string(version) +
                          " files: recurrent encoders came with version 3");
    if (model != "nae") fail("meta has an 'encoder' field but model is '" + model + "', not 'nae'");
    const JsonValue* features = value->find("features");
    if (value->kind != JsonValue::Kind::Object ||
        value->fields.size() != (features != nullptr ? 3u : 2u)) {
      fail("encoder must be a JSON object with the fields 'hidden' and 'layers' (and "
           "'features')");
    }
    if (features != nullptr) {
      if (version < 6) {
        fail("encoder.features is not a field of version " + std::to_string(version) +
             " files: noise-aware encoders came with version 6");
      }
      if (features->kind != JsonValue::Kind::String || features->text != "noise-aware") {
        fail("encoder.features must be 'noise-aware', got " + show(*features));
      }
    }
    return {integer(field(*value, "hidden", "encoder"), "encoder.hidden", 1, 4096),
            integer(field(*value, "layers", "encoder"), "encoder.layers", 1, 16),
            features != nullptr};
  }

  // [main-thread] The encoder's array names in a file (without a companion's prefix).
  static std::vector<std::string> encoder_names(int layers, int n_sources) {
    if (layers == 0) return {};
    std::vector<std::string> names = {"encoder.input_weights", "encoder.input_bias"};
    for (int l = 0; l < layers; ++l) {
      for (const char* key : {"gate_inputs", "gate_hiddens", "gate_input_biases",
                              "gate_hidden_biases"}) {
        names.push_back("encoder.layer" + std::to_string(l) + "." + key);
      }
    }
    for (int s = 0; s < n_sources; ++s) {
      for (const char* key : {"output_weights", "output_biases", "output_scales"}) {
        names.push_back("encoder.source" + std::to_string(s) + "." + key);
      }
    }
    return names;
  }

  // [main-thread] The encoder's weights, its arrays' names prefixed by `level`.
  std::shared_ptr<const EncoderWeights> encoder(const EncoderSize& size, int n_bins,
                                                const std::vector<int>& components,
                                                const std::string& level,
                                                std::int64_t& total) const {
    const std::int64_t h = size.hidden;
    const auto matrix = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
      const NpyArray a = array(name, {rows, cols}, "the encoder's size", total, true);
      return RowMatrixF(Eigen::Map<const RowMatrixF>(a.values.data(), rows, cols));
    };
    const auto vector = [&](const std::string& name, std::int64_t n) {
      const NpyArray a = array(name, {n}, "the encoder's size", total, true);
      return Eigen::VectorXf(Eigen::Map<const Eigen::VectorXf>(a.values.data(), n));
    };
    auto weights = std::make_shared<EncoderWeights>();
    weights->noise_aware = size.noise_aware;
    weights->input_weights = matrix(level + "encoder.input_weights", h,
                                    size.noise_aware ? 2 * n_bins : n_bins);
    weights->input_bias = vector(level + "encoder.input_bias", h);
    for (int l = 0; l < size.layers; ++l) {
      const std::string layer = level + "encoder.layer" + std::to_string(l) + ".";
      weights->gate_inputs.push_back(matrix(layer + "gate_inputs", 3 * h, h));
      weights->gate_hiddens.push_back(matrix(layer + "gate_hiddens", 3 * h, h));
      weights->gate_input_biases.push_back(vector(layer + "gate_input_biases", 3 * h));
      weights->gate_hidden_biases.push_back(vector(layer + "gate_hidden_biases", 3 * h));
    }
    for (std::size_t s = 0; s < components.size(); ++s) {
      const std::string source = level + "encoder.source" + std::to_string(s) + ".";
      weights->output_weights.push_back(matrix(source + "output_weights", components[s], h));
      weights->output_biases.push_back(vector(source + "output_biases", components[s]));
      weights->output_scales.push_back(vector(source + "output_scales", components[s]));
    }
    try {
      weights->check();
    } catch (const ParameterError& error) {
      fail(error.what());
    }
    return weights;
  }
};

}  // namespace livesep
