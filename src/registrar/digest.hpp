#pragma once
// HTTP Digest authentication as SIP uses it (RFC 3261 §22.4), with the
// algorithms of RFC 7616 (MD5, SHA-256) and RFC 8760 (SHA-256 for SIP), qop=auth
// only, plus RFC 2069 compatibility (no qop). Independent of the SIP message
// types: callers pass plain strings, so the Authenticator, the web API and the
// tests share one implementation.
//
// Nonces are stateless: nonce = base64url(timestamp || sequence || salt ||
// HMAC-SHA256(secret, timestamp || sequence || salt || realm)[..16]), so any
// nonce this process issued can be checked without remembering it. Only the
// nonce-count of nonces in use is remembered, to reject replays (RFC 7616
// §3.3, "nc"), in a ring indexed by the sequence number.
//
// Thread-safety: none. One NonceManager per event loop (or a lock around it).

#include "registrar/location.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <forward_list>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tandem::registrar {

// How long a nonce is accepted. Long enough that a client registering every
// few minutes rarely needs a second round trip; short enough that a captured
// nonce is soon useless. A client holding an older nonce gets stale=true and
// retries silently (RFC 7616 §3.3).
inline constexpr std::chrono::seconds kDefaultNonceLifetime{300};
// Nonce-counts are remembered in a ring of this many slots, indexed by the
// issue sequence number each nonce carries (32 bytes a slot: 4 MiB, paged in
// as slots are first used). A nonce's count is kept until the nonce issued
// 131,072 after it is used: at 10,000 challenges a second, 13 seconds. A
// client whose nonce was forgotten gets one stale=true challenge more.
inline constexpr std::size_t kNonceCountSlots = std::size_t{1} << 17;

enum class DigestAlgorithm { Md5, Sha256 };

// "MD5" or "SHA-256", as written in the algorithm parameter.
std::string_view algorithmName(DigestAlgorithm alg);
// The algorithm named by a credentials' algorithm parameter (case-insensitive).
// An empty value means MD5 (RFC 7616 §3.4). The "-sess" variants are not
// offered and give nullopt.
std::optional<DigestAlgorithm> parseAlgorithm(std::string_view name);

// Lower-case hex of H(data).
std::string digestHex(DigestAlgorithm alg, std::string_view data);
// HA1 = H(user ":" realm ":" password) in lower-case hex (RFC 7616 §3.4.2).
std::string computeHa1(DigestAlgorithm alg, std::string_view user, std::string_view realm,
                       std::string_view password);

// The request-digest of RFC 7616 §3.4.1 in lower-case hex; an empty `qop`
// selects the RFC 2069 form (nc and cnonce unused). What a client computes,
// and what verifyDigest() compares against.
std::string computeResponse(DigestAlgorithm alg, std::string_view ha1, std::string_view nonce,
                            std::string_view nc, std::string_view cnonce, std::string_view qop,
                            std::string_view method, std::string_view uri);

// 32 bytes from the OpenSSL CSPRNG, for the nonce HMAC key. Aborts if the
// generator fails (no safe way to continue).
std::string randomSecret();

enum class NonceStatus {
  Valid,    // issued by us for this realm, within its lifetime
  Stale,    // issued by us, but expired (or its count was replayed): re-challenge with stale=true
  Invalid,  // not ours: malformed, truncated, forged or for another realm
};

class NonceManager {
 public:
  using NowSeconds = std::function<std::int64_t()>;

  // `secret` keys the nonce HMAC (randomSecret(); nodes sharing a secret accept
  // each other's nonces). `nowSeconds` returns seconds since the Unix epoch;
  // empty means the system clock. Tests inject a fake clock.
  explicit NonceManager(std::string secret, std::chrono::seconds lifetime = kDefaultNonceLifetime,
                        NowSeconds nowSeconds = {});
  ~NonceManager();
  NonceManager(const NonceManager&) = delete;
  NonceManager& operator=(const NonceManager&) = delete;

