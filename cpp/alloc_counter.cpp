// Link-time wrappers (ld --wrap=SYMBOL, see CMakeLists.txt) around every allocation entry
// point the module's code calls. Each counts, then forwards to the real allocator.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include "livesep/alloc_counter.h"

namespace {
std::atomic<std::uint64_t> allocations{0};
inline void count() noexcept { allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

namespace livesep {
std::uint64_t allocation_count() noexcept { return allocations.load(std::memory_order_relaxed); }
}  // namespace livesep

extern "C" {
void* __real_malloc(std::size_t size);
void* __real_calloc(std::size_t count, std::size_t size);
void* __real_realloc(void* pointer, std::size_t size);
int __real_posix_memalign(void** out, std::size_t alignment, std::size_t size);
void* __real_aligned_alloc(std::size_t alignment, std::size_t size);
void* __real__Znwm(std::size_t size);
void* __real__Znam(std::size_t size);
void* __real__ZnwmSt11align_val_t(std::size_t size, std::align_val_t alignment);
void* __real__ZnamSt11align_val_t(std::size_t size, std::align_val_t alignment);
void* __real__ZnwmRKSt9nothrow_t(std::size_t size, const std::nothrow_t& tag);
void* __real__ZnamRKSt9nothrow_t(std::size_t size, const std::nothrow_t& tag);

void* __wrap_malloc(std::size_t size) {
  count();
  return __real_malloc(size);
}
void* __wrap_calloc(std::size_t n, std::size_t size) {
  count();
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* pointer, std::size_t size) {
  count();
  return __real_realloc(pointer, size);
}
int __wrap_posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  count();
  return __real_posix_memalign(out, alignment, size);
}
void* __wrap_aligned_alloc(std::size_t alignment, std::size_t size) {
  count();
  return __real_aligned_alloc(alignment, size);
}
void* __wrap__Znwm(std::size_t size) {
  count();
  return __real__Znwm(size);
}
void* __wrap__Znam(std::size_t size) {
  count();
  return __real__Znam(size);
}
void* __wrap__ZnwmSt11align_val_t(std::size_t size, std::align_val_t alignment) {
  count();
  return __real__ZnwmSt11align_val_t(size, alignment);
}
void* __wrap__ZnamSt11align_val_t(std::size_t size, std::align_val_t alignment) {
  count();
  return __real__ZnamSt11align_val_t(size, alignment);
}
void* __wrap__ZnwmRKSt9nothrow_t(std::size_t size, const std::nothrow_t& tag) {
  count();
  return __real__ZnwmRKSt9nothrow_t(size, tag);
}
void* __wrap__ZnamRKSt9nothrow_t(std::size_t size, const std::nothrow_t& tag) {
  count();
  return __real__ZnamRKSt9nothrow_t(size, tag);
}
}
