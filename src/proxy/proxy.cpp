#include "proxy/proxy.hpp"

#include "core/jwt.hpp"
#include "core/log.hpp"
#include "core/random.hpp"
#include "registrar/authenticator.hpp"
#include "registrar/registrar.hpp"
#include "sip/transport/tls_identity.hpp"

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>

namespace tandem::proxy {
namespace {

constexpr int kDefaultMaxForwards = 70;
// RFC 3263 targets of one domain tried for one request, at most.
constexpr std::size_t kMaxFederationTargets = 8;
constexpr std::string_view kAllow =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, MESSAGE, SUBSCRIBE, NOTIFY, "
    "REFER";

// RFC 3261 §19.1.2 for SIP; RFC 7118 §5 uses the HTTP ports for WebSockets.
std::uint16_t defaultPort(sip::Transport t) {
  switch (t) {
    case sip::Transport::Tls:
      return 5061;
    case sip::Transport::Ws:
      return 80;
    case sip::Transport::Wss:
      return 443;
    default:
      return 5060;
  }
}

// Transport for reaching a URI (RFC 3263 §4.1 without DNS): the transport
// parameter, else TLS for sips, else UDP.
std::optional<sip::Transport> uriTransport(const sip::Uri& uri) {
  if (auto t = uri.param("transport")) return sip::transportFromName(*t);
  return uri.scheme == sip::UriScheme::Sips ? sip::Transport::Tls : sip::Transport::Udp;
}

bool isDialogCreating(sip::Method m) {
  return m == sip::Method::Invite || m == sip::Method::Subscribe || m == sip::Method::Refer;
}

// The class rank used to pick the best final response (§16.7 step 6): 6xx
// first, then the lowest class; within 4xx prefer responses that let the
// caller retry (401, 407, 415, 420, 484).
int rank(int status) {
  if (status >= 600) return 0;
  int r = (status / 100) * 10;
  if (status == 401 || status == 407 || status == 415 || status == 420 || status == 484) r -= 5;
  return r;
}

}  // namespace

struct Proxy::Branch {
  sip::TransactionId tx = 0;
  sip::Flow flow;
  int status = 0;             // last response status; 0 = none yet
  bool done = false;          // final response, timeout or transport error
  bool cancelWanted = false;  // CANCEL once a provisional response arrives
  bool cancelSent = false;
  core::TimerService::TimerId timerC = 0;
  core::TimerService::TimerId silence = 0;  // failover: no response yet (config failoverTimeout)
};

struct Proxy::Context {
  sip::TransactionId serverTx = 0;
  std::unique_ptr<sip::Message> request;
  sip::Flow from;
  std::vector<Branch> branches;
  std::unique_ptr<sip::Message> best;
  std::vector<std::string> challenges[2];  // WWW-Authenticate, Proxy-Authenticate (§16.7 step 7)
  bool finalSent = false;
  bool cancelled = false;
  bool answered = false;     // a branch sent 2xx: the others are cancelled for it
  std::string cancelReason;  // the Reason header of the caller's CANCEL, passed on
  bool federation = false;   // to another domain (its failures are reported as they are)
  bool bestLocal = false;    // `best` was made here (a transport failure), not received
  // Federation: the RFC 3263 targets not tried yet, in order, and the
  // Request-URI they all serve (§4.3: the next one after a failure).
  std::vector<sip::Flow> nextTargets;
  std::string federationTarget;
};

// One side of a dialog through us, as seen from the proxy.
struct Proxy::Dialog {
  struct Side {
    std::string party;  // the From (caller) or To (callee) header value, tag included
    std::string tag;
    std::string target;               // its Contact URI: the Request-URI of requests to it
    std::vector<std::string> routes;  // the Route set from us toward it
    sip::Flow flow;                   // the hop next to us toward it
    std::uint32_t cseq = 0;           // the highest CSeq it sent in this dialog
  };
  std::string key;
  std::string callId;
  Side side[2];  // 0: caller, 1: callee
};

namespace {
std::string dialogKey(std::string_view callId, std::string_view callerTag,
                      std::string_view calleeTag) {
  return fmt::format("{}\n{}\n{}", callId, callerTag, calleeTag);
}
}  // namespace

Proxy::Proxy(ProxyConfig config, sip::TransactionLayer& transactions,
             sip::TransportSender& transport, registrar::Registrar& registrar,
             registrar::Authenticator& auth, registrar::UserStore& users,
             core::TimerService& timers)
    : config_(std::move(config)),
      transactions_(transactions),
      transport_(transport),
      registrar_(registrar),
      auth_(auth),
      users_(users),
      timers_(timers),
      flowTokenKey_(core::randomToken(32)) {}

Proxy::~Proxy() {
  for (auto& [tx, ctx] : contexts_) {
    for (auto& b : ctx->branches) {
      if (b.timerC) timers_.cancel(b.timerC);
      if (b.silence) timers_.cancel(b.silence);
      if (!b.done) transactions_.detach(b.tx);
    }
  }
  for (const auto& [tx, abandoned] : abandoned_)
    transactions_.detach(tx);
}

ProxyStats Proxy::stats() const {
  auto s = stats_;
  s.activeContexts = contexts_.size();
  return s;
}

// ---------------------------------------------------------------- routing helpers

bool Proxy::isUs(const sip::Uri& uri) const {
  const auto address = core::parseIpLiteral(uri.host);
  for (auto t : {sip::Transport::Udp, sip::Transport::Tcp, sip::Transport::Tls, sip::Transport::Ws,
                 sip::Transport::Wss}) {
    const auto adv = transport_.advertised(t);
    if (!adv) continue;
    const auto port = uri.port ? uri.port : defaultPort(t);
    if (port != adv->port) continue;
    if (address ? *address == adv->address : sip::iequals(uri.host, config_.domain)) return true;
  }
  return false;
}

bool Proxy::isOurHost(const sip::Uri& uri) const {
  if (sip::iequals(uri.host, config_.domain)) return true;
  return isUs(uri);
}

std::optional<sip::Flow> Proxy::flowForUri(const sip::Uri& uri) const {
  if (!uri.isSipOrSips()) return std::nullopt;
  const auto transport = uriTransport(uri);
  const auto address = core::parseIpLiteral(uri.host);
  if (!transport || !address) return std::nullopt;
  sip::Flow flow;
  flow.transport = *transport;
  flow.remote.address = *address;
  flow.remote.port = uri.port ? uri.port : defaultPort(*transport);
  return flow;
}

std::optional<sip::Flow> Proxy::flowForBinding(const registrar::Binding& b) const {
  // Prefer the connection the REGISTER came on (the UA may not accept
  // connections), else the contact address, else the REGISTER's source.
  auto contact = sip::Uri::parse(b.contact);
  std::optional<sip::Flow> viaContact;
  if (contact) viaContact = flowForUri(*contact);
  std::optional<sip::Flow> viaSource;
  if (b.source.remote.port != 0) viaSource = b.source;
  if (viaSource && viaSource->connection != 0) return viaSource;
  if (viaContact) {
    // A contact without a transport parameter is reached the way it registered.
    if (contact && !contact->param("transport") && viaSource)
      viaContact->transport = viaSource->transport;
    return viaContact;
  }
  return viaSource;
}

std::string Proxy::viaFor(sip::Transport t, const std::string& branch) const {
  const auto adv = transport_.advertised(t);
  const auto host = adv ? adv->toString() : config_.domain;
  return fmt::format("SIP/2.0/{} {};branch={}", sip::transportName(t), host, branch);
}

// Our Record-Route entry for one side of the proxy. TLS is named with
// transport=tls on a sip: URI rather than sips: (RFC 5630 §3.1.3): sips would
// force every later hop of the dialog onto TLS.
std::string Proxy::recordRouteFor(sip::Transport t, std::string_view token) const {
  const auto adv = transport_.advertised(t);
  const auto host = adv ? adv->toString() : config_.domain;
  const auto user = token.empty() ? std::string() : fmt::format("{}@", token);
  if (t == sip::Transport::Udp) return fmt::format("<sip:{}{};lr>", user, host);
  std::string name(sip::transportName(t));
  std::transform(name.begin(), name.end(), name.begin(), [](char c) { return std::tolower(c); });
  return fmt::format("<sip:{}{};transport={};lr>", user, host, name);
}

namespace {
constexpr std::string_view kFlowTokenPrefix = "ft-";
constexpr std::size_t kFlowTokenMacBytes = 8;
}  // namespace

// "ft-" + 'w' (WS) or 's' (WSS) + the connection id in hex + "-" + the first
// 8 bytes of HMAC-SHA256(key, what precedes) in base64url.
bool Proxy::isBrowserFlow(const sip::Flow& flow) {
  return flow.connection != 0 &&
         (flow.transport == sip::Transport::Ws || flow.transport == sip::Transport::Wss);
}

std::string Proxy::flowToken(const sip::Flow& flow) const {
  if (!isBrowserFlow(flow)) return {};
  const bool secure = flow.transport == sip::Transport::Wss;
  const auto key = static_cast<std::uint64_t>(flow.connection) * 2 + (secure ? 1 : 0);
  if (const auto it = flowTokens_.find(key); it != flowTokens_.end()) return it->second;
  const auto body = fmt::format("{}{}{:x}", kFlowTokenPrefix, secure ? 's' : 'w', flow.connection);
  const auto mac = core::hmac("SHA256", flowTokenKey_, body).substr(0, kFlowTokenMacBytes);
  auto token = fmt::format("{}-{}", body, core::base64UrlEncode(mac));
  // Only open connections are remembered (onConnectionClosed forgets them):
  // tokens read from requests may name any number, never cached for them.
  if (transport_.connectionOpen(flow.connection)) flowTokens_.emplace(key, token);
  return token;
}

// The flow a token names: read back, then accepted only if signing that flow
// gives the very same token.
std::optional<sip::Flow> Proxy::parseFlowToken(std::string_view user) const {
  if (!user.starts_with(kFlowTokenPrefix) || user.size() < kFlowTokenPrefix.size() + 2)
    return std::nullopt;
  const char kind = user[kFlowTokenPrefix.size()];
  if (kind != 'w' && kind != 's') return std::nullopt;
  const auto idText = user.substr(kFlowTokenPrefix.size() + 1);
  sip::Flow flow;
  flow.transport = kind == 'w' ? sip::Transport::Ws : sip::Transport::Wss;
  const auto [end, ec] =
      std::from_chars(idText.data(), idText.data() + idText.size(), flow.connection, 16);
  if (ec != std::errc() || end == idText.data() + idText.size() || *end != '-' ||
      flow.connection == 0)
    return std::nullopt;
  if (!core::equalConstantTime(user, flowToken(flow))) return std::nullopt;
  return flow;
}

void Proxy::reply(sip::TransactionId tx, const sip::Message& request, int status,
                  std::string_view reason) {
  if (tx == 0) return;  // ACK: never answered
  transactions_.respond(tx, sip::makeResponse(request, status, reason, core::randomToken(10)));
}

void Proxy::answerOptions(sip::TransactionId tx, const sip::Message& request) {
  auto response = sip::makeResponse(request, 200, {}, core::randomToken(10));
  response->appendHeader(sip::HeaderId::Allow, std::string(kAllow));
  response->appendHeader(sip::HeaderId::Accept, "application/sdp");
  response->appendHeader(sip::HeaderId::Supported, "path");
  transactions_.respond(tx, std::move(response));
}

// ---------------------------------------------------------------- requests

// A REGISTER for us is answered statelessly (RFC 3261 §8.2.7): without a
// transaction, its 32 s of timers or its memory. Without credentials it gets
// its 401 (a retransmission just gets a fresh challenge); with credentials the
// registrar processes it idempotently, so a retransmission gets the same
// answer (Registrar::handleRegisterStateless). Only the plain case: anything
// onRequest() would treat otherwise (a Route to strip, an unsupported
// Proxy-Require, a non-sip Request-URI) takes the stateful path.
std::unique_ptr<sip::Message> Proxy::answerStatelessly(const sip::Message& request,
                                                       const sip::Flow& from) {
  if (request.method() != sip::Method::Register || request.has(sip::HeaderId::Route) ||
      request.has(sip::HeaderId::ProxyRequire) || !request.requestUri().isSipOrSips() ||
      !isOurHost(request.requestUri())) {
    return nullptr;
  }
  if (auto challenge = registrar_.challengeWithoutCredentials(request, from)) return challenge;
  return registrar_.handleRegisterStateless(request, from);
}

void Proxy::onRequest(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                      const sip::Flow& from) {
  auto& req = *request;

  // §16.3 step 2: only sip/sips Request-URIs can be routed here.
  if (!req.requestUri().isSipOrSips()) {
    return reply(tx, req, 416, "Unsupported URI Scheme");
  }
  // §16.3 step 5: Proxy-Require names extensions we do not support (we know none).
  if (req.has(sip::HeaderId::ProxyRequire) && req.method() != sip::Method::Ack &&
      req.method() != sip::Method::Cancel) {
    auto response = sip::makeResponse(req, 420, {}, core::randomToken(10));
    for (auto v : req.values(sip::HeaderId::ProxyRequire))
      response->appendHeader(sip::HeaderId::Unsupported, std::string(v));
    return transactions_.respond(tx, std::move(response));
  }

  // §16.4: a strict router before us put our Record-Route in the Request-URI:
  // the real target is the last Route.
  if (isUs(req.requestUri()) && req.has(sip::HeaderId::Route) && req.requestUri().user.empty()) {
    auto routes = req.values(sip::HeaderId::Route);
    auto last = sip::NameAddr::parse(routes.back());
    if (last) {
      std::string target(last->uri.text);
      // Rebuild the Route set without its last element.
      std::vector<std::string> keep(routes.begin(), routes.end() - 1);
      req.removeAll(sip::HeaderId::Route);
      for (auto& r : keep)
        req.appendHeader(sip::HeaderId::Route, std::move(r));
      req.setRequestUri(std::move(target));
    }
  }
  // §16.4: remove our own Route entries: one, or two when we double
  // record-routed (RFC 5658). A flow token in one of them that names another
  // connection than the one this came on says where the request goes.
  std::optional<sip::Flow> viaToken;
  while (req.has(sip::HeaderId::Route)) {
    auto top = sip::NameAddr::parse(req.values(sip::HeaderId::Route).front());
    if (!top || !isUs(top->uri)) break;
    if (auto flow = parseFlowToken(top->uri.user); flow && flow->connection != from.connection)
      viaToken = flow;
    req.removeFirstValue(sip::HeaderId::Route);
  }

  if (tx == 0) return forwardAck(std::move(request), viaToken);
  if (!dialogs_.empty()) noteInDialogRequest(req);

  const bool inDialog = !req.toTag().empty();
  const auto& ruri = req.requestUri();

  // Requests that end here.
  if (!req.has(sip::HeaderId::Route) && isOurHost(ruri) && ruri.user.empty()) {
    if (req.method() == sip::Method::Options) return answerOptions(tx, req);
    if (req.method() == sip::Method::Register) return registrar_.handleRegister(tx, req, from);
    return reply(tx, req, 404, "Not Found (no user in Request-URI)");
  }
  if (req.method() == sip::Method::Register) {
    if (isOurHost(ruri)) return registrar_.handleRegister(tx, req, from);
    return reply(tx, req, 403, "Forbidden (domain not served here)");
  }

  // §16.3 step 3: Max-Forwards.
  if (req.maxForwards() == 0) return reply(tx, req, 483, "Too Many Hops");

  // In-dialog requests follow their route set; no authentication (the dialog
  // was authenticated when it was created through us).
  if (inDialog && (req.has(sip::HeaderId::Route) || !isOurHost(ruri) || viaToken)) {
    if (!admitForeignSender(tx, req, from)) return;
    return forwardByRoute(tx, std::move(request), from, viaToken);
  }
  if (req.has(sip::HeaderId::Route)) {
    // A pre-loaded route through us to somewhere else: only for authenticated local users.
    const auto fromHeader = req.from();
    if (fromHeader && isOurHost(fromHeader->uri)) {
      auto auth = auth_.check(req, /*proxy=*/true, false, from.connection);
      if (auth.status != registrar::AuthStatus::Ok)
        return transactions_.respond(tx, std::move(auth.challenge));
    }
    return reply(tx, req, 403, "Forbidden (relaying not allowed)");
  }

  if (!isOurHost(ruri)) return routeToOtherDomain(tx, std::move(request), from);
  routeToLocalUser(tx, std::move(request), from);
}

bool Proxy::authenticateLocalSender(sip::TransactionId tx, const sip::Message& req,
                                    const sip::Flow& from) {
  const auto fromHeader = req.from();
  if (!fromHeader || !fromHeader->uri.isSipOrSips() || !isOurHost(fromHeader->uri)) return true;
  auto auth = auth_.check(req, /*proxy=*/true, false, from.connection);
  if (auth.status != registrar::AuthStatus::Ok) {
    transactions_.respond(tx, std::move(auth.challenge));
    return false;
  }
  if (sip::unescape(fromHeader->uri.user) != auth.user) {
    reply(tx, req, 403, "Forbidden (From does not match the authenticated user)");
    return false;
  }
  return true;
}

bool Proxy::peerAllowed(std::string_view domain) const {
  return config_.peers.empty() || sip::identitiesContain(config_.peers, domain);
}

bool Proxy::admitForeignSender(sip::TransactionId tx, const sip::Message& req,
                               const sip::Flow& from) {
  const auto fromHeader = req.from();
  if (!fromHeader || !fromHeader->uri.isSipOrSips() || isOurHost(fromHeader->uri)) return true;
  const std::string domain = sip::normalizeDomain(fromHeader->uri.host);
  // RFC 5922 §7.3 (server side): a peer that proved its domains with a
  // client certificate may only send requests from those domains.
  if (from.transport == sip::Transport::Tls && from.connection != 0) {
    if (const auto* identities = transport_.tlsPeerIdentities(from.connection)) {
      if (!sip::identitiesContain(*identities, domain)) {
        std::string names;
        for (const auto& identity : *identities)
          names += (names.empty() ? "" : ", ") + identity;
        core::logger("proxy")->info(
            "{} from {} refused: the peer's TLS certificate names {}, not that domain (Call-ID {})",
            req.methodText(), domain, names, req.callId());
        reply(tx, req, 403,
              fmt::format("Forbidden (From domain {} is not the TLS peer's domain {})", domain,
                          names));
        return false;
      }
    }
  }
  if (!peerAllowed(domain)) {
    core::logger("proxy")->info("{} from {} refused: not a federation peer (Call-ID {})",
                                req.methodText(), domain, req.callId());
    reply(tx, req, 403, fmt::format("Forbidden (federation with {} is not allowed)", domain));
    return false;
  }
  return true;
}

// Federation (RFC 3263): only our own, authenticated users reach other
// domains through us; a request from elsewhere for elsewhere is a relay.
void Proxy::routeToOtherDomain(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                               const sip::Flow& from) {
  auto& req = *request;
  const auto fromHeader = req.from();
  if (!router_) return reply(tx, req, 403, "Forbidden (domain not served here)");
  if (!fromHeader || !fromHeader->uri.isSipOrSips() || !isOurHost(fromHeader->uri)) {
    return reply(tx, req, 403, "Forbidden (relaying not allowed)");
  }
  if (!req.requestUri().isSipOrSips()) {
    return reply(tx, req, 416, "Unsupported URI Scheme");
  }
  if (!authenticateLocalSender(tx, req, from)) return;
  if (!peerAllowed(req.requestUri().host)) {
    core::logger("proxy")->info("{} for {} refused: {} is not a federation peer (Call-ID {})",
                                req.methodText(), req.requestUriText(), req.requestUri().host,
                                req.callId());
    return reply(
        tx, req, 403,
        fmt::format("Forbidden (federation with {} is not allowed)", req.requestUri().host));
  }
  auto& pending = pendingRoutes_[tx];
  pending.request = std::move(request);
  pending.from = from;
  router_->route(pending.request->requestUri(),
                 [this, tx](DomainRouter::Result result) { onRouted(tx, std::move(result)); });
}

void Proxy::onRouted(sip::TransactionId tx, DomainRouter::Result result) {
  const auto it = pendingRoutes_.find(tx);
  if (it == pendingRoutes_.end()) return;  // cancelled, or its transaction is gone
  PendingRoute pending = std::move(it->second);
  pendingRoutes_.erase(it);
  if (result.hops.empty()) {
    core::logger("proxy")->info("{} for {}: {} {}", pending.request->methodText(),
                                pending.request->requestUriText(), result.status, result.reason);
    return reply(tx, *pending.request, result.status ? result.status : 503, result.reason);
  }
  auto& ctx = newContext(tx, std::move(pending.request), pending.from);
  ctx.federation = true;
  ctx.federationTarget = std::string(ctx.request->requestUriText());
  // At most kMaxFederationTargets, tried one after the other (never in
  // parallel: they are the same server's addresses).
  const auto n = std::min(result.hops.size(), kMaxFederationTargets);
  ctx.nextTargets.assign(result.hops.begin(), result.hops.begin() + static_cast<std::ptrdiff_t>(n));
  tryNextTarget(ctx);
  maybeFinish(ctx);
}

bool Proxy::tryNextTarget(Context& ctx) {
  while (!ctx.nextTargets.empty()) {
    const sip::Flow hop = ctx.nextTargets.front();
    ctx.nextTargets.erase(ctx.nextTargets.begin());
    if (!ctx.branches.empty()) {
      core::logger("proxy")->info("{} for {}: trying the next target, {} {} (Call-ID {})",
                                  ctx.request->methodText(), ctx.federationTarget,
                                  sip::transportName(hop.transport), hop.remote.toString(),
                                  ctx.request->callId());
    }
    addBranch(ctx, ctx.federationTarget, hop, {});
    if (ctx.branches.back().done) continue;  // it failed at once: the next
    if (!ctx.nextTargets.empty() && ctx.request->method() == sip::Method::Invite &&
        config_.failoverTimeout.count() > 0) {
      armSilence(ctx, ctx.branches.back());
    }
    return true;
  }
  return false;
}

// A target that has not answered at all after failoverTimeout is taken for
// dead and the next target gets the request. Its transaction runs on (a
// CANCEL must wait for a provisional response, §9.1): if the target was only
// slow, its first provisional response gets the CANCEL (see abandoned_).
void Proxy::armSilence(Context& ctx, Branch& branch) {
  const auto serverTx = ctx.serverTx;
  const auto clientTx = branch.tx;
  branch.silence = timers_.schedule(config_.failoverTimeout, [this, serverTx, clientTx] {
    const auto it = contexts_.find(serverTx);
    if (it == contexts_.end()) return;
    Context& c = *it->second;
    for (auto& b : c.branches) {
      if (b.tx != clientTx) continue;
      b.silence = 0;
      if (b.done || b.status != 0) return;
      core::logger("proxy")->info("{} for {}: no response from {} {} in {} ms (Call-ID {})",
                                  c.request->methodText(), c.federationTarget,
                                  sip::transportName(b.flow.transport), b.flow.remote.toString(),
                                  config_.failoverTimeout.count(), c.request->callId());
      abandoned_.emplace(clientTx, Abandoned{b.flow, false});
      failBranch(clientTx, 408, "Request Timeout (no response)", true);
      return;
    }
  });
}

void Proxy::routeToLocalUser(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                             const sip::Flow& from) {
  auto& req = *request;
  // Requests claiming to come from one of our users must prove it (§22.3);
  // those from other domains must come from a peer.
  if (!authenticateLocalSender(tx, req, from)) return;
  if (!admitForeignSender(tx, req, from)) return;

  const auto user = sip::unescape(req.requestUri().user);
  const auto aor = registrar::makeAor(req.requestUri().user, config_.domain);
  const auto bindings = registrar_.lookup(aor);
  if (bindings.empty()) {
    if (!users_.findUserShared(user)) return reply(tx, req, 404, "Not Found");
    return reply(tx, req, 480, "Temporarily Unavailable");
  }

  auto& ctx = newContext(tx, std::move(request), from);
  // Parallel forking (§16.6) to every binding. Copy what we need first: sending
  // may re-enter and change the registrar's lists.
  struct Target {
    std::string contact;
    sip::Flow flow;
    std::vector<std::string> path;
  };
  std::vector<Target> targets;
  for (const auto* b : bindings) {
    auto flow = flowForBinding(*b);
    if (!flow) continue;
    Target t{b->contact, *flow, {}};
    if (!b->path.empty()) {
      for (auto p : sip::splitCommaList(b->path))
        t.path.emplace_back(p);
    }
    targets.push_back(std::move(t));
  }
  if (targets.empty()) {
    reply(tx, *ctx.request, 480, "Temporarily Unavailable (no reachable contact)");
    contexts_.erase(tx);
    return;
  }
  for (const auto& t : targets)
    addBranch(ctx, t.contact, t.flow, t.path);
  maybeFinish(ctx);
}

void Proxy::forwardByRoute(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                           const sip::Flow& from, const std::optional<sip::Flow>& viaToken) {
  auto& req = *request;
  std::optional<sip::Flow> next;
  if (viaToken) {
    if (!transport_.connectionOpen(viaToken->connection)) return reply(tx, req, 430, "Flow Failed");
    next = viaToken;
  } else if (req.has(sip::HeaderId::Route)) {
    auto top = sip::NameAddr::parse(req.values(sip::HeaderId::Route).front());
    if (top) next = flowForUri(top->uri);
  } else if (const auto* b = registrar_.findByContact(req.requestUriText())) {
    next = flowForBinding(*b);
  } else {
    next = flowForUri(req.requestUri());
  }
  if (!next) return reply(tx, req, 503, "Service Unavailable (cannot resolve next hop)");
  std::string target(req.requestUriText());
  auto& ctx = newContext(tx, std::move(request), from);
  addBranch(ctx, target, *next, {});
  maybeFinish(ctx);
}

void Proxy::forwardAck(std::unique_ptr<sip::Message> ack,
                       const std::optional<sip::Flow>& viaToken) {
  // ACK for a 2xx (§16.7 / §17.1.1.3): forwarded statelessly along the route.
  std::optional<sip::Flow> next;
  if (viaToken) {
    next = viaToken;
  } else if (ack->has(sip::HeaderId::Route)) {
    auto top = sip::NameAddr::parse(ack->values(sip::HeaderId::Route).front());
    if (top) next = flowForUri(top->uri);
  } else if (const auto* b = registrar_.findByContact(ack->requestUriText())) {
    next = flowForBinding(*b);
  } else if (!isOurHost(ack->requestUri())) {
    next = flowForUri(ack->requestUri());
  }
  if (!next) return;
  const int mf = ack->maxForwards();
  if (mf == 0) return;
  ack->setHeader(sip::HeaderId::MaxForwards, std::to_string(mf < 0 ? kDefaultMaxForwards : mf - 1));
  // Stateless forwarding needs a branch that is the same for retransmissions
  // (§16.11): derive it from the upstream branch.
  const auto* via = ack->topViaParsed();
  const auto branch = fmt::format(
      "z9hG4bK{:x}", std::hash<std::string_view>{}(via ? via->branch() : ack->callId()));
  ack->prependHeader(sip::HeaderId::Via, viaFor(next->transport, branch));
  transactions_.sendStateless(*ack, *next);
}

// ---------------------------------------------------------------- contexts and branches

Proxy::Context& Proxy::newContext(sip::TransactionId tx, std::unique_ptr<sip::Message> request,
                                  const sip::Flow& from) {
  auto ctx = std::make_unique<Context>();
  ctx->serverTx = tx;
  ctx->request = std::move(request);
  ctx->from = from;
  auto& ref = *ctx;
  contexts_[tx] = std::move(ctx);
  return ref;
}

void Proxy::addBranch(Context& ctx, const std::string& target, const sip::Flow& next,
                      const std::vector<std::string>& extraRoutes) {
  auto copy = ctx.request->clone();
  auto& out = *copy;
  out.setRequestUri(target);
  const int mf = out.maxForwards();
  out.setHeader(sip::HeaderId::MaxForwards, std::to_string(mf < 0 ? kDefaultMaxForwards : mf - 1));
  const bool inDialog = !out.toTag().empty();
  if (!inDialog && isDialogCreating(out.method())) {
    // Record-Route (§16.6 step 4); a second entry when the transport changes
    // (RFC 5658 double record-routing), topmost facing the callee.
    // Both entries when a side is a browser: each carries that side's flow token.
    const auto fromToken = flowToken(ctx.from);
    const auto nextToken = flowToken(next);
    out.prependHeader(sip::HeaderId::RecordRoute, recordRouteFor(ctx.from.transport, fromToken));
    if (next.transport != ctx.from.transport || !fromToken.empty() || !nextToken.empty())
      out.prependHeader(sip::HeaderId::RecordRoute, recordRouteFor(next.transport, nextToken));
  }
  // Path (RFC 3327 §5.3): the stored Path becomes the Route set, in order.
  for (auto it = extraRoutes.rbegin(); it != extraRoutes.rend(); ++it)
    out.prependHeader(sip::HeaderId::Route, *it);
  out.prependHeader(sip::HeaderId::Via, viaFor(next.transport, sip::TransactionLayer::newBranch()));

  Branch branch;
  branch.flow = next;
  ctx.branches.push_back(branch);
  const auto index = ctx.branches.size() - 1;
  ++stats_.requestsForwarded;
  const auto clientTx = transactions_.sendRequest(std::move(copy), next, *this);
  // sendRequest may have reported a transport error synchronously.
  if (clientTx == 0) {
    ctx.branches[index].done = true;
    ctx.branches[index].status = 503;
    if (!ctx.best)
      ctx.best = sip::makeResponse(*ctx.request, 503, "Service Unavailable (transport error)",
                                   core::randomToken(10));
    return;
  }
  ctx.branches[index].tx = clientTx;
  byClient_[clientTx] = &ctx;
  if (ctx.request->method() == sip::Method::Invite) armTimerC(ctx, ctx.branches[index]);
}

void Proxy::armTimerC(Context& ctx, Branch& branch) {
  if (branch.timerC) timers_.cancel(branch.timerC);
  const auto serverTx = ctx.serverTx;
  const auto clientTx = branch.tx;
  branch.timerC = timers_.schedule(config_.timerC, [this, serverTx, clientTx] {
    auto it = contexts_.find(serverTx);
    if (it == contexts_.end()) return;
    Context& ctx = *it->second;
    for (auto& b : ctx.branches) {
      if (b.tx == clientTx && !b.done) {
        b.timerC = 0;
        cancelBranch(ctx, b);
      }
    }
  });
}

void Proxy::cancelBranch(Context& ctx, Branch& branch) {
  if (branch.done || branch.cancelSent) return;
  if (ctx.request->method() != sip::Method::Invite) return;
  if (branch.status == 0) {
    branch.cancelWanted = true;  // §9.1: wait for a provisional response
    return;
  }
  branch.cancelSent = true;
  // RFC 3326: why. The other devices of a user stop ringing with "answered
  // elsewhere" rather than "missed call".
  std::string reason;
  if (ctx.answered) {
    reason = "SIP;cause=200;text=\"Call completed elsewhere\"";
  } else if (!ctx.cancelReason.empty()) {
    reason = ctx.cancelReason;
  }
  sendCancel(branch.tx, branch.flow, reason);
}

void Proxy::sendCancel(sip::TransactionId tx, const sip::Flow& flow, std::string_view reason) {
  const auto* sent = transactions_.clientRequest(tx);
  if (!sent) return;
  // §9.1: same Request-URI, Call-ID, To, From, CSeq number and Route as the
  // request, and its top Via (so it matches the same branch downstream).
  std::string text = fmt::format("CANCEL {} SIP/2.0\r\n", sent->requestUriText());
  const auto via = sent->values(sip::HeaderId::Via);
  text += fmt::format("Via: {}\r\n", via.front());
  text += fmt::format("Max-Forwards: {}\r\n", kDefaultMaxForwards);
  text += fmt::format("From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} CANCEL\r\n",
                      sent->first(sip::HeaderId::From), sent->first(sip::HeaderId::To),
                      sent->callId(), sent->cseq() ? sent->cseq()->number : 0);
  for (auto r : sent->values(sip::HeaderId::Route))
    text += fmt::format("Route: {}\r\n", r);
  if (!reason.empty()) text += fmt::format("Reason: {}\r\n", reason);
  text += "Content-Length: 0\r\n\r\n";
  auto parsed = sip::Message::parse(std::move(text));
  if (!parsed.ok()) {
    core::logger("proxy")->error("could not build CANCEL ({}) for Call-ID {}", parsed.error,
                                 sent->callId());
    return;
  }
  // The CANCEL's own responses are of no interest: a detached transaction.
  const auto cancelTx = transactions_.sendRequest(std::move(parsed.message), flow, *this);
  if (cancelTx) transactions_.detach(cancelTx);
}

void Proxy::cancelPending(Context& ctx, std::size_t except) {
  for (std::size_t i = 0; i < ctx.branches.size(); ++i) {
    if (i != except) cancelBranch(ctx, ctx.branches[i]);
  }
}

void Proxy::onCancel(sip::TransactionId inviteTx, const sip::Message& cancel) {
  if (const auto pending = pendingRoutes_.find(inviteTx); pending != pendingRoutes_.end()) {
    // Cancelled while its domain was being resolved.
    auto request = std::move(pending->second.request);
    pendingRoutes_.erase(pending);
    return reply(inviteTx, *request, 487, "Request Terminated");
  }
  auto it = contexts_.find(inviteTx);
  if (it == contexts_.end()) return;
  auto& ctx = *it->second;
  ctx.cancelled = true;
  if (const auto* reason = cancel.find("Reason");
      reason && reason->value.find_first_of("\r\n") == std::string_view::npos) {
    ctx.cancelReason = std::string(reason->value);
  }
  cancelPending(ctx, ctx.branches.size());
}

void Proxy::onServerTransactionGone(sip::TransactionId tx) {
  pendingRoutes_.erase(tx);
  auto it = contexts_.find(tx);
  if (it == contexts_.end()) return;
  auto& ctx = *it->second;
  for (auto& b : ctx.branches) {
    if (b.timerC) timers_.cancel(b.timerC);
    if (b.silence) timers_.cancel(b.silence);
    if (!b.done) {
      cancelBranch(ctx, b);
      transactions_.detach(b.tx);
    }
    byClient_.erase(b.tx);
  }
  contexts_.erase(tx);  // by key: the table may have changed since the lookup
}

// ---------------------------------------------------------------- responses

void Proxy::forwardResponse(Context& ctx, std::unique_ptr<sip::Message> copy) {
  copy->removeFirstValue(sip::HeaderId::Via);  // ours (§16.7 step 3)
  if (!copy->has(sip::HeaderId::Via)) return;  // was meant for us
  if (ctx.request->method() == sip::Method::Invite && copy->status() >= 200 && copy->status() < 300)
    ++stats_.callsAnswered;
  transactions_.respond(ctx.serverTx, std::move(copy));
}

void Proxy::onResponse(sip::TransactionId tx, const sip::Message& response) {
  handleResponse(tx, response, nullptr);
}

void Proxy::onResponseOwned(sip::TransactionId tx, std::unique_ptr<sip::Message>& response) {
  handleResponse(tx, *response, &response);
}

void Proxy::handleResponse(sip::TransactionId tx, const sip::Message& response,
                           std::unique_ptr<sip::Message>* owned) {
  // The response to pass on or keep, taken at most once: the layer's own
  // message when it was handed over, else a copy.
  const auto take = [&] {
    return owned != nullptr && *owned ? std::move(*owned) : response.clone();
  };
  if (const auto a = abandoned_.find(tx); a != abandoned_.end()) {
    // A target given up for silence was only slow. Its first provisional
    // response gets our CANCEL; a final one ends it (a 2xx goes on upstream,
    // as any late 2xx does, for the caller to ACK and BYE, §13.2.2.4).
    if (response.status() < 200) {
      if (!a->second.cancelSent) {
        a->second.cancelSent = true;
        sendCancel(tx, a->second.flow, {});
      }
      return;
    }
    abandoned_.erase(a);
    if (response.status() < 300) onStrayResponse(take(), {});
    return;
  }
  auto found = byClient_.find(tx);
  if (found == byClient_.end()) return;
  auto& ctx = *found->second;
  auto branchIt = std::find_if(ctx.branches.begin(), ctx.branches.end(),
                               [tx](const Branch& b) { return b.tx == tx; });
  if (branchIt == ctx.branches.end()) return;
  auto& branch = *branchIt;
  const int status = response.status();
  if (branch.silence) timers_.cancel(branch.silence), branch.silence = 0;  // it is alive

  if (status < 200) {
    if (branch.done) return;
    branch.status = status;
    if (branch.cancelWanted || ctx.cancelled || ctx.finalSent) {
      cancelBranch(ctx, branch);
    }
    if (status == 100 || ctx.finalSent) return;  // 100 is hop-by-hop (§16.7 step 5)
    // Timer C restarts on every provisional response (§16.7 step 2).
    if (branch.timerC) armTimerC(ctx, branch);
    forwardResponse(ctx, take());
    return;
  }

  if (status < 300) {
    // Every 2xx goes upstream, also retransmissions and 2xx from other
    // branches after the first (§16.7 step 5).
    const bool first = !ctx.finalSent;
    ctx.finalSent = true;
    ctx.answered = true;
    if (ctx.request->method() == sip::Method::Invite) trackDialog(ctx, branch, response);
    forwardResponse(ctx, take());
    if (!branch.done) {
      branch.done = true;
      branch.status = status;
      if (branch.timerC) timers_.cancel(branch.timerC), branch.timerC = 0;
    }
    if (first) cancelPending(ctx, static_cast<std::size_t>(&branch - ctx.branches.data()));
    maybeFinish(ctx);
    return;
  }

  if (branch.done) return;
  branchDone(ctx, branch, take());
}

void Proxy::onTimeout(sip::TransactionId tx) {
  if (abandoned_.erase(tx) != 0) return;  // its branch failed already
  failBranch(tx, 408, "Request Timeout", true);
}

void Proxy::onTransportError(sip::TransactionId tx) {
  if (abandoned_.erase(tx) != 0) return;
  const auto found = byClient_.find(tx);
  if (found == byClient_.end() || !found->second->federation) {
    return failBranch(tx, 503, "Service Unavailable (transport error)");
  }
  // Another domain could not be reached (refused, or its TLS certificate
  // failed the checks): say why, as for a DNS failure.
  auto& ctx = *found->second;
  std::string why = "transport error";
  for (const auto& b : ctx.branches) {
    if (b.tx != tx) continue;
    if (auto reason = transport_.failureReason(b.flow); !reason.empty()) why = std::move(reason);
  }
  std::replace_if(
      why.begin(), why.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  core::logger("proxy")->info("{} for {}: 503 Service Unavailable ({}) (Call-ID {})",
                              ctx.request->methodText(), ctx.request->requestUriText(), why,
                              ctx.request->callId());
  failBranch(tx, 503, "Service Unavailable (" + why + ")", true);
}

// A branch that will get no response: it ends as if the status had come back.
void Proxy::failBranch(sip::TransactionId tx, int status, std::string_view reason, bool local) {
  auto found = byClient_.find(tx);
  if (found == byClient_.end()) return;
  auto& ctx = *found->second;
  for (auto& b : ctx.branches) {
    if (b.tx == tx && !b.done) {
      branchDone(ctx, b, sip::makeResponse(*ctx.request, status, reason, core::randomToken(10)),
                 local);
      return;
    }
  }
}

void Proxy::branchDone(Context& ctx, Branch& branch, std::unique_ptr<sip::Message> response,
                       bool local) {
  const bool heardNothing = branch.status == 0;
  branch.done = true;
  branch.status = response->status();
  if (branch.timerC) timers_.cancel(branch.timerC), branch.timerC = 0;
  if (branch.silence) timers_.cancel(branch.silence), branch.silence = 0;
  const int status = response->status();
  if (status == 401 || status == 407) {
    for (auto v : response->values(status == 401 ? sip::HeaderId::WwwAuthenticate
                                                 : sip::HeaderId::ProxyAuthenticate))
      ctx.challenges[status == 407].emplace_back(v);
  }
  // Federation targets are tried one after the other: of equal failures the
  // last one tried is the answer.
  if (!ctx.finalSent && (!ctx.best || rank(status) < rank(ctx.best->status()) ||
                         (ctx.federation && rank(status) == rank(ctx.best->status())))) {
    ctx.best = std::move(response);
    ctx.bestLocal = local;
  }
  if (status >= 600 && !ctx.finalSent) {
    cancelPending(ctx, static_cast<std::size_t>(&branch - ctx.branches.data()));
  }
  // RFC 3263 §4.3: a transport error, a 503 or a timeout without any response
  // moves on to the next target of the domain; a 408 the target sent does
  // not (it answered). (This adds a branch: `branch` may dangle afterwards.)
  if (ctx.federation && !ctx.finalSent && !ctx.cancelled &&
      (status == 503 || (status == 408 && local && heardNothing))) {
    tryNextTarget(ctx);
  }
  maybeFinish(ctx);
}

void Proxy::sendBest(Context& ctx) {
  ctx.finalSent = true;
  if (!ctx.best) {
    reply(ctx.serverTx, *ctx.request, 408, "Request Timeout");
    return;
  }
  auto& best = *ctx.best;
  // §16.7 step 6: a 503 from downstream is not passed on (the caller would
  // think this proxy unavailable). Our own 503 for a domain we could not
  // reach says just that, with the reason, like a failed DNS lookup.
  if (best.status() == 503 && !(ctx.bestLocal && ctx.federation))
    best.setStatus(500, "Server Internal Error (next hop unavailable)");
  if (best.status() == 401 || best.status() == 407) {
    // §16.7 step 7: collect every challenge from every branch.
    best.removeAll(sip::HeaderId::WwwAuthenticate);
    best.removeAll(sip::HeaderId::ProxyAuthenticate);
    for (auto& c : ctx.challenges[0])
      best.appendHeader(sip::HeaderId::WwwAuthenticate, c);
    for (auto& c : ctx.challenges[1])
      best.appendHeader(sip::HeaderId::ProxyAuthenticate, c);
  }
  // A locally generated response (408/503) already has only the upstream Vias;
  // a received one carries ours on top.
  if (best.has(sip::HeaderId::Via) &&
      best.values(sip::HeaderId::Via).size() > ctx.request->values(sip::HeaderId::Via).size())
    best.removeFirstValue(sip::HeaderId::Via);
  transactions_.respond(ctx.serverTx, std::move(ctx.best));
}

void Proxy::maybeFinish(Context& ctx) {
  const bool allDone =
      std::all_of(ctx.branches.begin(), ctx.branches.end(), [](const Branch& b) { return b.done; });
  if (!allDone) return;
  if (!ctx.finalSent) sendBest(ctx);
  for (auto& b : ctx.branches)
    byClient_.erase(b.tx);
  const sip::TransactionId serverTx = ctx.serverTx;  // not a reference into what erase destroys
  contexts_.erase(serverTx);                         // destroys ctx
}

// ---------------------------------------------------------------- dialogs with browsers

void Proxy::trackDialog(const Context& ctx, const Branch& branch, const sip::Message& ok) {
  if (!isBrowserFlow(ctx.from) && !isBrowserFlow(branch.flow)) return;
  const auto& invite = *ctx.request;
  const auto from = invite.from();
  const std::string_view toTag = ok.toTag();
  if (!from || toTag.empty()) return;
  auto key = dialogKey(invite.callId(), from->tag(), toTag);
  if (dialogs_.count(key)) return;  // a retransmitted 2xx

  auto d = std::make_unique<Dialog>();
  d->key = key;
  d->callId = std::string(invite.callId());
  auto& caller = d->side[0];
  auto& callee = d->side[1];
  caller.party = std::string(invite.first(sip::HeaderId::From));
  caller.tag = std::string(from->tag());
  callee.party = std::string(ok.first(sip::HeaderId::To));
  callee.tag = std::string(toTag);
  const auto contactOf = [](const sip::Message& m) {
    const auto values = m.values(sip::HeaderId::Contact);
    if (values.empty()) return std::string();
    auto contact = sip::NameAddr::parse(values.front());
    return contact ? std::string(contact->uri.text) : std::string();
  };
  caller.target = contactOf(invite);
  callee.target = contactOf(ok);
  caller.flow = ctx.from;
  callee.flow = branch.flow;
  caller.cseq = invite.cseq() ? invite.cseq()->number : 0;
  // The 2xx's Record-Route, topmost nearest the callee: what lies above our
  // entries leads to the callee (reversed), what lies below to the caller.
  const auto rr = ok.values(sip::HeaderId::RecordRoute);
  std::size_t firstOurs = rr.size(), lastOurs = rr.size();
  for (std::size_t i = 0; i < rr.size(); ++i) {
    auto entry = sip::NameAddr::parse(rr[i]);
    if (entry && isUs(entry->uri)) {
      if (firstOurs == rr.size()) firstOurs = i;
      lastOurs = i;
    }
  }
  if (firstOurs == rr.size()) return;  // not record-routed through us: not on path
  for (std::size_t i = firstOurs; i-- > 0;)
    callee.routes.emplace_back(rr[i]);
  for (std::size_t i = lastOurs + 1; i < rr.size(); ++i)
    caller.routes.emplace_back(rr[i]);

  for (const auto& side : d->side) {
    if (isBrowserFlow(side.flow)) dialogsByConnection_[side.flow.connection].insert(key);
  }
  dialogs_.emplace(std::move(key), std::move(d));
}

void Proxy::noteInDialogRequest(const sip::Message& request) {
  const std::string_view toTag = request.toTag();
  if (toTag.empty()) return;
  const auto from = request.from();
  if (!from) return;
  // Either direction: the caller's tag is in From, or in To.
  auto it = dialogs_.find(dialogKey(request.callId(), from->tag(), toTag));
  int sender = 0;
  if (it == dialogs_.end()) {
    it = dialogs_.find(dialogKey(request.callId(), toTag, from->tag()));
    sender = 1;
  }
  if (it == dialogs_.end()) return;
  auto& d = *it->second;
  if (const auto cseq = request.cseq())
    d.side[sender].cseq = std::max(d.side[sender].cseq, cseq->number);
  if (request.method() != sip::Method::Bye) return;
  // The dialog ends here, whatever the answer.
  unindexDialog(d);
  dialogs_.erase(it);
}

void Proxy::unindexDialog(const Dialog& d) {
  for (const auto& side : d.side) {
    const auto it = dialogsByConnection_.find(side.flow.connection);
    if (it == dialogsByConnection_.end()) continue;
    it->second.erase(d.key);
    if (it->second.empty()) dialogsByConnection_.erase(it);
  }
}

void Proxy::onConnectionClosed(sip::ConnectionId id) {
  flowTokens_.erase(static_cast<std::uint64_t>(id) * 2);
  flowTokens_.erase(static_cast<std::uint64_t>(id) * 2 + 1);
  std::vector<std::string> keys;
  if (const auto it = dialogsByConnection_.find(id); it != dialogsByConnection_.end())
    keys.assign(it->second.begin(), it->second.end());
  for (const auto& key : keys) {
    auto it = dialogs_.find(key);
    if (it == dialogs_.end()) continue;
    auto dialog = std::move(it->second);
    dialogs_.erase(it);
    unindexDialog(*dialog);
    // Hang up in the gone side's name.
    const int gone = dialog->side[0].flow.connection == id ? 0 : 1;
    byeInNameOf(*dialog, gone);
  }
}

void Proxy::byeInNameOf(const Dialog& dialog, int gone) {
  const auto& from = dialog.side[gone];
  const auto& to = dialog.side[1 - gone];
  if (to.flow.connection != 0 && !transport_.connectionOpen(to.flow.connection)) return;
  std::optional<sip::Flow> next;
  if (!to.routes.empty()) {
    if (auto first = sip::NameAddr::parse(to.routes.front())) next = flowForUri(first->uri);
  } else if (to.flow.connection != 0 || to.target.empty()) {
    next = to.flow;
  } else if (auto target = sip::Uri::parse(to.target)) {
    next = flowForUri(*target);
    if (!next) next = to.flow;
  }
  if (!next || to.target.empty()) return;
  std::string text =
      fmt::format("BYE {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: {}\r\n", to.target,
                  viaFor(next->transport, sip::TransactionLayer::newBranch()), kDefaultMaxForwards);
  for (const auto& r : to.routes)
    text += fmt::format("Route: {}\r\n", r);
  text += fmt::format("From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\n", from.party, to.party,
                      dialog.callId, from.cseq + 1);
  text += "Reason: SIP;cause=480;text=\"Connection to the other party lost\"\r\n";
  text += "Content-Length: 0\r\n\r\n";
  auto parsed = sip::Message::parse(std::move(text));
  if (!parsed.ok()) {
    core::logger("proxy")->error("could not build BYE ({}) for Call-ID {}", parsed.error,
                                 dialog.callId);
    return;
  }
  core::logger("proxy")->info("Call-ID {}: {} left (connection closed), BYE to {}", dialog.callId,
                              gone == 0 ? "caller" : "callee", to.target);
  const auto tx = transactions_.sendRequest(std::move(parsed.message), *next, *this);
  if (tx) transactions_.detach(tx);
}

// ---------------------------------------------------------------- stateless responses

void Proxy::onStrayResponse(std::unique_ptr<sip::Message> response, const sip::Flow&) {
  // §16.11 / §18.2.2: a response no transaction wants (a 2xx retransmission
  // after ours ended): drop our Via and send it to the next one.
  const auto* ours = response->topViaParsed();
  if (!ours) return;
  response->removeFirstValue(sip::HeaderId::Via);
  const auto* next = response->topViaParsed();
  if (!next) return;
  const auto transport = sip::transportFromName(next->transport);
  if (!transport) return;
  const auto received = next->param("received");
  const auto address =
      core::parseIpLiteral(received && !received->empty() ? *received : next->host);
  if (!address) return;
  sip::Flow flow;
  flow.transport = *transport;
  flow.remote.address = *address;
  flow.remote.port = next->port ? next->port : defaultPort(*transport);
  if (auto rport = next->param("rport"); rport && !rport->empty())
    flow.remote.port = static_cast<std::uint16_t>(std::atoi(std::string(*rport).c_str()));
  transactions_.sendStateless(*response, flow);
}

}  // namespace tandem::proxy