  // A fresh nonce bound to `realm` and to the current time, carrying the next
  // issue sequence number.
  std::string issue(std::string_view realm);

  // What check() reads from a nonce it found Valid, for countUse().
  struct NonceId {
    std::int64_t issued = 0;     // the nonce's timestamp
    std::uint32_t sequence = 0;  // its issue sequence number
    std::uint64_t key = 0;       // names the nonce (timestamp, sequence and salt)
  };

  // Whether `nonce` is one of ours for `realm` and still fresh. A nonce from
  // the future (the clock went back) is Stale. Unless the nonce is Invalid,
  // `id` (if given) receives what countUse() needs, so the nonce is decoded once.
  NonceStatus check(std::string_view nonce, std::string_view realm, NonceId* id = nullptr) const;

  // Records nonce-count `nc` for a nonce that check() found Valid and whose
  // response was correct. Returns false when `nc` is not above the highest
  // count seen for that nonce: a replay, or a request overtaken by a later one.
  // Such a request gets a stale=true challenge (common practice; RFC 7616
  // leaves the reaction open), so a client that merely reordered its requests
  // retries with a fresh nonce instead of failing.
  bool acceptCount(std::string_view nonce, std::uint32_t nc) {
    return countUse(nonce, nc, 0) == CountUse::Accepted;
  }
  // The same, also told which request used the count: `fingerprint` (nonzero)
  // names the request (its Via, Call-ID, CSeq and digest response). A count
  // equal to the highest is Repeated when it comes with the fingerprint of the
  // request that set it: a retransmission of a request answered statelessly,
  // which must get the same answer again (RFC 3261 §8.2.7), not a replay.
  //
  // Counts live in a ring slot chosen by the nonce's sequence number. A slot
  // held by another nonce issued in an earlier second is taken over; one held
  // by a nonce of the same second or later means this nonce's count may have
  // been forgotten, so any count is Rejected (a replay cannot slip through).
  enum class CountUse { Accepted, Repeated, Rejected };
  CountUse countUse(const NonceId& id, std::uint32_t nc, std::uint64_t fingerprint);
  // The same for a nonce's text (decoded again; trusts check() for authenticity).
  CountUse countUse(std::string_view nonce, std::uint32_t nc, std::uint64_t fingerprint);

  std::chrono::seconds lifetime() const { return lifetime_; }

 private:
  struct CountSlot {
    std::uint64_t key = 0;
    std::uint64_t fingerprint = 0;  // of the request that used `highest`
    std::int64_t issued = 0;
    std::uint32_t highest = 0;  // 0: the slot is free (counts start at 1)
  };

  std::int64_t now() const;
  // HMAC-SHA256(secret, timestamp || sequence || salt || realm), its first 16
  // bytes into `out`.
  void mac(std::string_view stampedSalt, std::string_view realm, unsigned char* out) const;

  // HMAC-SHA256 keyed once with the secret; re-initialised per nonce without
  // fetching or allocating (OpenSSL 3's one-shot HMAC() does both every call).
  struct MacState;
  std::unique_ptr<MacState> macState_;
  std::chrono::seconds lifetime_;
  NowSeconds nowSeconds_;

  // Nonce-count bookkeeping, kNonceCountSlots slots. Nonces are used about in
  // the order they were issued, so consecutive uses touch neighbouring slots
  // (a hash table would touch a random cache line, and expire entries in a
  // second structure). From calloc(): pages the allocator gets fresh from the
  // kernel are zero already and untouched, so a quiet server does not hold
  // all 4 MiB.
  struct FreeSlots {
    void operator()(CountSlot* p) const;
  };
  std::unique_ptr<CountSlot[], FreeSlots> counts_;
  std::uint32_t nextSequence_;
};

