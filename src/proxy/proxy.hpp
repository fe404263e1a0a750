#pragma once
// The stateful proxy core (RFC 3261 §16) and the transaction user of the
// server: requests for the served domain go to the registrar (REGISTER) or to
// every binding of the called user (parallel forking, best response per §16.7,
// CANCEL of the other branches on a 2xx); Record-Route and loose routing keep
// in-dialog requests on path; requests from local users are authenticated
// (407); requests for other domains go to a DomainRouter (federation), and
// the federation peer allow-list and TLS peer identities are enforced here.

#include "core/flat_map.hpp"
#include "core/timer_service.hpp"
#include "registrar/location.hpp"
#include "sip/transaction/transaction_layer.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tandem::registrar {
class Authenticator;
class Registrar;
}  // namespace tandem::registrar

namespace tandem::proxy {

// Where requests for other domains go: RFC 3263 resolution and static routes
// (the federation component, wired by the app). Without a router, requests
// for other domains get 403.
class DomainRouter {
 public:
  struct Result {
    std::vector<sip::Flow> hops;  // in the order to try; empty on failure
    int status = 0;               // on failure: the status to answer (404, 503, ...)
    std::string reason;           // on failure: the reason phrase (one line)
  };
  virtual ~DomainRouter() = default;
  // Called on the loop. `done` is called exactly once, later (never from
  // inside route()), unless the router is destroyed first.
  virtual void route(const sip::Uri& target, std::function<void(Result)> done) = 0;
};

struct ProxyConfig {
  std::string domain;
  // The domains we federate with (lower-case, no trailing dot); empty: any.
  // Requests of our users for other domains, and requests from other
  // domains (by their From), are refused with 403 unless listed.
  std::vector<std::string> peers{};
  // Timer C (§16.8): an INVITE branch with no final response after this long is
  // cancelled. More than 3 minutes per the RFC.
  std::chrono::milliseconds timerC{181000};
  // RFC 3263 failover: an INVITE to one of a domain's targets that has had no
  // response at all (not even 100 Trying, which a server sends within 200 ms)
  // after this long is given up for the next target, rather than after
  // Timer B (32 s). 0: wait for Timer B.
  std::chrono::milliseconds failoverTimeout{5000};
};

struct ProxyStats {
  std::uint64_t requestsForwarded = 0;
  std::uint64_t callsAnswered = 0;  // 2xx to INVITE forwarded upstream
  std::uint64_t activeContexts = 0;
};

class Proxy final : public sip::TransactionUser, private sip::ClientTransactionUser {
 public:
  Proxy(ProxyConfig config, sip::TransactionLayer& transactions, sip::TransportSender& transport,
        registrar::Registrar& registrar, registrar::Authenticator& auth,
        registrar::UserStore& users, core::TimerService& timers);
  ~Proxy() override;

  // sip::TransactionUser
  void onRequest(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                 const sip::Flow& from) override;
  void onCancel(sip::TransactionId inviteTx, const sip::Message& cancel) override;
  void onStrayResponse(std::unique_ptr<sip::Message> response, const sip::Flow& from) override;
  void onServerTransactionGone(sip::TransactionId tx) override;
  std::unique_ptr<sip::Message> answerStatelessly(const sip::Message& request,
                                                  const sip::Flow& from) override;

  ProxyStats stats() const;

  // Enables federation: requests from our authenticated users for other
  // domains are routed through `router` (which must outlive its pending
  // lookups' callbacks, or be destroyed before the proxy). Requests from
  // other domains for other domains stay refused (403): never a relay.
  void setDomainRouter(DomainRouter* router) { router_ = router; }

  // A connection closed. Calls with a browser on it (a WS/WSS side) end
  // cleanly: the proxy sends BYE to each other party in its name (RFC 7118
  // gives a browser no other way to hang up once its socket is gone).
  void onConnectionClosed(sip::ConnectionId id);
  std::size_t dialogCount() const { return dialogs_.size(); }

 private:
  struct Branch;
  struct Context;
  struct Dialog;

  // sip::ClientTransactionUser
  void onResponse(sip::TransactionId tx, const sip::Message& response) override;
  void onResponseOwned(sip::TransactionId tx, std::unique_ptr<sip::Message>& response) override;
  // Both of the above: `owned`, when set, holds `response` and may be taken
  // (forwarded or kept without a copy); nothing reads `response` after that.
  void handleResponse(sip::TransactionId tx, const sip::Message& response,
                      std::unique_ptr<sip::Message>* owned);
  void onTimeout(sip::TransactionId tx) override;
  void onTransportError(sip::TransactionId tx) override;

  // Routing helpers.
  bool isOurHost(const sip::Uri& uri) const;  // our domain or one of our addresses
  bool isUs(const sip::Uri& uri) const;       // our address (Route / Record-Route check)
  std::optional<sip::Flow> flowForUri(const sip::Uri& uri) const;
  std::optional<sip::Flow> flowForBinding(const registrar::Binding& b) const;
  std::string viaFor(sip::Transport t, const std::string& branch) const;
  // `token`: the flow token of that side (see flowToken), or "".
  std::string recordRouteFor(sip::Transport t, std::string_view token) const;
  // A Record-Route user part naming the connection a browser (WS/WSS) is
  // reachable on, signed so it cannot be forged (RFC 5626 §5.3's flow token):
  // in-dialog requests from the other side carry it back in their Route and
  // go down that connection, whatever their Request-URI (a *.invalid host).
  // "" for flows that are reachable by address.
  std::string flowToken(const sip::Flow& flow) const;
  static bool isBrowserFlow(const sip::Flow& flow);  // WS/WSS: has a flow token
  std::optional<sip::Flow> parseFlowToken(std::string_view user) const;

