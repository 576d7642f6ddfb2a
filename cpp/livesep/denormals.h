// Flushes denormal floats to zero for the lifetime of a scope on the audio thread: decaying
// filter states and overlap-add tails would otherwise fall into slow denormal arithmetic.
#pragma once

#include <cstdint>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace livesep {

class ScopedFlushDenormals {
 public:
  // [audio-thread]
  ScopedFlushDenormals() noexcept {
#if defined(__SSE__) || defined(__x86_64__)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
#elif defined(__aarch64__)
    std::uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    saved_ = fpcr;
    fpcr |= kAarch64FlushToZero;
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
#endif
  }

  ~ScopedFlushDenormals() {
#if defined(__SSE__) || defined(__x86_64__)
    _mm_setcsr(static_cast<unsigned int>(saved_));
#elif defined(__aarch64__)
    __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_));
#endif
  }

  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  static constexpr unsigned int kFlushToZero = 0x8000;
  static constexpr unsigned int kDenormalsAreZero = 0x0040;
  static constexpr std::uint64_t kAarch64FlushToZero = std::uint64_t{1} << 24;
  std::uint64_t saved_ = 0;
};

}  // namespace livesep