// Values for WWW-Authenticate / Proxy-Authenticate (RFC 7616 §3.3, RFC 8760 §2):
// one challenge per algorithm sharing one nonce, MD5 first, then SHA-256.
// `md5Only` for browsers: JsSIP 3.13 and SIP.js 0.21 keep only the *last*
// challenge header of a response (their parser replaces, not appends) and
// know only MD5, so any second challenge makes them give up.
//   Digest realm="example.com", nonce="…", qop="auth", algorithm=MD5[, stale=true][, opaque="…"]
std::vector<std::string> makeChallenges(NonceManager& nonces, std::string_view realm, bool stale,
                                        std::string_view opaque = {}, bool md5Only = false);

// The parameters of Authorization / Proxy-Authorization: Digest … (RFC 7616
// §3.4, RFC 3261 §25.1), quoted-strings unescaped. Absent parameters are empty.
// The values view the header value they were parsed from, which must outlive
// them; a quoted value with escapes views its unescaped copy in `unescaped`
// (list nodes do not move, so neither does a move of the whole). Not copyable:
// a copy's views would point into the original.
struct DigestCredentials {
  std::string_view username;
  std::string_view realm;
  std::string_view nonce;
  std::string_view uri;
  std::string_view response;
  std::string_view algorithm;
  std::string_view qop;
  std::string_view nc;
  std::string_view cnonce;
  std::string_view opaque;
  std::forward_list<std::string> unescaped;

  DigestCredentials() = default;
  DigestCredentials(DigestCredentials&&) = default;
  DigestCredentials& operator=(DigestCredentials&&) = default;
  DigestCredentials(const DigestCredentials&) = delete;
  DigestCredentials& operator=(const DigestCredentials&) = delete;
};

// Parses a credentials header value. nullopt when the scheme is not Digest or
// the value is malformed (bad quoting, a parameter twice). Unknown parameters
// are skipped (auth-param). Never throws.
//   credentials     = "Digest" LWS digest-response
//   digest-response = dig-resp *(COMMA dig-resp)
//   dig-resp        = username / realm / nonce / digest-uri / dresponse
//                     / algorithm / cnonce / opaque / message-qop
//                     / nonce-count / auth-param
std::optional<DigestCredentials> parseCredentials(std::string_view value);
// The credentials would view a temporary that is gone by the next statement.
template <typename T>
requires std::is_same_v<T, std::string> std::optional<DigestCredentials> parseCredentials(
    T&& temporary)
= delete;

enum class DigestResult {
  Ok,
  // Correct, and the nonce-count repeats that of the very same request (same
  // fingerprint): a retransmission, to be answered as the first time.
  Repeated,
  // Correct response, but the nonce expired or its nonce-count was replayed:
  // challenge again with stale=true.
  Stale,
  // Wrong password, unknown user, foreign or forged nonce, unsupported
  // algorithm or qop, malformed nc: challenge again without stale. Deliberately
  // one value, so that callers cannot reveal which users exist.
  Rejected,
};

// Verifies `credentials` of a request with `method` against `user` (nullptr
// for an unknown user: a dummy computation of the same cost runs, and the
// result is Rejected, as for a wrong password). `realm` is the served realm;
// credentials for another realm are rejected. The caller checks that
// credentials.uri names the Request-URI (RFC 7616 §3.4.6) and that the
// username is the one expected (RFC 3261 §22.4).
//
//   HA2      = H(method ":" uri)
//   response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   qop=auth
//   response = H(HA1 ":" nonce ":" HA2)                              no qop (RFC 2069)
//
// Without qop there is no nonce-count, so replays within the nonce lifetime
// cannot be detected; old SIP phones still need this mode. The response is
// compared in constant time (CRYPTO_memcmp). The nonce-count is recorded only
// after the response was found correct, so a forger cannot burn a victim's
// counts.
// `fingerprint` names the request (see NonceManager::countUse); 0 when the
// caller has transactions to absorb retransmissions.
DigestResult verifyDigest(NonceManager& nonces, const DigestCredentials& credentials,
                          std::string_view method, std::string_view realm, const UserRecord* user,
                          std::uint64_t fingerprint = 0);

}  // namespace tandem::registrar
