#include "registrar/authenticator.hpp"

#include "core/log.hpp"
#include "core/random.hpp"
#include "registrar/digest.hpp"

namespace tandem::registrar {

Authenticator::Authenticator(std::string realm, UserStore& users, NonceManager& nonces)
    : realm_(std::move(realm)), users_(users), nonces_(nonces) {}

namespace {

// Names one request among its retransmissions and every other request: its
// identity (top Via, Call-ID, CSeq) and the digest response (which covers
// nonce, nc, cnonce, method and URI). Never 0.
std::uint64_t requestFingerprint(const sip::Message& request, std::string_view response) {
  const std::uint64_t f = sip::requestIdentityHash(request) * 0x9E3779B97F4A7C15ULL ^
                          std::hash<std::string_view>{}(response);
  return f == 0 ? 1 : f;
}

}  // namespace

AuthResult Authenticator::check(const sip::Message& request, bool proxy,
                                bool recogniseRetransmissions) {
  const auto headerId = proxy ? sip::HeaderId::ProxyAuthorization : sip::HeaderId::Authorization;
  // Credentials cannot be split at commas (their parameters use them): take
  // whole header lines, and only those for our realm (RFC 3261 §22.3).
  std::optional<DigestCredentials> credentials;
  for (const auto& h : request.headers()) {
    if (h.id != headerId) continue;
    auto parsed = parseCredentials(h.value);
    if (parsed && parsed->realm == realm_) {
      credentials = std::move(parsed);
      break;
    }
  }
  if (!credentials) return {AuthStatus::Challenge, {}, false, challenge(request, proxy, false)};

  // The digest-uri must name the Request-URI (RFC 7616 §3.4.6), else a
  // response captured for one request could be replayed for another.
  bool uriMatches = credentials->uri == request.requestUriText();
  if (!uriMatches) {
    const auto digestUri = sip::Uri::parse(credentials->uri);
    uriMatches = digestUri && sip::uriEquivalent(*digestUri, request.requestUri());
  }

  const auto user = users_.findUserShared(credentials->username);
  const UserRecord* record = (user && user->realm == realm_) ? user.get() : nullptr;
  const std::uint64_t fingerprint =
      recogniseRetransmissions ? requestFingerprint(request, credentials->response) : 0;
  const auto result =
      verifyDigest(nonces_, *credentials, request.methodText(), realm_, record, fingerprint);
  if ((result == DigestResult::Ok || result == DigestResult::Repeated) && uriMatches) {
    return {AuthStatus::Ok, credentials->username, result == DigestResult::Repeated, nullptr};
  }
  ++failures_;
  core::logger("registrar")
      ->info("authentication of '{}' failed for {} (Call-ID {}){}", credentials->username,
             request.methodText(), request.callId(),
             result == DigestResult::Stale ? ": stale nonce" : "");
  return {
      AuthStatus::Challenge, {}, false, challenge(request, proxy, result == DigestResult::Stale)};
}

std::unique_ptr<sip::Message> Authenticator::challengeIfNoCredentials(const sip::Message& request,
                                                                      bool proxy) {
  // Any credentials header at all goes to check(), which parses it (and
  // answers credentials for another realm with the same challenge).
  if (request.has(proxy ? sip::HeaderId::ProxyAuthorization : sip::HeaderId::Authorization))
    return nullptr;
  return challenge(request, proxy, false);
}

std::unique_ptr<sip::Message> Authenticator::challenge(const sip::Message& request, bool proxy,
                                                       bool stale) {
  auto response = sip::makeResponse(request, proxy ? 407 : 401, {}, core::randomToken(10));
  const auto headerId = proxy ? sip::HeaderId::ProxyAuthenticate : sip::HeaderId::WwwAuthenticate;
  for (auto& value : makeChallenges(nonces_, realm_, stale)) {
    response->appendHeader(headerId, std::move(value));
  }
  return response;
}

}  // namespace tandem::registrar
