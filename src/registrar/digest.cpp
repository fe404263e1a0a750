#include "registrar/digest.hpp"

#include "core/random.hpp"

// See NonceManager::MacState and digestHex: the low-level MD5/SHA-256 API.
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/crypto.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace tandem::registrar {
namespace {

// Nonce layout before base64url: 8-byte big-endian timestamp, 4-byte
// big-endian issue sequence number (distinct nonces within a second, and the
// nonce-count slot), 4 random bytes (distinct nonces from nodes sharing the
// secret, or from before a restart), 16 bytes of HMAC-SHA256 over the rest.
// 32 bytes -> 43 characters.
constexpr std::size_t kTimestampSize = 8;
constexpr std::size_t kSequenceSize = 4;
constexpr std::size_t kSaltSize = 4;
constexpr std::size_t kStampSize = kTimestampSize + kSequenceSize + kSaltSize;
constexpr std::size_t kMacSize = 16;
constexpr std::size_t kNonceBytes = kStampSize + kMacSize;
constexpr std::size_t kNonceChars = (kNonceBytes * 8 + 5) / 6;

// HA1 stand-ins for unknown users: the same length as a real HA1, so the work
// done for an unknown user matches the work done for a wrong password.
constexpr std::string_view kDummyHa1Md5 = "00000000000000000000000000000000";
constexpr std::string_view kDummyHa1Sha256 =
    "0000000000000000000000000000000000000000000000000000000000000000";

[[noreturn]] void cryptoFailure(const char* what) {
  // An OpenSSL primitive failing on valid input means the library is broken
  // or misconfigured: tier-3, no way to authenticate anyone safely.
  std::fprintf(stderr, "tandem: OpenSSL failure in %s\n", what);
  std::abort();
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // Mostly already the same case: lower() only where the bytes differ.
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// RFC 4648 §5, without padding.
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64UrlEncode(const unsigned char* data, std::size_t size) {
  std::string out((size * 8 + 5) / 6, '\0');
  char* p = out.data();
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      *p++ = kBase64Url[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) *p++ = kBase64Url[(acc << (6 - bits)) & 0x3f];
  return out;
}

// The value of each base64url character, -1 for the rest: a table, since
// nonce characters are random and branches on them mispredict.
constexpr std::array<std::int8_t, 256> kBase64UrlValues = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (std::int8_t i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kBase64Url[i])] = i;
  return t;
}();

int base64UrlValue(char c) {
  return kBase64UrlValues[static_cast<unsigned char>(c)];
}

// Decodes a nonce strictly: exact length, alphabet only, unused trailing bits
// zero. Strictness matters: nonce-counts are keyed by the nonce text, so two
// spellings of one nonce must not exist.
std::optional<std::array<unsigned char, kNonceBytes>> decodeNonce(std::string_view text) {
  if (text.size() != kNonceChars) return std::nullopt;
  std::array<unsigned char, kNonceBytes> out{};
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t n = 0;
  for (char c : text) {
    const int v = base64UrlValue(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<unsigned char>((acc >> bits) & 0xff);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::uint64_t readBigEndian(const unsigned char* p, std::size_t size) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i)
    v = (v << 8) | p[i];
  return v;
}

void writeBigEndian(std::uint64_t v, unsigned char* p, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i)
    p[i] = static_cast<unsigned char>(v >> (8 * (size - 1 - i)));
}

std::int64_t readTimestamp(const unsigned char* p) {
  return static_cast<std::int64_t>(readBigEndian(p, kTimestampSize));
}

// What countUse() needs from a decoded nonce.
NonceManager::NonceId nonceId(const unsigned char* raw) {
  NonceManager::NonceId id;
  id.issued = readTimestamp(raw);
  id.sequence = static_cast<std::uint32_t>(readBigEndian(raw + kTimestampSize, kSequenceSize));
  const auto salt = readBigEndian(raw + kTimestampSize + kSequenceSize, kSaltSize);
  id.key = (std::uint64_t{id.sequence} << 32 | salt) ^
           (static_cast<std::uint64_t>(id.issued) * 0x9E3779B97F4A7C15ULL);
  return id;
}

// RFC 3261 §25.1: quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE.
void appendQuoted(std::string& out, std::string_view s) {
  out.push_back('"');
  if (std::none_of(s.begin(), s.end(), [](char c) { return c == '"' || c == '\\'; })) {
    out.append(s);
  } else {
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// nc-value = 8LHEX (RFC 7616 §3.4); upper-case digits are tolerated.
std::optional<std::uint32_t> parseNonceCount(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (lower(c) >= 'a' && lower(c) <= 'f') {
      d = lower(c) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  return v;
}

bool isWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<std::size_t>(c)] =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  for (char c : std::string_view("-.!%*_+`'~"))
    t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool isTokenChar(char c) {
  return kTokenChars[static_cast<unsigned char>(c)];
}

}  // namespace

std::string_view algorithmName(DigestAlgorithm alg) {
  return alg == DigestAlgorithm::Md5 ? "MD5" : "SHA-256";
}

std::optional<DigestAlgorithm> parseAlgorithm(std::string_view name) {
  if (name.empty() || equalsNoCase(name, "MD5")) return DigestAlgorithm::Md5;
  if (equalsNoCase(name, "SHA-256")) return DigestAlgorithm::Sha256;
  return std::nullopt;
}

namespace {

// One MD5 or SHA-256 digest fed in pieces (A2 and KD are colon-joined fields:
// no string is built for them), written as lower-case hex. The low-level
// functions, as for the nonce MAC: EVP's per-digest re-initialisation
// (provider dispatch, context checks) cost more than hashing the ~100 bytes
// of a digest's A2 or KD here.
class HexDigest {
 public:
  static constexpr std::size_t kMaxHex = 2 * SHA256_DIGEST_LENGTH;

  explicit HexDigest(DigestAlgorithm alg) : alg_(alg) {
    const bool ok = alg_ == DigestAlgorithm::Md5 ? MD5_Init(&md5_) == 1 : SHA256_Init(&sha_) == 1;
    if (!ok) cryptoFailure("digest init");
  }
  HexDigest& operator<<(std::string_view piece) {
    const bool ok = alg_ == DigestAlgorithm::Md5
                        ? MD5_Update(&md5_, piece.data(), piece.size()) == 1
                        : SHA256_Update(&sha_, piece.data(), piece.size()) == 1;
    if (!ok) cryptoFailure("digest update");
    return *this;
  }
  // Writes the hex digest into `out` (kMaxHex characters at most); returns its length.
  std::size_t finish(char* out) {
    unsigned char raw[SHA256_DIGEST_LENGTH];
    std::size_t size;
    if (alg_ == DigestAlgorithm::Md5) {
      if (MD5_Final(raw, &md5_) != 1) cryptoFailure("MD5");
      size = MD5_DIGEST_LENGTH;
    } else {
      if (SHA256_Final(raw, &sha_) != 1) cryptoFailure("SHA256");
      size = SHA256_DIGEST_LENGTH;
    }
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < size; ++i) {
      out[2 * i] = kDigits[raw[i] >> 4];
      out[2 * i + 1] = kDigits[raw[i] & 0x0f];
    }
    return 2 * size;
  }

 private:
  DigestAlgorithm alg_;
  MD5_CTX md5_;
  SHA256_CTX sha_;
};

// RFC 7616 §3.4.1: KD(HA1, nonce ":" [nc ":" cnonce ":" qop ":"] H(method ":" uri)),
// into `out` (HexDigest::kMaxHex characters); returns its length.
std::size_t responseHex(DigestAlgorithm alg, std::string_view ha1, std::string_view nonce,
                        std::string_view nc, std::string_view cnonce, std::string_view qop,
                        std::string_view method, std::string_view uri, char* out) {
  char ha2[HexDigest::kMaxHex];
  const std::size_t ha2Size = (HexDigest(alg) << method << ":" << uri).finish(ha2);
  HexDigest kd(alg);
  kd << ha1 << ":" << nonce << ":";
  if (!qop.empty()) kd << nc << ":" << cnonce << ":" << qop << ":";
  kd << std::string_view(ha2, ha2Size);
  return kd.finish(out);
}

}  // namespace

std::string digestHex(DigestAlgorithm alg, std::string_view data) {
  char hex[HexDigest::kMaxHex];
  return std::string(hex, (HexDigest(alg) << data).finish(hex));
}

std::string computeHa1(DigestAlgorithm alg, std::string_view user, std::string_view realm,
                       std::string_view password) {
  std::string a1;
  a1.reserve(user.size() + realm.size() + password.size() + 2);
  a1.append(user).append(":").append(realm).append(":").append(password);
  std::string ha1 = digestHex(alg, a1);
  OPENSSL_cleanse(a1.data(), a1.size());
  return ha1;
}

std::string computeResponse(DigestAlgorithm alg, std::string_view ha1, std::string_view nonce,
                            std::string_view nc, std::string_view cnonce, std::string_view qop,
                            std::string_view method, std::string_view uri) {
  char hex[HexDigest::kMaxHex];
  return std::string(hex, responseHex(alg, ha1, nonce, nc, cnonce, qop, method, uri, hex));
}

std::string randomSecret() {
  std::string secret(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1)
    cryptoFailure("RAND_bytes");
  return secret;
}

// --- NonceManager -----------------------------------------------------------

// HMAC-SHA256 (RFC 2104) with the key's inner and outer pad blocks absorbed
// once: a MAC is then two SHA-256 contexts copied by value and finished. The
// low-level SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP,
// whose per-call re-initialisation costs several times more here (callgrind:
// ~6,600 instructions per MAC through EVP_MAC_init vs ~2,000 this way).
struct NonceManager::MacState {
  SHA256_CTX inner;
  SHA256_CTX outer;
};

NonceManager::NonceManager(std::string secret, std::chrono::seconds lifetime, NowSeconds nowSeconds)
    : macState_(std::make_unique<MacState>()),
      lifetime_(lifetime),
      nowSeconds_(std::move(nowSeconds)),
      counts_(static_cast<CountSlot*>(std::calloc(kNonceCountSlots, sizeof(CountSlot)))),
      nextSequence_(static_cast<std::uint32_t>(core::randomU64())) {
  if (!counts_) throw std::bad_alloc();
  // An all-zero CountSlot is a free one (an aggregate: calloc()'s zeroed
  // bytes are its objects, C++20 [intro.object]/10).
  static_assert(std::is_aggregate_v<CountSlot> && std::is_trivially_destructible_v<CountSlot>);
  unsigned char key[SHA256_CBLOCK] = {};
  if (secret.size() > sizeof key) {
    SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), key);
  } else {
    std::memcpy(key, secret.data(), secret.size());
  }
  unsigned char ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
  for (std::size_t i = 0; i < sizeof key; ++i) {
    ipad[i] = key[i] ^ 0x36;
    opad[i] = key[i] ^ 0x5c;
  }
  if (SHA256_Init(&macState_->inner) != 1 ||
      SHA256_Update(&macState_->inner, ipad, sizeof ipad) != 1 ||
      SHA256_Init(&macState_->outer) != 1 ||
      SHA256_Update(&macState_->outer, opad, sizeof opad) != 1)
    cryptoFailure("SHA256_Init");
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
  OPENSSL_cleanse(secret.data(), secret.size());
}

