// Single-producer / single-consumer rings between the audio thread (producer) and the main
// thread (consumer). Wait-free on both sides: a full ring drops the newest record (counted)
// instead of blocking the audio thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

namespace livesep {

// Slots of fixed size, each holding n_floats floats and one 64-bit tag.
class FloatRecordRing {
 public:
  // [main-thread] Allocates capacity slots of record_floats floats (not concurrent with use).
  void prepare(int capacity, int record_floats) {
    capacity_ = std::max(1, capacity);
    record_floats_ = std::max(1, record_floats);
    storage_.assign(static_cast<std::size_t>(capacity_) * record_floats_, 0.0f);
    tags_.assign(capacity_, 0);
    write_.store(0);
    read_.store(0);
    dropped_.store(0);
  }

  int capacity() const noexcept { return capacity_; }
  int record_floats() const noexcept { return record_floats_; }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  // [audio-thread] The slot to fill next, or null when the consumer lags a full ring behind.
  float* begin_write() noexcept {
    if (capacity_ == 0) return nullptr;
    const std::uint64_t write = write_.load(std::memory_order_relaxed);
    if (write - read_.load(std::memory_order_acquire) >= static_cast<std::uint64_t>(capacity_)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    return storage_.data() + slot(write) * record_floats_;
  }

  // [audio-thread] Publishes the slot begin_write returned, with its tag.
  void end_write(std::uint64_t tag) noexcept {
    const std::uint64_t write = write_.load(std::memory_order_relaxed);
    tags_[slot(write)] = tag;
    write_.store(write + 1, std::memory_order_release);
  }

  // [main-thread] Copies up to max_records of the oldest records out; returns how many.
  int pop(float* records, std::uint64_t* tags, int max_records) noexcept {
    const std::uint64_t read = read_.load(std::memory_order_relaxed);
    const std::uint64_t available = write_.load(std::memory_order_acquire) - read;
    const int count = static_cast<int>(std::min<std::uint64_t>(available, max_records));
    for (int i = 0; i < count; ++i) {
      const std::size_t s = slot(read + i);
      std::copy_n(storage_.data() + s * record_floats_, record_floats_,
                  records + static_cast<std::size_t>(i) * record_floats_);
      tags[i] = tags_[s];
    }
    read_.store(read + count, std::memory_order_release);
    return count;
  }

  // [main-thread] Records waiting to be popped.
  int available() const noexcept {
    return static_cast<int>(write_.load(std::memory_order_acquire) -
                            read_.load(std::memory_order_relaxed));
  }

 private:
  std::size_t slot(std::uint64_t index) const noexcept {
    return static_cast<std::size_t>(index % static_cast<std::uint64_t>(capacity_));
  }

  int capacity_ = 0;
  int record_floats_ = 0;
  std::vector<float> storage_;
  std::vector<std::uint64_t> tags_;
  std::atomic<std::uint64_t> write_{0};
  std::atomic<std::uint64_t> read_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

// Frames of a fixed number of float channels, for streaming audio out of the audio thread
// (the live recorder). The consumer reads the storage in place between its read and write
// positions, then releases what it read.
class FrameRing {
 public:
  // [main-thread] Allocates and faults in capacity frames of channels floats.
  void prepare(int capacity, int channels) {
    capacity_ = std::max(1, capacity);
    channels_ = std::max(1, channels);
    storage_.assign(static_cast<std::size_t>(capacity_) * channels_, 0.0f);
    write_.store(0);
    read_.store(0);
    dropped_.store(0);
  }

  int capacity() const noexcept { return capacity_; }
  int channels() const noexcept { return channels_; }
  float* data() noexcept { return storage_.data(); }
  // Frames the producer could not fit (it drops whole blocks rather than wait).
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  // [audio-thread] Appends n frames: channel 0 from first[i * first_stride], channels 1...
  // from rest[i * rest_stride + c]; drops them all (counted) when they do not fit.
  void push(const float* first, std::ptrdiff_t first_stride, const float* rest,
            std::ptrdiff_t rest_stride, int n) noexcept {
    const std::uint64_t write = write_.load(std::memory_order_relaxed);
    const std::uint64_t used = write - read_.load(std::memory_order_acquire);
    if (n > capacity_ - static_cast<std::int64_t>(used)) {
      dropped_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      return;
    }
    for (int i = 0; i < n; ++i) {
      float* frame = storage_.data() + ((write + i) % capacity_) * channels_;
      frame[0] = first[i * first_stride];
      for (int c = 1; c < channels_; ++c) frame[c] = rest[i * rest_stride + c - 1];
    }
    write_.store(write + n, std::memory_order_release);
  }

  // [consumer] The frames [read, write) waiting, as absolute positions (modulo capacity
  // in the storage).
  std::uint64_t read_position() const noexcept { return read_.load(std::memory_order_relaxed); }
  std::uint64_t write_position() const noexcept { return write_.load(std::memory_order_acquire); }
  // [consumer] Hands n frames back to the producer.
  void release(std::uint64_t n) noexcept {
    read_.store(read_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

 private:
  int capacity_ = 1;
  int channels_ = 1;
  std::vector<float> storage_;
  std::atomic<std::uint64_t> write_{0};
  std::atomic<std::uint64_t> read_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace livesep
