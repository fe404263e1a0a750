#include "core/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace tandem::core {
namespace {

using json = nlohmann::json;

constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kStdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Tokens are headers of HTTP and SIP requests; anything longer is junk.
constexpr std::size_t kMaxTokenLength = 8192;

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) |
                            std::uint8_t(bytes[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint8_t(bytes[i]) << 16;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

// A JSON object from one base64url segment; nullopt for bad encoding, bad
// JSON (parsed without exceptions) or a non-object.
std::optional<json> decodeObject(std::string_view segment) {
  auto text = base64UrlDecode(segment);
  if (!text) return std::nullopt;
  auto value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

// NumericDate (RFC 7519 §2): a JSON number of seconds; fractions are cut.
bool readTime(const json& payload, const char* name, std::optional<std::int64_t>& out,
              std::string& error) {
  const auto it = payload.find(name);
  if (it == payload.end()) return true;
  if (it->is_number_integer()) {
    out = it->get<std::int64_t>();
  } else if (it->is_number_float() && std::isfinite(it->get<double>()) &&
             std::abs(it->get<double>()) < 1e15) {
    out = static_cast<std::int64_t>(it->get<double>());
  } else {
    error = std::string("claim \"") + name + "\" is not a number of seconds";
    return false;
  }
  return true;
}

JwtResult failure(std::string why) {
  return JwtResult{std::nullopt, std::move(why)};
}

}  // namespace

std::string base64UrlEncode(std::string_view bytes) {
  return encode(bytes, kUrlAlphabet, false);
}

std::string base64Encode(std::string_view bytes) {
  return encode(bytes, kStdAlphabet, true);
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  // Lengths 4n+1 cannot come from any byte string.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const auto pos = kUrlAlphabet.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool equalConstantTime(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hmac(std::string_view digest, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  const EVP_MD* md = digest == "SHA1" ? EVP_sha1() : EVP_sha256();
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  return std::string(reinterpret_cast<const char*>(mac.data()), length);
}

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// JWS compact serialisation (RFC 7515 §7.1):
//   BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
// with the HS256 signature over the ASCII of the first two parts.
JwtResult verifyJwt(std::string_view token, std::string_view secret, std::int64_t now,
                    const JwtCheck& check) {
  if (secret.empty()) return failure("no secret configured");
  if (token.size() > kMaxTokenLength) return failure("token too long");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return failure("not a JWT (expected three base64url parts separated by '.')");

  const auto header = decodeObject(token.substr(0, dot1));
  if (!header) return failure("malformed JWT header");
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return failure("JWT header has no \"alg\"");
  if (alg->get<std::string>() != "HS256")
    return failure("unsupported JWT algorithm \"" + alg->get<std::string>() + "\" (only HS256)");
  // RFC 7515 §4.1.11: critical extensions we do not understand reject the token.
  if (header->contains("crit")) return failure("JWT header has unsupported \"crit\"");

  const auto signature = base64UrlDecode(token.substr(dot2 + 1));
  if (!signature) return failure("malformed JWT signature");
  if (!equalConstantTime(*signature, hmac("SHA256", secret, token.substr(0, dot2))))
    return failure("bad JWT signature");

  const auto payload = decodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) return failure("malformed JWT payload");

  JwtClaims claims;
  const auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string() || sub->get<std::string>().empty())
    return failure("JWT has no \"sub\" (user)");
  claims.subject = sub->get<std::string>();

  std::string error;
  std::optional<std::int64_t> exp;
  if (!readTime(*payload, "exp", exp, error) ||
      !readTime(*payload, "nbf", claims.notBefore, error) ||
      !readTime(*payload, "iat", claims.issuedAt, error))
    return failure(error);
  if (!exp) return failure("JWT has no \"exp\" (expiry)");
  claims.expiresAt = *exp;
  const auto leeway = check.leeway.count();
  if (now >= claims.expiresAt + leeway) return failure("JWT expired");
  if (claims.notBefore && now + leeway < *claims.notBefore) return failure("JWT not yet valid");
  if (claims.issuedAt && now + leeway < *claims.issuedAt)
    return failure("JWT issued in the future");

  if (const auto iss = payload->find("iss"); iss != payload->end()) {
    if (!iss->is_string()) return failure("JWT \"iss\" is not a string");
    claims.issuer = iss->get<std::string>();
  }
  if (const auto aud = payload->find("aud"); aud != payload->end()) {
    if (aud->is_string()) {
      claims.audience.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (!a.is_string()) return failure("JWT \"aud\" is not a string or array of strings");
        claims.audience.push_back(a.get<std::string>());
      }
    } else {
      return failure("JWT \"aud\" is not a string or array of strings");
    }
  }
  if (!check.issuer.empty() && claims.issuer != check.issuer)
    return failure("JWT issuer \"" + claims.issuer + "\" is not \"" + check.issuer + "\"");
  if (!check.audience.empty() && std::find(claims.audience.begin(), claims.audience.end(),
                                           check.audience) == claims.audience.end())
    return failure("JWT audience does not include \"" + check.audience + "\"");
  return JwtResult{std::move(claims), {}};
}

std::string mintJwt(std::string_view secret, const JwtClaims& claims) {
  json payload = {{"sub", claims.subject}, {"exp", claims.expiresAt}};
  if (claims.notBefore) payload["nbf"] = *claims.notBefore;
  if (claims.issuedAt) payload["iat"] = *claims.issuedAt;
  if (!claims.issuer.empty()) payload["iss"] = claims.issuer;
  if (claims.audience.size() == 1) payload["aud"] = claims.audience.front();
  if (claims.audience.size() > 1) payload["aud"] = claims.audience;
  const auto signingInput =
      base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
      base64UrlEncode(payload.dump(-1, ' ', false, json::error_handler_t::replace));
  return signingInput + "." + base64UrlEncode(hmac("SHA256", secret, signingInput));
}

}  // namespace tandem::core
