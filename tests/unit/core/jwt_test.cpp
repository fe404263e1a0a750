#include "core/jwt.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::core {
namespace {

constexpr std::int64_t kNow = 1700000000;
constexpr std::string_view kSecret = "shared-secret";

JwtClaims claims(std::string sub = "alice", std::int64_t exp = kNow + 300) {
  JwtClaims c;
  c.subject = std::move(sub);
  c.expiresAt = exp;
  c.issuedAt = kNow;
  return c;
}

// header.payload signed with kSecret, for hand-made claims.
std::string sign(const std::string& header, const std::string& payload,
                 std::string_view secret = kSecret) {
  const auto input = base64UrlEncode(header) + "." + base64UrlEncode(payload);
  return input + "." + base64UrlEncode(hmac("SHA256", secret, input));
}

TEST(Jwt, MintedTokenVerifies) {
  const auto token = mintJwt(kSecret, claims());
  const auto r = verifyJwt(token, kSecret, kNow);
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.claims->subject, "alice");
  EXPECT_EQ(r.claims->expiresAt, kNow + 300);
  EXPECT_EQ(r.claims->issuedAt, kNow);
}

// RFC 7515 appendix A.1: an HS256 JWS made by someone else. Its signature
// must verify; it has no "sub", so the token is still refused, for that reason.
TEST(Jwt, Rfc7515ExampleSignatureVerifies) {
  const auto key = base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key);
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnV"
      "lfQ"
      ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  EXPECT_EQ(verifyJwt(token, *key, 1300819370).error, "JWT has no \"sub\" (user)");
  auto tampered = token;
  tampered.back() = 'j';
  EXPECT_EQ(verifyJwt(tampered, *key, 1300819370).error, "bad JWT signature");
}

TEST(Jwt, TamperedSignatureOrPayloadOrWrongSecret) {
  const auto token = mintJwt(kSecret, claims());
  EXPECT_EQ(verifyJwt(token, "other-secret", kNow).error, "bad JWT signature");

  auto badSig = token;
  badSig[badSig.size() - 2] = badSig[badSig.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifyJwt(badSig, kSecret, kNow).error, "bad JWT signature");

  // Same signature, payload naming another user.
  const auto dot1 = token.find('.'), dot2 = token.rfind('.');
  const auto forged = token.substr(0, dot1 + 1) +
                      base64UrlEncode(R"({"sub":"mallory","exp":1800000000})") + token.substr(dot2);
  EXPECT_EQ(verifyJwt(forged, kSecret, kNow).error, "bad JWT signature");
  // Signature cut off.
  EXPECT_EQ(verifyJwt(token.substr(0, dot2 + 1), kSecret, kNow).error, "bad JWT signature");
}

TEST(Jwt, RejectsAlgNoneAndOtherAlgorithms) {
  const std::string payload = R"({"sub":"alice","exp":1700000300})";
  // "none" with an empty signature, as in the classic attack.
  const auto none = base64UrlEncode(R"({"alg":"none"})") + "." + base64UrlEncode(payload) + ".";
  EXPECT_NE(verifyJwt(none, kSecret, kNow).error.find("unsupported JWT algorithm \"none\""),
            std::string::npos);
  for (const char* header : {R"({"alg":"HS512"})", R"({"alg":"hs256"})", R"({"alg":"RS256"})",
                             R"({"typ":"JWT"})", R"({"alg":256})"}) {
    const auto r = verifyJwt(sign(header, payload), kSecret, kNow);
    EXPECT_FALSE(r) << header;
  }
  EXPECT_FALSE(verifyJwt(sign(R"({"alg":"HS256","crit":["x"]})", payload), kSecret, kNow));
  EXPECT_TRUE(verifyJwt(sign(R"({"alg":"HS256"})", payload), kSecret, kNow));
}

