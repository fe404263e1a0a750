#pragma once
// JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (JWS "HS256", RFC 7515,
// RFC 7518 §3.2), the bearer tokens a site's own web server mints for its
// users with a secret it shares with Tandem (RFC 8898 on SIP; the site
// protocol's login). Only HS256 is accepted: a token naming any other "alg",
// "none" included, is rejected before its signature is looked at.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::core {

struct JwtClaims {
  std::string subject;                    // "sub": the user; required
  std::int64_t expiresAt = 0;             // "exp", seconds since the epoch; required
  std::optional<std::int64_t> notBefore;  // "nbf"
  std::optional<std::int64_t> issuedAt;   // "iat"
  std::string issuer;                     // "iss"; empty when absent
  std::vector<std::string> audience;      // "aud": a string or an array of strings
};

// What verifyJwt() checks beyond signature and times. Empty strings skip the check.
struct JwtCheck {
  std::string issuer;    // "iss" must equal this
  std::string audience;  // "aud" must contain this
  // Clock skew tolerated between the minting server and Tandem, applied to
  // exp, nbf and iat.
  std::chrono::seconds leeway{30};
};

struct JwtResult {
  std::optional<JwtClaims> claims;  // set when the token is valid
  std::string error;                // why not, otherwise ("expired", "bad signature", ...)
  explicit operator bool() const { return claims.has_value(); }
};

// Verifies a compact-serialised token at time `now` (seconds since the epoch).
// Never throws; any malformed input gives an error.
JwtResult verifyJwt(std::string_view token, std::string_view secret, std::int64_t now,
                    const JwtCheck& check = {});

// A token for `claims` (sub and exp always; nbf, iat, iss, aud when set).
std::string mintJwt(std::string_view secret, const JwtClaims& claims);

// The current time in seconds since the epoch (system clock).
std::int64_t unixNow();

// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5), as JWS uses.
std::string base64UrlEncode(std::string_view bytes);
// nullopt for characters outside the alphabet, padding, or an impossible length.
std::optional<std::string> base64UrlDecode(std::string_view text);
// Standard base64 with padding (RFC 4648 §4).
std::string base64Encode(std::string_view bytes);

// HMAC over `data` (OpenSSL), raw bytes. `digest` is "SHA256" or "SHA1".
std::string hmac(std::string_view digest, std::string_view key, std::string_view data);
// Equal contents, compared in time independent of where they differ (for MACs).
bool equalConstantTime(std::string_view a, std::string_view b);

}  // namespace tandem::core
