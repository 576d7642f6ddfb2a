// Exceptions thrown on the main thread when a configuration or a preset file is invalid. The
// audio thread never throws; the bindings translate ParameterError to
// livesep.errors.ParameterError.
#pragma once

#include <stdexcept>
#include <string>

namespace livesep {

class ParameterError : public std::invalid_argument {
 public:
  explicit ParameterError(const std::string& message) : std::invalid_argument(message) {}
};

// A preset file that cannot be read: the message names the file, the field and the value.
class PresetError : public std::runtime_error {
 public:
  explicit PresetError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace livesep
