#pragma once
// Replaces the global operator new/delete of the one program that includes
// this (in one translation unit) with malloc/free plus a count of allocations.

#include <atomic>
#include <cstdlib>
#include <new>

namespace tandem::bench {
inline std::atomic<long> allocations{0};
}  // namespace tandem::bench

// GCC cannot tell replacements of the global operators from a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  tandem::bench::allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
