#include "registrar/digest.hpp"

#include <gtest/gtest.h>

#include <deque>

#include <set>

namespace tandem::registrar {
namespace {

using namespace std::chrono_literals;

// --- Hashes: published vectors ------------------------------------------------

TEST(DigestHash, Ha1Rfc2617) {
  EXPECT_EQ(computeHa1(DigestAlgorithm::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9");
}

TEST(DigestHash, ResponseRfc2617Section3_5) {
  const auto ha1 =
      computeHa1(DigestAlgorithm::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  EXPECT_EQ(computeResponse(DigestAlgorithm::Md5, ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                            "00000001", "0a4f113b", "auth", "GET", "/dir/index.html"),
            "6629fae49393a05397450978507c4ef1");
}

// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
TEST(DigestHash, ResponseRfc7616Section3_9_1) {
  constexpr std::string_view nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
  constexpr std::string_view cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  const auto md5 =
      computeHa1(DigestAlgorithm::Md5, "Mufasa", "http-auth@example.org", "Circle of Life");
  const auto sha =
      computeHa1(DigestAlgorithm::Sha256, "Mufasa", "http-auth@example.org", "Circle of Life");
  EXPECT_EQ(computeResponse(DigestAlgorithm::Md5, md5, nonce, "00000001", cnonce, "auth", "GET",
                            "/dir/index.html"),
            "8ca523f5e9506fed4657c9700eebdbec");
  EXPECT_EQ(computeResponse(DigestAlgorithm::Sha256, sha, nonce, "00000001", cnonce, "auth", "GET",
                            "/dir/index.html"),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

// RFC 2069 form (no qop): H(HA1:nonce:HA2). Expected value computed
// independently with Python's hashlib.
TEST(DigestHash, ResponseWithoutQop) {
  const auto ha1 = computeHa1(DigestAlgorithm::Md5, "Mufasa", "testrealm@host.com", "CircleOfLife");
  EXPECT_EQ(computeResponse(DigestAlgorithm::Md5, ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "", "",
                            "", "GET", "/dir/index.html"),
            "1949323746fe6a43ef61f9606e7febea");
}

TEST(DigestHash, AlgorithmNames) {
  EXPECT_EQ(parseAlgorithm(""), DigestAlgorithm::Md5);
  EXPECT_EQ(parseAlgorithm("md5"), DigestAlgorithm::Md5);
  EXPECT_EQ(parseAlgorithm("SHA-256"), DigestAlgorithm::Sha256);
  EXPECT_EQ(parseAlgorithm("sha-256"), DigestAlgorithm::Sha256);
  EXPECT_FALSE(parseAlgorithm("MD5-sess"));
  EXPECT_FALSE(parseAlgorithm("SHA-512-256"));
  EXPECT_EQ(algorithmName(DigestAlgorithm::Md5), "MD5");
  EXPECT_EQ(algorithmName(DigestAlgorithm::Sha256), "SHA-256");
}

TEST(DigestHash, RandomSecret) {
  const auto a = randomSecret();
  const auto b = randomSecret();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

// --- Nonces -------------------------------------------------------------------

class NonceTest : public ::testing::Test {
 protected:
  std::int64_t now = 1'700'000'000;
  NonceManager nonces{std::string(32, 'k'), 300s, [this] { return now; }};
};

TEST_F(NonceTest, FreshNonceIsValidAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto n = nonces.issue("example.com");
    EXPECT_EQ(n.size(), 43u);
    EXPECT_EQ(
        n.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    EXPECT_EQ(nonces.check(n, "example.com"), NonceStatus::Valid);
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 100u);  // same second, distinct salts
}

TEST_F(NonceTest, StaleAfterLifetime) {
  const auto n = nonces.issue("example.com");
  now += 300;
  EXPECT_EQ(nonces.check(n, "example.com"), NonceStatus::Valid);
  now += 1;
  EXPECT_EQ(nonces.check(n, "example.com"), NonceStatus::Stale);
}

TEST_F(NonceTest, FromTheFutureIsStale) {
  const auto n = nonces.issue("example.com");
  now -= 10;  // the clock went back
  EXPECT_EQ(nonces.check(n, "example.com"), NonceStatus::Stale);
}

TEST_F(NonceTest, ForgedNoncesAreInvalid) {
  const auto n = nonces.issue("example.com");
  EXPECT_EQ(nonces.check(n, "other.com"), NonceStatus::Invalid);

  NonceManager otherSecret(std::string(32, 'x'), 300s, [this] { return now; });
  EXPECT_EQ(otherSecret.check(n, "example.com"), NonceStatus::Invalid);

  for (std::size_t i = 0; i < n.size() - 1; ++i) {  // any flipped character
    auto forged = n;
    forged[i] = forged[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(nonces.check(forged, "example.com"), NonceStatus::Invalid) << i;
  }
}

TEST_F(NonceTest, MalformedNoncesAreInvalid) {
  const auto n = nonces.issue("example.com");
  EXPECT_EQ(nonces.check("", "example.com"), NonceStatus::Invalid);
  EXPECT_EQ(nonces.check(n.substr(0, 42), "example.com"), NonceStatus::Invalid);
  EXPECT_EQ(nonces.check(n + "A", "example.com"), NonceStatus::Invalid);
  EXPECT_EQ(nonces.check(n.substr(0, 20), "example.com"), NonceStatus::Invalid);
  auto bad = n;
  bad[5] = '+';  // standard base64, not base64url
  EXPECT_EQ(nonces.check(bad, "example.com"), NonceStatus::Invalid);
  bad = n;
  bad[10] = '\0';
  EXPECT_EQ(nonces.check(bad, "example.com"), NonceStatus::Invalid);
}

TEST_F(NonceTest, NonCanonicalSpellingIsInvalid) {
  // The last character carries 4 data bits and 2 unused bits; setting an
  // unused bit would spell the same bytes differently.
  const auto n = nonces.issue("example.com");
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto alt = n;
  alt.back() = kAlphabet[kAlphabet.find(n.back()) | 1];
  ASSERT_NE(alt, n);
  EXPECT_EQ(nonces.check(alt, "example.com"), NonceStatus::Invalid);
}

TEST_F(NonceTest, NonceCountRejectsReplays) {
  const auto n = nonces.issue("example.com");
  EXPECT_FALSE(nonces.acceptCount(n, 0));
  EXPECT_TRUE(nonces.acceptCount(n, 1));
  EXPECT_FALSE(nonces.acceptCount(n, 1));
  EXPECT_TRUE(nonces.acceptCount(n, 2));
  EXPECT_TRUE(nonces.acceptCount(n, 5));  // gaps are fine
  EXPECT_FALSE(nonces.acceptCount(n, 3));
  EXPECT_FALSE(nonces.acceptCount("garbage", 7));

  const auto other = nonces.issue("example.com");
  EXPECT_TRUE(nonces.acceptCount(other, 1));  // counts are per nonce
  EXPECT_FALSE(nonces.acceptCount(n, 5));     // and kept apart
  EXPECT_TRUE(nonces.acceptCount(n, 6));
}

TEST_F(NonceTest, SameCountFromTheSameRequestIsARetransmission) {
  using Use = NonceManager::CountUse;
  const auto n = nonces.issue("example.com");
  EXPECT_EQ(nonces.countUse(n, 1, 111), Use::Accepted);
  EXPECT_EQ(nonces.countUse(n, 1, 111), Use::Repeated);  // the same request again
  EXPECT_EQ(nonces.countUse(n, 1, 222), Use::Rejected);  // another request: a replay
  EXPECT_EQ(nonces.countUse(n, 1, 0), Use::Rejected);    // no fingerprint: never repeated
  EXPECT_EQ(nonces.countUse(n, 2, 222), Use::Accepted);
  EXPECT_EQ(nonces.countUse(n, 1, 111), Use::Rejected);  // overtaken by a later count
  EXPECT_EQ(nonces.countUse(n, 2, 222), Use::Repeated);
}

TEST_F(NonceTest, CheckHandsCountUseTheNonceItDecoded) {
  const auto n = nonces.issue("example.com");
  NonceManager::NonceId id;
  ASSERT_EQ(nonces.check(n, "example.com", &id), NonceStatus::Valid);
  EXPECT_EQ(id.issued, now);
  EXPECT_EQ(nonces.countUse(id, 1, 0), NonceManager::CountUse::Accepted);
  EXPECT_FALSE(nonces.acceptCount(n, 1));  // the same nonce by its text
  NonceManager::NonceId next;
  ASSERT_EQ(nonces.check(nonces.issue("example.com"), "example.com", &next), NonceStatus::Valid);
  EXPECT_EQ(next.sequence, id.sequence + 1);
  EXPECT_NE(next.key, id.key);
}

// The counts ring has kNonceCountSlots slots, chosen by the sequence number:
// the nonce issued kNonceCountSlots later shares a slot with the first.
TEST_F(NonceTest, RingSlotTakenByALaterNonceForgetsTheEarlierOne) {
  const auto first = nonces.issue("example.com");
  ASSERT_TRUE(nonces.acceptCount(first, 1));
  now += 1;
  std::string later;
  for (std::size_t i = 0; i < kNonceCountSlots; ++i)
    later = nonces.issue("example.com");
  NonceManager::NonceId a, b;
  ASSERT_EQ(nonces.check(first, "example.com", &a), NonceStatus::Valid);
  ASSERT_EQ(nonces.check(later, "example.com", &b), NonceStatus::Valid);
  ASSERT_EQ(a.sequence % kNonceCountSlots, b.sequence % kNonceCountSlots);

  EXPECT_TRUE(nonces.acceptCount(later, 1));  // an earlier second's nonce gives way
  // `first`'s count is forgotten: any count is refused, so no replay of it passes.
  EXPECT_FALSE(nonces.acceptCount(first, 2));
  EXPECT_FALSE(nonces.acceptCount(first, 100));
  EXPECT_TRUE(nonces.acceptCount(later, 2));  // the later nonce keeps its slot
}

TEST_F(NonceTest, RingSlotHeldByANonceOfTheSameSecondRefusesAnother) {
  // Two nonces of one second in one slot: the second cannot know whether the
  // slot's earlier holder was itself, so it is refused rather than trusted.
  const auto first = nonces.issue("example.com");
  std::string same;
  for (std::size_t i = 0; i < kNonceCountSlots; ++i)
    same = nonces.issue("example.com");
  ASSERT_TRUE(nonces.acceptCount(same, 1));
  EXPECT_FALSE(nonces.acceptCount(first, 1));
  EXPECT_TRUE(nonces.acceptCount(same, 2));
}

// --- Challenges ----------------------------------------------------------------

TEST_F(NonceTest, ChallengesMd5FirstThenSha256) {
  const auto c = makeChallenges(nonces, "example.com", false);
  ASSERT_EQ(c.size(), 2u);
  const auto nonceStart = c[0].find("nonce=\"") + 7;
  const auto nonce = c[0].substr(nonceStart, 43);
  EXPECT_EQ(nonces.check(nonce, "example.com"), NonceStatus::Valid);
  EXPECT_EQ(c[0],
            "Digest realm=\"example.com\", nonce=\"" + nonce + "\", qop=\"auth\", algorithm=MD5");
  EXPECT_EQ(c[1], "Digest realm=\"example.com\", nonce=\"" + nonce +
                      "\", qop=\"auth\", algorithm=SHA-256");
}

TEST_F(NonceTest, ChallengeStaleAndOpaque) {
  const auto c = makeChallenges(nonces, "ex\"am\\ple", true, "op");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].rfind("Digest realm=\"ex\\\"am\\\\ple\", nonce=\"", 0), 0u);
  EXPECT_NE(c[0].find("algorithm=MD5, stale=true, opaque=\"op\""), std::string::npos);
  EXPECT_NE(c[1].find("algorithm=SHA-256, stale=true, opaque=\"op\""), std::string::npos);
}

// --- Credentials parser --------------------------------------------------------

TEST(DigestCredentialsParse, TypicalSipPhone) {
  const auto c = parseCredentials(
      "Digest username=\"alice\",realm=\"example.com\", nonce=\"abc\", "
      "uri=\"sip:example.com\", response=\"0123\", algorithm=MD5, cnonce=\"xyz\", "
      "qop=auth, nc=00000001, opaque=\"o\"");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->realm, "example.com");
  EXPECT_EQ(c->nonce, "abc");
  EXPECT_EQ(c->uri, "sip:example.com");
  EXPECT_EQ(c->response, "0123");
  EXPECT_EQ(c->algorithm, "MD5");
  EXPECT_EQ(c->cnonce, "xyz");
  EXPECT_EQ(c->qop, "auth");
  EXPECT_EQ(c->nc, "00000001");
  EXPECT_EQ(c->opaque, "o");
}

TEST(DigestCredentialsParse, CaseEscapesWhitespaceAndUnknownParams) {
  const auto c = parseCredentials(
      "  digest  UserName = \"al\\\"ice\" ,\r\n\tRealm=\"a b\", foo=bar, x=\"y,z\", "
      "uri=sip:bob@example.com,,");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "al\"ice");
  EXPECT_EQ(c->realm, "a b");
  EXPECT_EQ(c->uri, "sip:bob@example.com");
  EXPECT_TRUE(c->nonce.empty());
}

// Plain values view the header itself; a value with escapes views its
// unescaped copy, which a move of the credentials keeps in place.
TEST(DigestCredentialsParse, ValuesViewTheHeaderOrTheirUnescapedCopy) {
  const std::string header = "Digest username=\"bob\", realm=\"ex\\\\am\\\"ple\", nonce=\"\\n\"";
  auto parsed = parseCredentials(header);
  ASSERT_TRUE(parsed);
  const auto inHeader = [&](std::string_view v) {
    return v.data() >= header.data() && v.data() + v.size() <= header.data() + header.size();
  };
  EXPECT_TRUE(inHeader(parsed->username));
  EXPECT_FALSE(inHeader(parsed->realm));
  DigestCredentials moved = std::move(*parsed);
  parsed.reset();
  EXPECT_EQ(moved.username, "bob");
  EXPECT_EQ(moved.realm, "ex\\am\"ple");
  EXPECT_EQ(moved.nonce, "n");
}

TEST(DigestCredentialsParse, RejectsMalformed) {
  EXPECT_FALSE(parseCredentials(""));
  EXPECT_FALSE(parseCredentials("Digest"));
  EXPECT_FALSE(parseCredentials("Digest   "));
  EXPECT_FALSE(parseCredentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
  EXPECT_FALSE(parseCredentials("Digestusername=\"a\""));
  EXPECT_FALSE(parseCredentials("Digest username=\"a"));
  EXPECT_FALSE(parseCredentials("Digest username=\"a\\"));
  EXPECT_FALSE(parseCredentials("Digest username"));
  EXPECT_FALSE(parseCredentials("Digest username="));
  EXPECT_FALSE(parseCredentials("Digest =\"a\""));
  EXPECT_FALSE(parseCredentials("Digest username=\"a\" realm=\"b\""));
  EXPECT_FALSE(parseCredentials("Digest username=\"a\", username=\"b\""));
  EXPECT_FALSE(parseCredentials("Digest nc=1, NC=2"));
}

TEST(DigestCredentialsParse, NeverCrashesOnPrefixes) {
  const std::string full =
      "Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:x\", "
      "response=\"r\", qop=auth, nc=00000001, cnonce=\"c\\\"d\"";
  for (std::size_t i = 0; i <= full.size(); ++i) {
    const std::string prefix = full.substr(0, i);  // its own buffer: ASan sees overreads
    (void)parseCredentials(prefix);
  }
}

// --- Verification ----------------------------------------------------------------

class VerifyTest : public NonceTest {
 protected:
  static constexpr std::string_view kRealm = "example.com";

  UserRecord alice{"alice", std::string(kRealm),
                   computeHa1(DigestAlgorithm::Md5, "alice", kRealm, "secret"),
                   computeHa1(DigestAlgorithm::Sha256, "alice", kRealm, "secret")};

  // What a well-behaved client sends.
  // DigestCredentials views its values: the texts live here.
  std::deque<std::string> kept;
  std::string_view keep(std::string s) { return kept.emplace_back(std::move(s)); }

  DigestCredentials answer(DigestAlgorithm alg, std::string_view password, std::string nonce,
                           std::string nc = "00000001", std::string qop = "auth") {
    DigestCredentials c;
    c.username = "alice";
    c.realm = kRealm;
    c.nonce = keep(std::move(nonce));
    c.uri = "sip:example.com";
    c.algorithm = alg == DigestAlgorithm::Md5 ? "MD5" : "SHA-256";
    c.qop = keep(std::move(qop));
    c.nc = c.qop.empty() ? "" : keep(nc);
    c.cnonce = c.qop.empty() ? "" : "0a4f113b";
    c.response = keep(computeResponse(alg, computeHa1(alg, "alice", kRealm, password), c.nonce,
                                      c.nc, c.cnonce, c.qop, "REGISTER", c.uri));
    return c;
  }

  DigestResult verify(const DigestCredentials& c, const UserRecord* user) {
    return verifyDigest(nonces, c, "REGISTER", kRealm, user);
  }
};

TEST_F(VerifyTest, Md5AndSha256Succeed) {
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", nonces.issue(kRealm)), &alice),
            DigestResult::Ok);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Sha256, "secret", nonces.issue(kRealm)), &alice),
            DigestResult::Ok);
}

TEST_F(VerifyTest, AbsentAlgorithmMeansMd5AndResponseCaseIsIgnored) {
  auto c = answer(DigestAlgorithm::Md5, "secret", nonces.issue(kRealm));
  c.algorithm = {};
  std::string upper(c.response);
  for (char& ch : upper)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  c.response = keep(upper);
  EXPECT_EQ(verify(c, &alice), DigestResult::Ok);
}

TEST_F(VerifyTest, WrongPasswordAndUnknownUserLookTheSame) {
  const auto n = nonces.issue(kRealm);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "wrong", n), &alice), DigestResult::Rejected);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n), nullptr), DigestResult::Rejected);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Sha256, "secret", n), nullptr), DigestResult::Rejected);
  UserRecord noSha = alice;
  noSha.ha1Sha256.clear();
  EXPECT_EQ(verify(answer(DigestAlgorithm::Sha256, "secret", n), &noSha), DigestResult::Rejected);
  UserRecord otherRealm = alice;
  otherRealm.realm = "other.com";
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n), &otherRealm), DigestResult::Rejected);
}

