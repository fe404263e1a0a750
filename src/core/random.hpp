#pragma once
// Fast non-cryptographic random tokens for SIP tags, branches and Call-IDs
// (RFC 3261 §19.3 asks for global uniqueness, not secrecy). Secrets come from
// OpenSSL instead (registrar/digest.hpp).

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem::core {

// `length` characters from [0-9a-z], from a per-thread generator seeded once
// from std::random_device.
std::string randomToken(std::size_t length);
std::uint64_t randomU64();

}  // namespace tandem::core
