#pragma once
// The registrar (RFC 3261 §10.3): REGISTER for the served domain, digest
// authentication, Expires / Min-Expires, several contacts with q-values, "*"
// unregistration, binding queries; RFC 5626 instance/reg-id replacement and
// RFC 3327 Path are stored with the binding. Bindings live in memory (the
// location service the proxy reads) and are written through to a BindingStore.

#include "core/flat_map.hpp"
#include "registrar/location.hpp"
#include "sip/transaction/transaction_layer.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace spdlog {
class logger;
}

namespace tandem::registrar {

class Authenticator;

struct RegistrarConfig {
  std::string domain;
  int minExpires = 60;
  int maxExpires = 3600;
  int defaultExpires = 3600;
};

class Registrar {
 public:
  // `now` returns wall-clock seconds since the Unix epoch (bindings persist
  // across restarts); injectable for tests.
  Registrar(RegistrarConfig config, sip::TransactionLayer& transactions, Authenticator& auth,
            BindingStore& store, std::function<std::int64_t()> now = {});

  // (Re)loads persisted bindings, replacing what is in memory; drops expired ones.
  void load();

  // Handles a REGISTER whose Request-URI names the served domain; answers in `tx`.
  // The 401 for a REGISTER that carries no Authorization header, to be
  // sent statelessly (nothing else about the request matters before §10.3
  // step 3); nullptr when it carries credentials: handleRegister() then.
  std::unique_ptr<sip::Message> challengeWithoutCredentials(const sip::Message& request,
                                                            const sip::Flow& from);
  void handleRegister(sip::TransactionId tx, const sip::Message& request, const sip::Flow& from);
  // The same without a server transaction (RFC 3261 §8.2.7): the response is
  // returned, to go back statelessly, and a retransmission is processed again
  // and gets the same answer: the Authenticator accepts the repeat of a
  // nonce-count only for the very request that used it, the same CSeq is
  // accepted only then, and the To tag derives from the request. This keeps a
  // registrar, which §8.2.7 says cannot be stateless in general, idempotent
  // for retransmissions: the transaction's 32 s of memory and timers are
  // saved on every REGISTER.
  std::unique_ptr<sip::Message> handleRegisterStateless(const sip::Message& request,
                                                        const sip::Flow& from);

  // The live bindings of an AOR ("user@domain"), highest q first.
  std::vector<const Binding*> lookup(std::string_view aor);
  // The binding whose contact URI is `contact` (exact text), for reaching a UA
  // through the flow it registered on.
  const Binding* findByContact(std::string_view contact) const;

  // A stream connection closed: its bindings can no longer use it.
  void onConnectionClosed(sip::ConnectionId id);
  // Drops expired bindings (called periodically).
  void purgeExpired();

  std::size_t bindingCount() const { return byContact_.size(); }
  std::size_t aorCount() const { return bindings_.size(); }

 private:
  // The response to a REGISTER (challenge, error or 200 with the bindings),
  // with `toTag`; applies the bindings it accepts. `stateless`: no server
  // transaction absorbs retransmissions, so they must be recognised here.
  std::unique_ptr<sip::Message> process(const sip::Message& request, const sip::Flow& from,
                                        std::string_view toTag, bool stateless);
  // Starts loading the bindings of `aor` into the cache (no effect otherwise).
  void prefetchBindings(std::string_view aor) const;
  static std::string statelessTag(const sip::Message& request);
  static bool reachableOnlyByItsConnection(const Binding& b);
  void removeBinding(std::vector<Binding>& list, std::size_t index);

  RegistrarConfig config_;
  std::shared_ptr<spdlog::logger> log_;  // looked up once: the registry takes a lock
  sip::TransactionLayer& transactions_;
  Authenticator& auth_;
  BindingStore& store_;
  std::function<std::int64_t()> now_;
  // Flat tables: a value may move when another is inserted, its vector's
  // Bindings (what lookup() hands out) do not.
  core::StringFlatMap<std::vector<Binding>> bindings_;  // by AOR
  core::StringFlatMap<std::string> byContact_;          // contact -> AOR
  // AORs that registered over each open stream connection, so a closing
  // connection visits only its own bindings (thousands of WebSockets come
  // and go). May name AORs whose binding moved on: onConnectionClosed checks.
  std::unordered_map<sip::ConnectionId, std::vector<std::string>> aorsByConnection_;
};

// The flow a binding's `received` text names ("udp:1.2.3.4:5060"); port 0
// when the text is not one.
sip::Flow parseReceived(std::string_view received);

// "user@domain" for a user of the served domain, with %XX escapes resolved.
std::string makeAor(std::string_view user, std::string_view domain);

}  // namespace tandem::registrar
