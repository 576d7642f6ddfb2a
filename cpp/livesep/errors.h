// Exceptions thrown on the main thread when a configuration is invalid. The audio thread
// never throws; the bindings translate these to livesep.errors.ParameterError.
#pragma once

#include <stdexcept>
#include <string>

namespace livesep {

class ParameterError : public std::invalid_argument {
 public:
  explicit ParameterError(const std::string& message) : std::invalid_argument(message) {}
};

}  // namespace livesep
