#pragma once
// Reading what c-ares' parsers leave out of a DNS message (RFC 1035 §4.1):
// the TTLs of its answer records. Kept apart from the resolver so that it can
// be fuzzed on its own (fuzz/dns_answer_fuzzer.cpp): the bytes come from the
// network.

#include <cstddef>
#include <cstdint>

namespace tandem::federation {

// The smallest TTL (seconds) of the answer section's records; 0 when there
// are none or the message is malformed or truncated. Never reads outside
// [message, message + size).
std::int64_t dnsAnswerTtl(const unsigned char* message, std::size_t size);

}  // namespace tandem::federation
