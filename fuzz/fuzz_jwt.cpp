// libFuzzer target: the JWT decoder and verifier (core/jwt). Untrusted tokens
// arrive in SIP Authorization headers and the site protocol's login.
//
// Each input is verified twice: as it is (almost always rejected at the
// signature), and as "header.payload" signed with the right key, so that the
// claim parsing behind the signature check is reached too.
#include "core/jwt.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tandem::core;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kSecret = "fuzz-secret";
  constexpr std::int64_t kNow = 1700000000;

  const JwtCheck check{"issuer", "audience", std::chrono::seconds(30)};
  (void)verifyJwt(input, kSecret, kNow);
  (void)verifyJwt(input, kSecret, kNow, check);

  const std::string signingInput(input.substr(
      0, input.rfind('.') == std::string_view::npos ? input.size() : input.rfind('.')));
  const std::string signed_ =
      signingInput + "." + base64UrlEncode(hmac("SHA256", kSecret, signingInput));
  const auto result = verifyJwt(signed_, kSecret, kNow);
  // A token that verifies must survive a round trip through mintJwt.
  if (result) {
    const auto again = verifyJwt(mintJwt(kSecret, *result.claims), kSecret, kNow);
    if (!again || again.claims->subject != result.claims->subject) __builtin_trap();
  }
  (void)base64UrlDecode(input);
  return 0;
}
