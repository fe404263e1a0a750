#include "registrar/authenticator.hpp"

#include "core/jwt.hpp"
#include "core/log.hpp"
#include "core/random.hpp"
#include "registrar/digest.hpp"
#include "sip/message/chars.hpp"

#include <algorithm>
#include <cctype>

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

// The token of an `Authorization: Bearer <token>` value (RFC 8898 §2.3), or of
// a bare compact JWT (three base64url parts), as JsSIP's authorization_jwt
// sends whatever string it was given.
std::optional<std::string_view> bearerToken(std::string_view value) {
  value = sip::detail::trimLws(value);
  constexpr std::string_view kScheme = "bearer";
  if (value.size() > kScheme.size() && sip::iequals(value.substr(0, kScheme.size()), kScheme) &&
      sip::detail::isLws(value[kScheme.size()])) {
    return sip::detail::trimLws(value.substr(kScheme.size()));
  }
  const auto jwtChar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  };
  if (std::count(value.begin(), value.end(), '.') == 2 &&
      std::all_of(value.begin(), value.end(), jwtChar)) {
    return value;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> Authenticator::bearerUser(const sip::Message& request, bool proxy) {
  if (jwtSecret_.empty()) return std::nullopt;
  for (const auto& h : request.headers()) {
    // A proxy takes a token from Authorization too: JsSIP puts it there.
    if (h.id != sip::HeaderId::Authorization &&
        !(proxy && h.id == sip::HeaderId::ProxyAuthorization))
      continue;
    const auto token = bearerToken(h.value);
    if (!token) continue;
    std::string why;
    std::string user = verifyToken(*token, &why);
    if (user.empty()) {
      core::logger("registrar")
          ->info("bearer token refused for {} (Call-ID {}): {}", request.methodText(),
                 request.callId(), why);
    }
    return user;
  }
  return std::nullopt;
}

std::string Authenticator::verifyToken(std::string_view token, std::string* why) {
  if (jwtSecret_.empty()) {
    if (why) *why = "tokens are not accepted (auth.jwt_secret is not set)";
    ++failures_;
    return {};
  }
  const auto verified = core::verifyJwt(token, jwtSecret_, core::unixNow());
  std::string user = verified ? verified.claims->subject : std::string();
  if (const auto at = user.find('@'); at != std::string::npos) {
    user = sip::iequals(std::string_view(user).substr(at + 1), realm_) ? user.substr(0, at) : "";
  }
  if (user.empty()) {
    ++failures_;
    if (why) *why = verified ? "subject not in this realm" : verified.error;
  }
  return user;
}

bool Authenticator::verifyPassword(std::string_view user, std::string_view password) {
  const auto record = users_.findUserShared(user);
  // An unknown user costs the same hash as a known one.
  const std::string ha1 = computeHa1(DigestAlgorithm::Md5, user, realm_, password);
  const bool ok = record && record->realm == realm_ && core::equalConstantTime(ha1, record->ha1Md5);
  if (!ok) ++failures_;
  return ok;
}

void Authenticator::rememberConnection(sip::ConnectionId connection, std::string user) {
  if (connection == 0) return;
  auto& known = connectionUsers_[connection];
  if (known != user) known = std::move(user);  // a refresh: nothing to write
}

void Authenticator::forgetConnection(sip::ConnectionId connection) {
  connectionUsers_.erase(connection);
}

const std::string* Authenticator::connectionUser(sip::ConnectionId connection) const {
  const auto it = connectionUsers_.find(connection);
  return it == connectionUsers_.end() ? nullptr : &it->second;
}

AuthResult Authenticator::check(const sip::Message& request, bool proxy,
                                bool recogniseRetransmissions, sip::ConnectionId connection) {
  if (auto user = bearerUser(request, proxy)) {
    if (!user->empty()) return {AuthStatus::Ok, std::move(*user), false, nullptr};
    return {AuthStatus::Challenge, {}, false, challenge(request, proxy, false)};
  }
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
  if (!credentials) {
    // Nothing for our realm: a connection that authenticated before vouches
    // for its user (To of a REGISTER, From of anything else), nobody else.
    if (const auto* user = connectionUser(connection); user && !request.has(headerId)) {
      const auto claimed =
          request.method() == sip::Method::Register ? request.to() : request.from();
      if (claimed && sip::unescape(claimed->uri.user) == *user)
        return {AuthStatus::Ok, *user, false, nullptr};
    }
    return {AuthStatus::Challenge, {}, false, challenge(request, proxy, false)};
  }

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
    return {AuthStatus::Ok, std::string(credentials->username), result == DigestResult::Repeated,
            nullptr};
  }
  ++failures_;
  core::logger("registrar")
      ->info("authentication of '{}' failed for {} (Call-ID {}){}", credentials->username,
             request.methodText(), request.callId(),
             result == DigestResult::Stale ? ": stale nonce" : "");
  return {
      AuthStatus::Challenge, {}, false, challenge(request, proxy, result == DigestResult::Stale)};
}

std::unique_ptr<sip::Message> Authenticator::challengeIfNoCredentials(
    const sip::Message& request, bool proxy, sip::ConnectionId connection) {
  if (connectionUser(connection)) return nullptr;  // check() decides
  // Any credentials header at all goes to check(), which parses it (and
  // answers credentials for another realm with the same challenge).
  if (request.has(sip::HeaderId::Authorization) ||
      (proxy && request.has(sip::HeaderId::ProxyAuthorization)))
    return nullptr;
  return challenge(request, proxy, false);
}

std::unique_ptr<sip::Message> Authenticator::challenge(const sip::Message& request, bool proxy,
                                                       bool stale) {
  auto response = sip::makeResponse(request, proxy ? 407 : 401, {}, core::randomToken(10));
  const auto headerId = proxy ? sip::HeaderId::ProxyAuthenticate : sip::HeaderId::WwwAuthenticate;
  // Browsers (a request over WebSocket) get the MD5 challenge alone: their
  // SIP stacks keep only the last challenge header and know only MD5.
  const auto transport = request.topViaTransport();
  const bool browser = sip::iequals(transport, "WS") || sip::iequals(transport, "WSS");
  for (auto& value : makeChallenges(nonces_, realm_, stale, {}, browser)) {
    response->appendHeader(headerId, std::move(value));
  }
  // RFC 8898 §2.3: after the digest challenges (clients that read the first
  // one see MD5). Not for browsers, as above; they send tokens unasked.
  if (!jwtSecret_.empty() && !browser) {
    response->appendHeader(headerId, "Bearer realm=\"" + realm_ + "\"");
  }
  return response;
}

}  // namespace tandem::registrar
