#pragma once
// Reading what c-ares' parsers leave out of a DNS message (RFC 1035 §4.1):
// the TTLs of its answer records, and how long a negative answer holds. Kept apart from the
// resolver so that it can be fuzzed on its own (fuzz/dns_answer_fuzzer.cpp): the bytes come from
// the network.

#include <cstddef>
#include <cstdint>

namespace tandem::federation {

// The smallest TTL (seconds) of the answer section's records; 0 when there
// are none or the message is malformed or truncated. Never reads outside
// [message, message + size).
std::int64_t dnsAnswerTtl(const unsigned char* message, std::size_t size);

// How long a negative answer (NXDOMAIN, or no records of the type) may be
// kept, RFC 2308 §5: the smaller of the TTL and the MINIMUM field of the SOA
// record in the authority section. 0 without an SOA (such answers are not
// kept), with answer records, or when malformed. Never reads outside
// [message, message + size).
std::int64_t dnsNegativeTtl(const unsigned char* message, std::size_t size);

}  // namespace tandem::federation