TEST(Jwt, TimeClaims) {
  JwtCheck check;
  check.leeway = std::chrono::seconds(30);
  EXPECT_EQ(verifyJwt(mintJwt(kSecret, claims("a", kNow - 31)), kSecret, kNow, check).error,
            "JWT expired");
  EXPECT_TRUE(verifyJwt(mintJwt(kSecret, claims("a", kNow - 29)), kSecret, kNow, check));
  auto future = claims();
  future.notBefore = kNow + 60;
  EXPECT_EQ(verifyJwt(mintJwt(kSecret, future), kSecret, kNow).error, "JWT not yet valid");
  future.notBefore = kNow + 10;  // within leeway
  EXPECT_TRUE(verifyJwt(mintJwt(kSecret, future), kSecret, kNow));
  auto issued = claims();
  issued.issuedAt = kNow + 3600;
  EXPECT_EQ(verifyJwt(mintJwt(kSecret, issued), kSecret, kNow).error, "JWT issued in the future");
  EXPECT_EQ(verifyJwt(sign(R"({"alg":"HS256"})", R"({"sub":"a"})"), kSecret, kNow).error,
            "JWT has no \"exp\" (expiry)");
  EXPECT_FALSE(
      verifyJwt(sign(R"({"alg":"HS256"})", R"({"sub":"a","exp":"tomorrow"})"), kSecret, kNow));
  EXPECT_TRUE(
      verifyJwt(sign(R"({"alg":"HS256"})", R"({"sub":"a","exp":1700000300.5})"), kSecret, kNow));
}

TEST(Jwt, MissingOrEmptySubject) {
  EXPECT_EQ(verifyJwt(sign(R"({"alg":"HS256"})", R"({"exp":1800000000})"), kSecret, kNow).error,
            "JWT has no \"sub\" (user)");
  EXPECT_FALSE(
      verifyJwt(sign(R"({"alg":"HS256"})", R"({"sub":"","exp":1800000000})"), kSecret, kNow));
  EXPECT_FALSE(
      verifyJwt(sign(R"({"alg":"HS256"})", R"({"sub":7,"exp":1800000000})"), kSecret, kNow));
}

TEST(Jwt, IssuerAndAudience) {
  auto c = claims();
  c.issuer = "https://site.example";
  c.audience = {"tandem", "other"};
  const auto token = mintJwt(kSecret, c);
  JwtCheck check;
  check.issuer = "https://site.example";
  check.audience = "tandem";
  const auto ok = verifyJwt(token, kSecret, kNow, check);
  ASSERT_TRUE(ok) << ok.error;
  EXPECT_EQ(ok.claims->audience.size(), 2u);
  check.audience = "nope";
  EXPECT_FALSE(verifyJwt(token, kSecret, kNow, check));
  check.audience.clear();
  check.issuer = "https://evil.example";
  EXPECT_FALSE(verifyJwt(token, kSecret, kNow, check));
}

TEST(Jwt, MalformedInputIsAnErrorNotACrash) {
  for (const std::string& token : std::vector<std::string>{
           "", ".", "..", "a.b.c", "a.b.c.d", "!!!.???.***", "eyJ.eyJ.x", std::string(10000, 'a'),
           base64UrlEncode("[1,2]") + "." + base64UrlEncode("{}") + ".x",
           base64UrlEncode(R"({"alg":"HS256"})") + "." + base64UrlEncode("not json") + ".x"}) {
    const auto r = verifyJwt(token, kSecret, kNow);
    EXPECT_FALSE(r) << token;
    EXPECT_FALSE(r.error.empty());
  }
  EXPECT_EQ(verifyJwt(mintJwt(kSecret, claims()), "", kNow).error, "no secret configured");
  EXPECT_EQ(verifyJwt(sign(R"({"alg":"HS256"})", "not json"), kSecret, kNow).error,
            "malformed JWT payload");
}

TEST(Base64, RoundTripsAndRejects) {
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe"}) {
    EXPECT_EQ(base64UrlDecode(base64UrlEncode(s)), s);
  }
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64UrlDecode("Zm9vYg=="), std::nullopt);  // no padding in JWS
  EXPECT_EQ(base64UrlDecode("Zm9vY"), std::nullopt);     // impossible length
  EXPECT_EQ(base64UrlDecode("a+b/"), std::nullopt);      // standard alphabet
}

}  // namespace
}  // namespace tandem::core