  void reply(sip::TransactionId tx, const sip::Message& request, int status,
             std::string_view reason = {});
  void answerOptions(sip::TransactionId tx, const sip::Message& request);
  void routeToLocalUser(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                        const sip::Flow& from);
  // `viaToken`: the flow named by a flow token in our Route entry, which wins
  // over the Route set and the Request-URI.
  void forwardByRoute(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                      const sip::Flow& from, const std::optional<sip::Flow>& viaToken);
  void forwardAck(std::unique_ptr<sip::Message> ack, const std::optional<sip::Flow>& viaToken);
  void routeToOtherDomain(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                          const sip::Flow& from);
  void onRouted(sip::TransactionId tx, DomainRouter::Result result);
  // Authenticates a request whose From names one of our users (407, or 403
  // when From names another user than the credentials). False: answered.
  bool authenticateLocalSender(sip::TransactionId tx, const sip::Message& request,
                               const sip::Flow& from);
  // Whether `domain` may be federated with (federation peers).
  bool peerAllowed(std::string_view domain) const;
  // A request whose From names another domain: 403 when that domain is not
  // a peer, or when it came on a TLS connection whose verified certificate
  // (mutual TLS) does not name that domain (RFC 5922). False: answered.
  bool admitForeignSender(sip::TransactionId tx, const sip::Message& request,
                          const sip::Flow& from);

  Context& newContext(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                      const sip::Flow& from);
  // Sends one branch of `ctx` to `target` (a URI) via `next` (the flow).
  void addBranch(Context& ctx, const std::string& target, const sip::Flow& next,
                 const std::vector<std::string>& extraRoutes);
  // `local`: the response was made here, not received (see sendBest).
  void branchDone(Context& ctx, Branch& branch, std::unique_ptr<sip::Message> response,
                  bool local = false);
  void failBranch(sip::TransactionId tx, int status, std::string_view reason, bool local = false);
  // Federation: a branch to the next RFC 3263 target still untried (§4.3);
  // false when none is left or none could be sent.
  bool tryNextTarget(Context& ctx);
  void armTimerC(Context& ctx, Branch& branch);
  void armSilence(Context& ctx, Branch& branch);  // see ProxyConfig::failoverTimeout
  // A CANCEL for client INVITE transaction `tx`, sent to `flow`; `reason`:
  // the value of a Reason header (RFC 3326), or empty.
  void sendCancel(sip::TransactionId tx, const sip::Flow& flow, std::string_view reason);
  void cancelBranch(Context& ctx, Branch& branch);
  void cancelPending(Context& ctx, std::size_t except);
  void sendBest(Context& ctx);
  void maybeFinish(Context& ctx);
  // Sends `copy` (a response of one of ctx's branches) upstream, minus our Via.
  void forwardResponse(Context& ctx, std::unique_ptr<sip::Message> copy);
  // Dialogs with a browser side, kept from their 2xx to their BYE.
  void trackDialog(const Context& ctx, const Branch& branch, const sip::Message& ok);
  void noteInDialogRequest(const sip::Message& request);
  void unindexDialog(const Dialog& dialog);  // drops its dialogsByConnection_ entries
  void byeInNameOf(const Dialog& dialog, int gone);

  ProxyConfig config_;
  sip::TransactionLayer& transactions_;
  sip::TransportSender& transport_;
  registrar::Registrar& registrar_;
  registrar::Authenticator& auth_;
  registrar::UserStore& users_;
  core::TimerService& timers_;
  core::FlatMap<sip::TransactionId, std::unique_ptr<Context>> contexts_;  // by server tx
  core::FlatMap<sip::TransactionId, Context*> byClient_;                  // by client tx
  // Client INVITE transactions of targets given up for silence (failover):
  // still running, so that a late provisional response can be CANCELled.
  struct Abandoned {
    sip::Flow flow;
    bool cancelSent = false;
  };
  std::unordered_map<sip::TransactionId, Abandoned> abandoned_;
  ProxyStats stats_;
  std::string flowTokenKey_;  // HMAC key of flow tokens; per process, like connections
  // Each connection's token, made once (an HMAC per message showed in profiles);
  // dropped when the connection closes. Key: connection id * 2 + (WSS ? 1 : 0).
  mutable core::FlatMap<std::uint64_t, std::string> flowTokens_;
  // By Call-ID + caller tag + callee tag; and the keys by browser connection.
  std::unordered_map<std::string, std::unique_ptr<Dialog>> dialogs_;
  std::unordered_map<sip::ConnectionId, std::unordered_set<std::string>> dialogsByConnection_;
  DomainRouter* router_ = nullptr;
  // Requests for other domains waiting for their route, by server transaction.
  struct PendingRoute {
    std::unique_ptr<sip::Message> request;
    sip::Flow from;
  };
  std::unordered_map<sip::TransactionId, PendingRoute> pendingRoutes_;
};

}  // namespace tandem::proxy