TEST_F(VerifyTest, NonceCountReplayIsStale) {
  const auto n = nonces.issue(kRealm);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n, "00000001"), &alice),
            DigestResult::Ok);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n, "00000001"), &alice),
            DigestResult::Stale);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n, "00000002"), &alice),
            DigestResult::Ok);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n, "0000000a"), &alice),
            DigestResult::Ok);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n, "00000009"), &alice),
            DigestResult::Stale);
}

TEST_F(VerifyTest, WrongResponseDoesNotConsumeTheCount) {
  const auto n = nonces.issue(kRealm);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "wrong", n, "00000005"), &alice),
            DigestResult::Rejected);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n, "00000001"), &alice),
            DigestResult::Ok);
}

TEST_F(VerifyTest, StaleNonce) {
  const auto n = nonces.issue(kRealm);
  now += 301;
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n), &alice), DigestResult::Stale);
  // stale=true only tells a client with the right password to retry.
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "wrong", n), &alice), DigestResult::Rejected);
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", n), nullptr), DigestResult::Rejected);
}

TEST_F(VerifyTest, ForeignOrForgedNonce) {
  EXPECT_EQ(
      verify(answer(DigestAlgorithm::Md5, "secret", "dcd98b7102dd2f0e8b11d0f600bfb0c093"), &alice),
      DigestResult::Rejected);
  NonceManager other(std::string(32, 'x'), 300s, [this] { return now; });
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "secret", other.issue(kRealm)), &alice),
            DigestResult::Rejected);
}

