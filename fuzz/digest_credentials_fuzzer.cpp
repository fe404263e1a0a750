// libFuzzer target for parseCredentials (Authorization / Proxy-Authorization:
// Digest …): any bytes must parse or be rejected without crashing, and every
// value of parsed credentials must view the input or its own unescaped copy.
#include "registrar/digest.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace tandem::registrar;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = parseCredentials(text);
  if (!parsed) return 0;
  const auto valid = [&](std::string_view v) {
    if (v.empty()) return true;
    if (v.data() >= text.data() && v.data() + v.size() <= text.data() + text.size()) return true;
    for (const auto& copy : parsed->unescaped) {
      if (v.data() == copy.data() && v.size() == copy.size()) return true;
    }
    return false;
  };
  for (auto v : {parsed->username, parsed->realm, parsed->nonce, parsed->uri, parsed->response,
                 parsed->algorithm, parsed->qop, parsed->nc, parsed->cnonce, parsed->opaque}) {
    if (!valid(v)) __builtin_trap();
  }
  // Whatever was parsed goes through verification without harm.
  static NonceManager nonces("fuzz", std::chrono::seconds(300));
  (void)verifyDigest(nonces, *parsed, "REGISTER", "example.com", nullptr);
  return 0;
}
