// libFuzzer target: the TTL readers of DNS answers, positive and negative
// (federation/dns_message). Any bytes: each must return a TTL in [0, 2^31)
// and never read outside them.
#include "federation/dns_message.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto ttl = tandem::federation::dnsAnswerTtl(data, size);
  if (ttl < 0 || ttl > 0x7fffffff) std::abort();
  const auto negative = tandem::federation::dnsNegativeTtl(data, size);
  if (negative < 0 || negative > 0x7fffffff) std::abort();
  return 0;
}