TEST_F(VerifyTest, WithoutQopReplaysCannotBeDetected) {
  const auto n = nonces.issue(kRealm);
  const auto c = answer(DigestAlgorithm::Md5, "secret", n, "", "");
  EXPECT_EQ(verify(c, &alice), DigestResult::Ok);
  EXPECT_EQ(verify(c, &alice), DigestResult::Ok);  // documented limitation of RFC 2069
  EXPECT_EQ(verify(answer(DigestAlgorithm::Md5, "wrong", n, "", ""), &alice),
            DigestResult::Rejected);
}

TEST_F(VerifyTest, MalformedCredentialsAreRejected) {
  const auto n = nonces.issue(kRealm);
  auto c = answer(DigestAlgorithm::Md5, "secret", n);
  c.realm = "other.com";
  EXPECT_EQ(verify(c, &alice), DigestResult::Rejected);

  c = answer(DigestAlgorithm::Md5, "secret", n, "00000001", "auth-int");
  EXPECT_EQ(verify(c, &alice), DigestResult::Rejected);

  for (std::string nc : {"1", "0000001", "000000001", "0000000g", ""}) {
    c = answer(DigestAlgorithm::Md5, "secret", n, nc);
    EXPECT_EQ(verify(c, &alice), DigestResult::Rejected) << nc;
  }

  c = answer(DigestAlgorithm::Md5, "secret", n);
  c.cnonce = {};
  EXPECT_EQ(verify(c, &alice), DigestResult::Rejected);

  c = answer(DigestAlgorithm::Md5, "secret", n);
  c.algorithm = "MD5-sess";
  EXPECT_EQ(verify(c, &alice), DigestResult::Rejected);

  c = answer(DigestAlgorithm::Md5, "secret", n);
  c.response.remove_suffix(1);
  EXPECT_EQ(verify(c, &alice), DigestResult::Rejected);

  c = answer(DigestAlgorithm::Md5, "secret", n);
  c.response = {};
  EXPECT_EQ(verify(c, &alice), DigestResult::Rejected);

  c = answer(DigestAlgorithm::Md5, "secret", n);
  EXPECT_EQ(verifyDigest(nonces, c, "INVITE", kRealm, &alice), DigestResult::Rejected);
}

TEST_F(VerifyTest, ParsedHeaderRoundTrip) {
  const auto challenge = makeChallenges(nonces, kRealm, false)[0];
  const auto start = challenge.find("nonce=\"") + 7;
  const auto n = challenge.substr(start, challenge.find('"', start) - start);
  const auto c = answer(DigestAlgorithm::Md5, "secret", n, "00000001");
  const std::string header = "Digest username=\"alice\", realm=\"example.com\", nonce=\"" + n +
                             "\", uri=\"sip:example.com\", response=\"" + std::string(c.response) +
                             "\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"";
  const auto parsed = parseCredentials(header);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(verify(*parsed, &alice), DigestResult::Ok);
}

}  // namespace
}  // namespace tandem::registrar
