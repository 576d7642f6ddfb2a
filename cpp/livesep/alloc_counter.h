// Counts the heap allocations made by this extension's own code. Every call site of malloc
// and operator new in the module is redirected at link time (ld --wrap) to a wrapper that
// increments this counter, so a test can prove that a code path allocates nothing.
#pragma once

#include <cstdint>

namespace livesep {

// [any-thread] The number of allocations made by the module since it was loaded.
std::uint64_t allocation_count() noexcept;

}  // namespace livesep
