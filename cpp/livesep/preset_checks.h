// The checks the preset reader (preset.h) makes of a preset file's JSON header and arrays:
// every failure is a PresetError naming the file, the field and the value. Main thread only.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/json.h"
#include "livesep/npz.h"

namespace livesep {

struct PresetLimits {
  static constexpr int kMinRate = 1000, kMaxRate = 384000;
  static constexpr int kMaxSources = 16, kMaxFrames = 64, kMaxLayers = 64;
  static constexpr std::int64_t kMaxElements = std::int64_t{64} << 20;
  static constexpr double kSumTolerance = 1e-3;
  static constexpr double kMaxFloorWeight = 1e6;
};

class PresetChecks {
 public:
  explicit PresetChecks(const NpzFile& file) : file_(file) {}

  // [main-thread] Throws a PresetError about the file.
  [[noreturn]] void fail(const std::string& message) const { file_.fail(message); }

  // [main-thread] A JSON value as an error message shows it.
  static std::string show(const JsonValue& value) {
    switch (value.kind) {
      case JsonValue::Kind::Null: return "null";
      case JsonValue::Kind::Bool: return value.boolean ? "true" : "false";
      case JsonValue::Kind::String: return "'" + value.text + "'";
      case JsonValue::Kind::Array: return "a list";
      case JsonValue::Kind::Object: return "an object";
      case JsonValue::Kind::Number: break;
    }
    std::string text = std::to_string(value.number);
    if (value.integral) text = std::to_string(static_cast<long long>(value.number));
    return text;
  }

  // [main-thread] The required field `key` of `object` (named `label` in messages).
  const JsonValue& field(const JsonValue& object, const std::string& key,
                         const std::string& label) const {
    const JsonValue* value = object.find(key);
    if (value == nullptr) fail(label + ": missing field '" + key + "'");
    return *value;
  }

  // [main-thread] `value` as an integer in [low, high].
  int integer(const JsonValue& value, const std::string& name, std::int64_t low,
              std::int64_t high) const {
    if (value.kind != JsonValue::Kind::Number || !value.integral || value.number < low ||
        value.number > high) {
      fail(name + " must be an integer in [" + std::to_string(low) + ", " +
           std::to_string(high) + "], got " + show(value));
    }
    return static_cast<int>(value.number);
  }

  // [main-thread] `value` as a string.
  std::string text(const JsonValue& value, const std::string& name) const {
    if (value.kind != JsonValue::Kind::String) fail(name + " must be a string, got " + show(value));
    return value.text;
  }

  // [main-thread] The array `name` of shape `expected`, finite and (unless `signed_values`)
  // non-negative; `total` counts the numbers read so far, bounded by kMaxElements.
  NpyArray array(const std::string& name, const std::vector<std::int64_t>& expected,
                 const std::string& meaning, std::int64_t& total,
                 bool signed_values = false) const {
    if (!file_.has(name)) fail("missing array '" + name + "'");
    NpyArray result = file_.read(name);
    if (result.is_text) fail(name + ": must hold floating-point numbers (float32)");
    if (result.shape != expected) {
      fail(name + ": shape " + shape_text(result.shape) + " does not match " + meaning + " = " +
           shape_text(expected) + " declared by meta");
    }
    total += result.size();
    if (total > PresetLimits::kMaxElements) fail(name + ": the arrays hold too many numbers");
    for (std::size_t i = 0; i < result.values.size(); ++i) {
      const float value = result.values[i];
      if (!std::isfinite(value) || (value < 0.0f && !signed_values)) {
        fail(name + " holds a " + (std::isfinite(value) ? "negative" : "non-finite") +
             " value (" + std::to_string(value) + ") at flat index " + std::to_string(i));
      }
    }
    return result;
  }

  // [main-thread] A shape as numpy prints it.
  static std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
      text += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
    }
    return text + ")";
  }

  // [main-thread] Refuses a distribution (`what`) that does not sum to 1.
  void check_sum(double sum, const std::string& what) const {
    if (std::abs(sum - 1.0) > PresetLimits::kSumTolerance) {
      fail(what + " sums to " + std::to_string(sum) + ", not 1 (tolerance 0.001)");
    }
  }

 protected:
  const NpzFile& file_;
};

}  // namespace livesep
