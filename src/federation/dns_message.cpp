#include "federation/dns_message.hpp"

#include <ares.h>

#include <algorithm>
#include <climits>

namespace tandem::federation {

std::int64_t dnsAnswerTtl(const unsigned char* message, std::size_t size) {
  if (message == nullptr || size < 12 || size > INT_MAX) return 0;
  const int alen = static_cast<int>(size);
  const int questions = (message[4] << 8) | message[5];
  const int answers = (message[6] << 8) | message[7];
  if (answers == 0) return 0;
  const unsigned char* p = message + 12;
  const unsigned char* const end = message + size;
  // Moves p past a (possibly compressed) name; false when it does not parse.
  const auto skipName = [&] {
    if (p >= end) return false;
    char* name = nullptr;
    long length = 0;
    if (ares_expand_name(p, message, alen, &name, &length) != ARES_SUCCESS) return false;
    ares_free_string(name);
    if (length <= 0 || length > end - p) return false;
    p += length;
    return true;
  };
  for (int i = 0; i < questions; ++i) {
    if (!skipName() || end - p < 4) return 0;
    p += 4;  // QTYPE, QCLASS
  }
  std::int64_t ttl = -1;
  for (int i = 0; i < answers; ++i) {
    if (!skipName() || end - p < 10) return 0;
    // TYPE, CLASS, TTL (32 bits, RFC 2181 §8: the top bit set means 0), RDLENGTH.
    std::int64_t recordTtl = (std::int64_t{p[4]} << 24) | (std::int64_t{p[5]} << 16) |
                             (std::int64_t{p[6]} << 8) | std::int64_t{p[7]};
    if (recordTtl > 0x7fffffff) recordTtl = 0;
    const int length = (p[8] << 8) | p[9];
    p += 10;
    if (end - p < length) return 0;
    p += length;
    ttl = ttl < 0 ? recordTtl : std::min(ttl, recordTtl);
  }
  return ttl < 0 ? 0 : ttl;
}

}  // namespace tandem::federation
