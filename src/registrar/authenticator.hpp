#pragma once
// Authentication of SIP requests for the served realm: digest (RFC 3261 §22,
// RFC 7616, RFC 8760) against the user store, and bearer tokens (RFC 8898:
// JWT HS256 signed with the secret shared with the site's own web server).
// Builds 401 / 407 challenges: MD5 first, then SHA-256, and a Bearer challenge
// last when tokens are accepted; requests from browsers (Via WS/WSS) get the
// MD5 challenge alone (see makeChallenges).
//
// A connection (TCP, TLS, WebSocket) on which a REGISTER authenticated stays
// authenticated as that user until it closes: later requests on it without
// credentials pass as that user. A browser that logged in with a token can
// then place calls, although JsSIP answers a 407 only with a password.

#include "registrar/location.hpp"
#include "sip/message/message.hpp"

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace tandem::registrar {

class NonceManager;

enum class AuthStatus {
  Ok,         // credentials valid: `user` is set
  Challenge,  // no, stale or wrong credentials: send `challenge`
};

struct AuthResult {
  AuthStatus status = AuthStatus::Challenge;
  std::string user;
  // Ok for a retransmission of the request that last used these credentials'
  // nonce-count (see NonceManager::countUse): only when check() was asked to
  // recognise them.
  bool repeated = false;
  std::unique_ptr<sip::Message> challenge;  // 401 or 407, when status == Challenge
};

class Authenticator {
 public:
  Authenticator(std::string realm, UserStore& users, NonceManager& nonces);

  // `proxy` selects Proxy-Authorization / 407 / Proxy-Authenticate instead of
  // Authorization / 401 / WWW-Authenticate. An unknown user and a wrong
  // password get the same fresh challenge, so user names cannot be probed.
  // `recogniseRetransmissions`: the request has no server transaction (it is
  // answered statelessly), so a retransmission reaches check() and must be
  // accepted again, with `repeated` set.
  // `connection`: the stream connection the request came on (0: none).
  AuthResult check(const sip::Message& request, bool proxy, bool recogniseRetransmissions = false,
                   sip::ConnectionId connection = 0);
  // The challenge check() would answer when `request` carries no credentials
  // header at all; nullptr when it carries one (check() then parses it).
  // Costs no user lookup, so a first, credential-less request can be answered
  // statelessly.
  // A connection that authenticated before needs none: nullptr.
  std::unique_ptr<sip::Message> challengeIfNoCredentials(const sip::Message& request, bool proxy,
                                                         sip::ConnectionId connection = 0);

  std::uint64_t failures() const { return failures_; }

  // Bearer tokens (RFC 8898) are accepted when a secret is set: a JWT HS256
  // whose "sub" is the user (or user@realm). JsSIP's authorization_jwt sends
  // the token in Authorization (with or without "Bearer "), on every request.
  void setJwtSecret(std::string secret) { jwtSecret_ = std::move(secret); }

  // For the site protocol's login: the user a bearer token names ("" when
  // it does not verify; `why` then says why), and whether a password is the
  // user's (checked against the stored MD5 HA1). Failures count in failures().
  std::string verifyToken(std::string_view token, std::string* why = nullptr);
  bool verifyPassword(std::string_view user, std::string_view password);

  // The user a connection authenticated as (see the header comment).
  void rememberConnection(sip::ConnectionId connection, std::string user);
  void forgetConnection(sip::ConnectionId connection);
  const std::string* connectionUser(sip::ConnectionId connection) const;

 private:
  std::unique_ptr<sip::Message> challenge(const sip::Message& request, bool proxy, bool stale);
  // nullopt: no bearer credentials; "" : a token that does not verify.
  std::optional<std::string> bearerUser(const sip::Message& request, bool proxy);

  std::string realm_;
  UserStore& users_;
  NonceManager& nonces_;
  std::uint64_t failures_ = 0;
  std::string jwtSecret_;
  std::unordered_map<sip::ConnectionId, std::string> connectionUsers_;
};

}  // namespace tandem::registrar
