// The live path's resampling chain around an engine at another rate, in C++ for hosts
// without Python (the LV2 plugin): the same short Kaiser-window filters livesep.resampling
// designs with scipy (live=True: 70 dB, flat to 35 % of the lower rate), the same chain
// (livesep.resampling.chain) and hence the same samples as `livesep separate --mode online`
// at that rate, `delay` samples later.
//
// Unlike RateBridge (a device callback, which primes a queue), RateChain runs the chain
// with no queue priming: after N input samples the chain has always completed at least N
// output samples (ceil(ceil(N u / d) d / u) >= N), so every call returns its n samples at
// once and the latency is exactly `delay`, whatever the block sizes.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/rate_bridge.h"
#include "livesep/resampler.h"
#include "livesep/separator.h"

namespace livesep {

struct ChainDesign {
  ResamplerDesign down, up;
  int up_input_delay = 0;
  int delay = 0;  // input sample t of the device comes out as output sample t + delay
};

namespace chain_detail {

inline double bessel_i0(double x) {
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < 500 && term > 1e-17 * sum; ++k) {
    const double half = x / (2.0 * k);
    term *= half * half;
    sum += term;
  }
  return sum;
}

inline long gcd(long a, long b) { return b == 0 ? a : gcd(b, a % b); }

// livesep.resampling._design(in_rate, out_rate, input_delay, live=True): taps and centre.
inline ResamplerDesign design(int in_rate, int out_rate, int input_delay, int& centre) {
  const long divisor = gcd(in_rate, out_rate);
  const int up = static_cast<int>(out_rate / divisor), down = static_cast<int>(in_rate / divisor);
  if (std::max(up, down) > 1024) {
    throw ParameterError("cannot resample " + std::to_string(in_rate) + " Hz <-> " +
                         std::to_string(out_rate) + " Hz: the ratio needs more than 1024 phases");
  }
  const double low = std::min(in_rate, out_rate), prototype_rate = double(in_rate) * up;
  const double attenuation = 70.0, passband = 0.35;
  const double stopband = out_rate < in_rate ? 1.0 - passband : 0.5;
  const double width = (stopband - passband) * low / (0.5 * prototype_rate);
  const double pi = std::acos(-1.0);
  // scipy.signal.kaiserord and kaiser_beta
  const double beta = 0.1102 * (attenuation - 8.7);
  int numtaps = static_cast<int>(std::ceil((attenuation - 7.95) / 2.285 / (pi * width) + 1.0));
  numtaps |= 1;
  // scipy.signal.firwin: windowed sinc, scaled to unit gain at DC, then times up.
  const double cutoff = 0.5 * (passband + stopband) * low / (0.5 * prototype_rate);
  const double alpha = 0.5 * (numtaps - 1);
  std::vector<double> h(numtaps);
  double total = 0.0;
  for (int n = 0; n < numtaps; ++n) {
    const double m = n - alpha, x = cutoff * m;
    const double sinc = x == 0.0 ? 1.0 : std::sin(pi * x) / (pi * x);
    const double r = 2.0 * n / (numtaps - 1) - 1.0;
    const double window = bessel_i0(beta * std::sqrt(std::max(0.0, 1.0 - r * r))) / bessel_i0(beta);
    h[n] = cutoff * sinc * window;
    total += h[n];
  }
  const long half = (numtaps - 1) / 2;
  const long lead = ((-(static_cast<long>(input_delay) * up + half)) % down + down) % down;
  ResamplerDesign result;
  result.up = up;
  result.down = down;
  result.taps.assign(lead, 0.0f);
  for (double value : h) result.taps.push_back(static_cast<float>(value / total * up));
  centre = static_cast<int>(lead + half);
  return result;
}

inline int output_delay(const ResamplerDesign& design, int input_delay, int centre) {
  return static_cast<int>((static_cast<long>(input_delay) * design.up + centre) / design.down);
}

}  // namespace chain_detail

// [main-thread] livesep.resampling.chain(device_rate, engine_rate, engine_latency).
inline ChainDesign design_chain(int device_rate, int engine_rate, int engine_latency) {
  ChainDesign chain;
  int centre = 0;
  chain.down = chain_detail::design(device_rate, engine_rate, 0, centre);
  const int lag = chain_detail::output_delay(chain.down, 0, centre) + engine_latency;
  chain.up = chain_detail::design(engine_rate, device_rate, lag, centre);
  chain.up_input_delay = lag;
  chain.delay = chain_detail::output_delay(chain.up, lag, centre);
  return chain;
}

class RateChain {
 public:
  // [main-thread] channels: the engine's output channels; max_block: the most samples per
  // process call.
  void prepare(const ChainDesign& design, int channels, int max_block) {
    channels_ = channels;
    max_block_ = max_block;
    delay_ = design.delay;
    down_.prepare(design.down.up, design.down.down, design.down.taps.data(),
                  static_cast<int>(design.down.taps.size()), 1, max_block);
    const int low_max = down_.max_output(max_block);
    low_.assign(low_max, 0.0f);
    engine_out_.assign(static_cast<std::size_t>(low_max) * channels, 0.0f);
    up_.prepare(design.up.up, design.up.down, design.up.taps.data(),
                static_cast<int>(design.up.taps.size()), channels, low_max);
    up_out_.assign(static_cast<std::size_t>(up_.max_output(low_max)) * channels, 0.0f);
    capacity_ = 2 * up_.max_output(low_max) + 64;
    fifo_.assign(static_cast<std::size_t>(capacity_) * channels, 0.0f);
    reset();
  }

  int latency_samples() const noexcept { return delay_; }
  int max_block() const noexcept { return max_block_; }

  // [audio-thread]
  void reset() noexcept {
    down_.reset();
    up_.reset();
    read_ = level_ = 0;
  }

  // [audio-thread] n <= max_block() device samples x to n frames of channels() outputs,
  // interleaved, through engine (prepared at the engine rate with channels() outputs).
  void process(Separator& engine, const float* x, int n, float* out) noexcept {
    const int low = down_.process(x, n, low_.data());
    if (low > 0) {
      engine.process(low_.data(), 1, engine_out_.data(), 1, channels_, low);
      const int produced = up_.process(engine_out_.data(), low, up_out_.data());
      for (int i = 0; i < produced && level_ < capacity_; ++i, ++level_) {
        const int slot = (read_ + level_) % capacity_;
        std::copy_n(up_out_.data() + static_cast<std::ptrdiff_t>(i) * channels_, channels_,
                    fifo_.data() + static_cast<std::ptrdiff_t>(slot) * channels_);
      }
    }
    const int available = std::min(n, level_);  // always n: see the header's note
    for (int i = 0; i < available; ++i) {
      std::copy_n(fifo_.data() + static_cast<std::ptrdiff_t>(read_) * channels_, channels_,
                  out + static_cast<std::ptrdiff_t>(i) * channels_);
      read_ = (read_ + 1) % capacity_;
    }
    level_ -= available;
    std::fill(out + static_cast<std::ptrdiff_t>(available) * channels_,
              out + static_cast<std::ptrdiff_t>(n) * channels_, 0.0f);
  }

 private:
  Resampler down_, up_;
  int channels_ = 1, max_block_ = 1, delay_ = 0, capacity_ = 1, read_ = 0, level_ = 0;
  std::vector<float> low_, engine_out_, up_out_, fifo_;
};

}  // namespace livesep
