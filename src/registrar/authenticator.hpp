#pragma once
// Digest authentication of SIP requests for the served realm (RFC 3261 §22,
// RFC 7616, RFC 8760): checks Authorization / Proxy-Authorization against the
// user store and builds 401 / 407 challenges (MD5 first, then SHA-256, because
// browser SIP stacks read only the first challenge and know only MD5).

#include "registrar/location.hpp"
#include "sip/message/message.hpp"

#include <memory>
#include <string>

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
  AuthResult check(const sip::Message& request, bool proxy, bool recogniseRetransmissions = false);
  // The challenge check() would answer when `request` carries no credentials
  // header at all; nullptr when it carries one (check() then parses it).
  // Costs no user lookup, so a first, credential-less request can be answered
  // statelessly.
  std::unique_ptr<sip::Message> challengeIfNoCredentials(const sip::Message& request, bool proxy);

  std::uint64_t failures() const { return failures_; }

 private:
  std::unique_ptr<sip::Message> challenge(const sip::Message& request, bool proxy, bool stale);

  std::string realm_;
  UserStore& users_;
  NonceManager& nonces_;
  std::uint64_t failures_ = 0;
};

}  // namespace tandem::registrar