NonceManager::~NonceManager() = default;

void NonceManager::FreeSlots::operator()(CountSlot* p) const {
  std::free(p);
}

std::int64_t NonceManager::now() const {
  if (nowSeconds_) return nowSeconds_();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void NonceManager::mac(std::string_view stampedSalt, std::string_view realm,
                       unsigned char* out) const {
  // timestamp || sequence || salt has a fixed size, so appending the realm is
  // unambiguous.
  unsigned char innerHash[SHA256_DIGEST_LENGTH];
  unsigned char full[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx = macState_->inner;
  SHA256_Update(&ctx, stampedSalt.data(), stampedSalt.size());
  SHA256_Update(&ctx, realm.data(), realm.size());
  SHA256_Final(innerHash, &ctx);
  ctx = macState_->outer;
  SHA256_Update(&ctx, innerHash, sizeof innerHash);
  SHA256_Final(full, &ctx);
  std::memcpy(out, full, kMacSize);
}

std::string NonceManager::issue(std::string_view realm) {
  std::array<unsigned char, kNonceBytes> raw{};
  writeBigEndian(static_cast<std::uint64_t>(now()), raw.data(), kTimestampSize);
  writeBigEndian(nextSequence_++, raw.data() + kTimestampSize, kSequenceSize);
  // The salt only has to tell apart nonces of other nodes or of an earlier
  // run (the MAC makes nonces unforgeable), so the fast generator serves;
  // RAND_bytes costs ~6,600 instructions a call.
  writeBigEndian(core::randomU64(), raw.data() + kTimestampSize + kSequenceSize, kSaltSize);
  mac({reinterpret_cast<const char*>(raw.data()), kStampSize}, realm, raw.data() + kStampSize);
  return base64UrlEncode(raw.data(), raw.size());
}

NonceStatus NonceManager::check(std::string_view nonce, std::string_view realm, NonceId* id) const {
  const auto raw = decodeNonce(nonce);
  if (!raw) return NonceStatus::Invalid;
  unsigned char expected[kMacSize];
  mac({reinterpret_cast<const char*>(raw->data()), kStampSize}, realm, expected);
  if (CRYPTO_memcmp(expected, raw->data() + kStampSize, kMacSize) != 0) return NonceStatus::Invalid;
  if (id != nullptr) *id = nonceId(raw->data());
  const std::int64_t issued = readTimestamp(raw->data());
  const std::int64_t t = now();
  if (issued > t || t - issued > lifetime_.count()) return NonceStatus::Stale;
  return NonceStatus::Valid;
}

NonceManager::CountUse NonceManager::countUse(std::string_view nonce, std::uint32_t nc,
                                              std::uint64_t fingerprint) {
  const auto raw = decodeNonce(nonce);
  if (!raw) return CountUse::Rejected;
  return countUse(nonceId(raw->data()), nc, fingerprint);
}

NonceManager::CountUse NonceManager::countUse(const NonceId& id, std::uint32_t nc,
                                              std::uint64_t fingerprint) {
  if (nc == 0) return CountUse::Rejected;  // counts start at 00000001 (RFC 7616 §3.4)
  CountSlot& slot = counts_[id.sequence & (kNonceCountSlots - 1)];
  if (slot.highest != 0 && slot.key == id.key) {
    if (nc == slot.highest && fingerprint != 0 && fingerprint == slot.fingerprint)
      return CountUse::Repeated;
    if (nc <= slot.highest) return CountUse::Rejected;
    slot.highest = nc;
    slot.fingerprint = fingerprint;
    return CountUse::Accepted;
  }
  // Another nonce of the same second or later holds the slot: this one may
  // have held it before, with a count now forgotten.
  if (slot.highest != 0 && slot.issued >= id.issued) return CountUse::Rejected;
  slot = CountSlot{id.key, fingerprint, id.issued, nc};
  return CountUse::Accepted;
}

// --- Challenges and credentials ---------------------------------------------

std::vector<std::string> makeChallenges(NonceManager& nonces, std::string_view realm, bool stale,
                                        std::string_view opaque, bool md5Only) {
  const std::string nonce = nonces.issue(realm);
  std::vector<std::string> out;
  out.reserve(2);
  for (auto alg : {DigestAlgorithm::Md5, DigestAlgorithm::Sha256}) {
    if (md5Only && alg != DigestAlgorithm::Md5) break;
    std::string& v = out.emplace_back();
    // Quoting adds two quotes, and at most doubles what it quotes.
    v.reserve(96 + 2 * realm.size() + nonce.size() + 2 * opaque.size());
    v.append("Digest realm=");
    appendQuoted(v, realm);
    v.append(", nonce=\"")
        .append(nonce)
        .append("\", qop=\"auth\", algorithm=")
        .append(algorithmName(alg));
    if (stale) v.append(", stale=true");
    if (!opaque.empty()) {
      v.append(", opaque=");
      appendQuoted(v, opaque);
    }
  }
  return out;
}

namespace {

// The credentials parameters we use, and the one `name` (any case) names:
// its index, or -1 for an auth-param we skip. By length first, so one or two
// comparisons at most.
using CredentialsField = std::string_view DigestCredentials::*;
constexpr CredentialsField kCredentialsFields[] = {
    &DigestCredentials::username, &DigestCredentials::realm,    &DigestCredentials::nonce,
    &DigestCredentials::uri,      &DigestCredentials::response, &DigestCredentials::algorithm,
    &DigestCredentials::qop,      &DigestCredentials::nc,       &DigestCredentials::cnonce,
    &DigestCredentials::opaque,
};

int credentialsField(std::string_view name) {
  const auto is = [&](std::string_view lowerName) { return equalsNoCase(name, lowerName); };
  switch (name.size()) {
    case 2:
      return is("nc") ? 7 : -1;
    case 3:
      return is("uri") ? 3 : is("qop") ? 6 : -1;
    case 5:
      return is("realm") ? 1 : is("nonce") ? 2 : -1;
    case 6:
      return is("cnonce") ? 8 : is("opaque") ? 9 : -1;
    case 8:
      return is("username") ? 0 : is("response") ? 4 : -1;
    case 9:
      return is("algorithm") ? 5 : -1;
    default:
      return -1;
  }
}

}  // namespace

std::optional<DigestCredentials> parseCredentials(std::string_view value) {
  std::size_t i = 0;
  const auto skipWs = [&] {
    while (i < value.size() && isWhitespace(value[i]))
      ++i;
  };
  const auto readToken = [&] {
    const std::size_t start = i;
    while (i < value.size() && isTokenChar(value[i]))
      ++i;
    return value.substr(start, i - start);
  };

  skipWs();
  if (!equalsNoCase(readToken(), "digest")) return std::nullopt;
  if (i < value.size() && !isWhitespace(value[i])) return std::nullopt;

  DigestCredentials c;
  // Which fields were set (bits by kCredentialsFields index): twice is an error.
  std::uint32_t seen = 0;
  bool any = false;

  while (true) {
    skipWs();
    if (i == value.size()) break;
    if (value[i] == ',') {  // empty list elements are allowed (RFC 9110 §5.6.1)
      ++i;
      continue;
    }
    const std::string_view name = readToken();
    if (name.empty()) return std::nullopt;
    skipWs();
    if (i == value.size() || value[i] != '=') return std::nullopt;
    ++i;
    skipWs();

    std::string_view v;
    if (i < value.size() && value[i] == '"') {
      const std::size_t start = ++i;
      // The first quote, then whether an escape comes before it (memchr:
      // nonces and responses are long, and most values have no escapes). No
      // quote at all: unterminated, escaped or not.
      const char* const from = value.data() + start;
      const auto* quote = static_cast<const char*>(std::memchr(from, '"', value.size() - start));
      if (quote == nullptr) return std::nullopt;
      const auto* escape =
          static_cast<const char*>(std::memchr(from, '\\', static_cast<std::size_t>(quote - from)));
      if (escape == nullptr) {
        v = value.substr(start, static_cast<std::size_t>(quote - from));  // the header's own text
        i = start + static_cast<std::size_t>(quote - from) + 1;
      } else {
        // quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F): unescape into a copy.
        std::string text(from, static_cast<std::size_t>(escape - from));
        i = static_cast<std::size_t>(escape - value.data());
        bool closed = false;
        while (i < value.size()) {
          if (value[i] == '"') {
            closed = true;
            ++i;
            break;
          }
          if (value[i] == '\\') {
            if (++i == value.size()) return std::nullopt;
          }
          text.push_back(value[i++]);
        }
        if (!closed) return std::nullopt;
        c.unescaped.push_front(std::move(text));
        v = c.unescaped.front();
      }
    } else {
      // Unquoted values are tokens; be lenient about what a token holds (some
      // phones send unquoted URIs) and stop at whitespace or a comma.
      const std::size_t start = i;
      while (i < value.size() && value[i] != ',' && !isWhitespace(value[i]) && value[i] != '"')
        ++i;
      if (i == start) return std::nullopt;
      v = value.substr(start, i - start);
    }

    if (const int field = credentialsField(name); field >= 0) {
      const std::uint32_t bit = 1u << field;
      if (seen & bit) return std::nullopt;
      seen |= bit;
      c.*kCredentialsFields[field] = v;
    }
    any = true;

    skipWs();
    if (i == value.size()) break;
    if (value[i] != ',') return std::nullopt;
    ++i;
  }
  if (!any) return std::nullopt;
  return c;
}

DigestResult verifyDigest(NonceManager& nonces, const DigestCredentials& c, std::string_view method,
                          std::string_view realm, const UserRecord* user,
                          std::uint64_t fingerprint) {
  // Checks that do not depend on the user come first; after them, a known and
  // an unknown user take the same path.
  const auto alg = parseAlgorithm(c.algorithm);
  if (!alg || c.realm != realm || c.nonce.empty() || c.uri.empty() || c.response.empty())
    return DigestResult::Rejected;
  const bool withQop = !c.qop.empty();
  std::optional<std::uint32_t> nc;
  if (withQop) {
    if (!equalsNoCase(c.qop, "auth") || c.cnonce.empty()) return DigestResult::Rejected;
    nc = parseNonceCount(c.nc);
    if (!nc) return DigestResult::Rejected;
  }
  NonceManager::NonceId nonceId;
  const NonceStatus nonceStatus = nonces.check(c.nonce, realm, &nonceId);
  if (nonceStatus == NonceStatus::Invalid) return DigestResult::Rejected;

  std::string_view ha1;
  bool known = false;
  if (user && user->realm == realm) {
    ha1 = *alg == DigestAlgorithm::Md5 ? user->ha1Md5 : user->ha1Sha256;
    known = !ha1.empty();
  }
  if (!known) ha1 = *alg == DigestAlgorithm::Md5 ? kDummyHa1Md5 : kDummyHa1Sha256;

  char expected[HexDigest::kMaxHex];
  const std::size_t expectedSize =
      responseHex(*alg, ha1, c.nonce, c.nc, c.cnonce, c.qop, method, c.uri, expected);

  // Hex digits in either case (RFC 7616 §3.4: lower case, but be lenient).
  char response[HexDigest::kMaxHex];
  const bool sameSize = c.response.size() == expectedSize;
  for (std::size_t i = 0; i < expectedSize; ++i)
    response[i] = sameSize ? lower(c.response[i]) : '\0';
  const bool match = sameSize && CRYPTO_memcmp(response, expected, expectedSize) == 0;
  if (!match || !known) return DigestResult::Rejected;

  if (nonceStatus == NonceStatus::Stale) return DigestResult::Stale;
  if (!withQop) return DigestResult::Ok;
  switch (nonces.countUse(nonceId, *nc, fingerprint)) {
    case NonceManager::CountUse::Accepted:
      return DigestResult::Ok;
    case NonceManager::CountUse::Repeated:
      return DigestResult::Repeated;
    case NonceManager::CountUse::Rejected:
      break;
  }
  return DigestResult::Stale;
}

}  // namespace tandem::registrar
