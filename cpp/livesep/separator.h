// The processor that owns the whole per-frame pipeline: streaming STFT in, one spectrum per
// source out, overlap-add. Lifecycle as in pedalboard: prepare(config) allocates everything,
// process(...) is noexcept and allocation-free for any block size, reset() clears the state.
#pragma once

#include <algorithm>
#include <string>

#include "livesep/denormals.h"
#include "livesep/errors.h"
#include "livesep/stft.h"

namespace livesep {

struct SeparatorConfig {
  int sample_rate = 16000;
  int n_fft = 512;
  int hop = 128;
  int n_sources = 2;
};

class Separator {
 public:
  // [main-thread] Validates the configuration and allocates every buffer.
  void prepare(const SeparatorConfig& config) {
    if (config.sample_rate < 1000 || config.sample_rate > 384000) {
      throw ParameterError("sample rate must be in [1000, 384000] Hz, got " +
                           std::to_string(config.sample_rate));
    }
    if (config.n_sources < 1 || config.n_sources > 16) {
      throw ParameterError("the number of sources must be in [1, 16], got " +
                           std::to_string(config.n_sources));
    }
    prepared_ = false;
    stft_.prepare(config.n_fft, config.hop, config.n_sources);
    config_ = config;
    prepared_ = true;
  }

  // [audio-thread] Back to silence; the configuration stays.
  void reset() noexcept {
    if (prepared_) stft_.reset();
  }

  bool prepared() const noexcept { return prepared_; }
  const SeparatorConfig& config() const noexcept { return config_; }
  int n_bins() const noexcept { return stft_.n_bins(); }
  // Output sample t is the separation of input sample t - latency_samples().
  int latency_samples() const noexcept { return prepared_ ? stft_.latency_samples() : 0; }

  // [audio-thread] n >= 1 mono input samples in[i * in_stride] to n_sources output channels,
  // out[s * channel_stride + i * sample_stride]. Writes silence when not prepared.
  void process(const float* in, std::ptrdiff_t in_stride, float* out,
               std::ptrdiff_t channel_stride, std::ptrdiff_t sample_stride, int n) noexcept {
    if (!prepared_) {
      for (int s = 0; s < config_.n_sources; ++s) {
        for (int i = 0; i < n; ++i) out[s * channel_stride + i * sample_stride] = 0.0f;
      }
      return;
    }
    ScopedFlushDenormals flush_denormals;
    const int n_bins = stft_.n_bins();
    const int n_sources = config_.n_sources;
    stft_.process(in, in_stride, out, channel_stride, sample_stride, n,
                  [n_bins, n_sources](const Complex* mixture, Complex* sources) noexcept {
                    for (int s = 0; s < n_sources; ++s) {
                      std::copy(mixture, mixture + n_bins, sources + s * n_bins);
                    }
                  });
  }

  // [audio-thread] Planar output: out is n_sources x n, row-major.
  void process(const float* in, float* out, int n) noexcept { process(in, 1, out, n, 1, n); }

 private:
  SeparatorConfig config_;
  StreamingStft stft_;
  bool prepared_ = false;
};

}  // namespace livesep
