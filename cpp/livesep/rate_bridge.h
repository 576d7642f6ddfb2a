// A device rate <-> engine rate bridge around one engine call per audio callback.
//
// Input frames are resampled to the engine's rate, separated, resampled back and queued;
// every callback takes exactly its number of frames from the queue. The queue starts (and,
// after an underrun, starts again) by waiting until it holds one block plus a margin, then
// drops any excess: the smallest buffer that rides out the resamplers' +-1 frame jitter.
//
// Timing, in device frames: output frame t is the chain's frame t - offset(), and the chain
// (down then up, the engine left out) delays by its filters' group delays, so the
// resampling latency is offset() plus that delay (measured once in Python with an impulse).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "livesep/errors.h"
#include "livesep/resampler.h"
#include "livesep/separator.h"

namespace livesep {

struct ResamplerDesign {
  int up = 1;
  int down = 1;
  std::vector<float> taps;
};

class RateBridge {
 public:
  // [main-thread] down: device -> engine rate (mono); up: engine -> device rate (channels).
  void prepare(const ResamplerDesign& down, const ResamplerDesign& up, int channels,
               int margin, int max_block) {
    if (channels < 1 || margin < 0 || max_block < 1) {
      throw ParameterError("a rate bridge needs channels >= 1, margin >= 0 and max_block >= 1, "
                           "got " + std::to_string(channels) + ", " + std::to_string(margin) +
                           ", " + std::to_string(max_block));
    }
    channels_ = channels;
    margin_ = margin;
    max_block_ = max_block;
    down_.prepare(down.up, down.down, down.taps.data(), static_cast<int>(down.taps.size()), 1,
                  max_block);
    low_.assign(down_.max_output(max_block), 0.0f);
    const int low_max = static_cast<int>(low_.size());
    up_.prepare(up.up, up.down, up.taps.data(), static_cast<int>(up.taps.size()), channels,
                low_max);
    engine_out_.assign(static_cast<std::size_t>(low_max) * channels, 0.0f);
    up_out_.assign(static_cast<std::size_t>(up_.max_output(low_max)) * channels, 0.0f);
    fifo_capacity_ = 4 * max_block + 4096;
    fifo_.assign(static_cast<std::size_t>(fifo_capacity_) * channels, 0.0f);
    reset();
  }

  // [audio-thread] Back to an empty, unprimed queue and silent filters.
  void reset() noexcept {
    down_.reset();
    up_.reset();
    fifo_read_ = 0;
    fifo_level_ = 0;
    primed_ = false;
    offset_.store(0, std::memory_order_relaxed);
    underruns_.store(0, std::memory_order_relaxed);
    overflows_.store(0, std::memory_order_relaxed);
  }

  int channels() const noexcept { return channels_; }
  int max_block() const noexcept { return max_block_; }
  bool primed() const noexcept { return primed_; }
  // [any-thread] Counters the audio thread keeps.
  std::int64_t offset() const noexcept { return offset_.load(std::memory_order_relaxed); }
  std::int64_t underruns() const noexcept { return underruns_.load(std::memory_order_relaxed); }
  std::int64_t overflows() const noexcept { return overflows_.load(std::memory_order_relaxed); }

  // [audio-thread] Separates n <= max_block() device-rate samples x into out (n frames of
  // channels(), interleaved) through engine, which runs at the engine rate with channels()
  // output channels.
  void process(Separator& engine, const float* x, int n, float* out) noexcept {
    const int low = down_.process(x, n, low_.data());
    if (low > 0) {
      engine.process(low_.data(), 1, engine_out_.data(), 1, channels_, low);
      push(up_out_.data(), up_.process(engine_out_.data(), low, up_out_.data()));
    }
    if (!primed_) {
      if (fifo_level_ < n + margin_) {
        std::fill(out, out + static_cast<std::ptrdiff_t>(n) * channels_, 0.0f);
        offset_.fetch_add(n, std::memory_order_relaxed);
        return;
      }
      const int excess = fifo_level_ - (n + margin_);
      discard(excess);
      offset_.fetch_sub(excess, std::memory_order_relaxed);
      primed_ = true;
    }
    const int got = pop(out, n);
    if (got < n) {
      std::fill(out + static_cast<std::ptrdiff_t>(got) * channels_,
                out + static_cast<std::ptrdiff_t>(n) * channels_, 0.0f);
      offset_.fetch_add(n - got, std::memory_order_relaxed);
      underruns_.fetch_add(1, std::memory_order_relaxed);
      primed_ = false;
    }
  }

 private:
  void push(const float* frames, int n) noexcept {
    const int count = std::min(n, fifo_capacity_ - fifo_level_);
    if (count < n) overflows_.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < count; ++i) {
      const int slot = (fifo_read_ + fifo_level_ + i) % fifo_capacity_;
      std::copy_n(frames + static_cast<std::ptrdiff_t>(i) * channels_, channels_,
                  fifo_.data() + static_cast<std::ptrdiff_t>(slot) * channels_);
    }
    fifo_level_ += count;
  }

  int pop(float* out, int n) noexcept {
    const int count = std::min(n, fifo_level_);
    for (int i = 0; i < count; ++i) {
      const int slot = (fifo_read_ + i) % fifo_capacity_;
      std::copy_n(fifo_.data() + static_cast<std::ptrdiff_t>(slot) * channels_, channels_,
                  out + static_cast<std::ptrdiff_t>(i) * channels_);
    }
    discard(count);
    return count;
  }

  void discard(int n) noexcept {
    fifo_read_ = (fifo_read_ + n) % fifo_capacity_;
    fifo_level_ -= n;
  }

  Resampler down_, up_;
  int channels_ = 1, margin_ = 0, max_block_ = 1;
  std::vector<float> low_, engine_out_, up_out_, fifo_;
  int fifo_capacity_ = 1, fifo_read_ = 0, fifo_level_ = 0;
  bool primed_ = false;
  std::atomic<std::int64_t> offset_{0}, underruns_{0}, overflows_{0};
};

}  // namespace livesep
