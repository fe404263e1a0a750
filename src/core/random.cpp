#include "core/random.hpp"

#include <random>

namespace tandem::core {

std::uint64_t randomU64() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  return engine();
}

std::string randomToken(std::size_t length) {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out(length, '0');
  std::uint64_t bits = 0;
  int left = 0;
  for (auto& c : out) {
    if (left == 0) {
      bits = randomU64();
      left = 10;  // 10 symbols of 6 bits from 64 random bits
    }
    c = kAlphabet[(bits & 63) % 36];
    bits >>= 6;
    --left;
  }
  return out;
}

}  // namespace tandem::core
