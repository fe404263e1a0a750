#include "app/server.hpp"

#include "app/federation_router.hpp"
#include "app/json_websocket.hpp"
#include "app/sip_websocket.hpp"

#include "core/asio_timer_service.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "gateway/gateway.hpp"
#include "proxy/proxy.hpp"
#include "registrar/authenticator.hpp"
#include "registrar/cached_user_store.hpp"
#include "registrar/digest.hpp"
#include "registrar/registrar.hpp"
#include "sip/transaction/transaction_layer.hpp"
#include "sip/transport/transport_layer.hpp"
#include "store/sqlite_store.hpp"
#include "web/client_config.hpp"
#include "web/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <csignal>
#include <optional>

namespace tandem::app {
namespace {

// How often write-behind binding changes are committed to SQLite. A crash
// loses at most this much registration state; clients re-register anyway.
constexpr core::Millis kStoreFlushInterval{200};
// How often expired bindings are swept out of memory and the store.
constexpr core::Millis kPurgeInterval{10000};

// The transports deliver to the transaction layer; connection closes also
// concern the registrar (bindings) and the proxy (calls with browsers).
class Dispatch final : public sip::TransportListener {
 public:
  sip::TransactionLayer* transactions = nullptr;
  registrar::Registrar* registrar = nullptr;
  proxy::Proxy* proxy = nullptr;

  void onMessage(std::string data, const sip::Flow& from) override {
    transactions->onMessage(std::move(data), from);
  }
  void onConnectionClosed(sip::ConnectionId id) override {
    transactions->onConnectionClosed(id);
    registrar->onConnectionClosed(id);
    proxy->onConnectionClosed(id);
  }
  void onSendFailed(const sip::Flow& to) override { transactions->onSendFailed(to); }
};

// host:port for the log: the listening address, or localhost when listening
// on all addresses.
std::string webHostPort(const core::Endpoint& at) {
  const std::string host = at.address.is_unspecified() ? "localhost" : at.hostForUri();
  return fmt::format("{}:{}", host, at.port);
}

// The SIP side of /metrics, read from the components' own counts at each
// scrape (on the loop's thread, like everything else). Keep the handles.
std::vector<core::Metrics::CallbackHandle> registerSipMetrics(
    core::Metrics& m, const sip::TransactionLayer& transactions,
    const registrar::Registrar& registrar, const proxy::Proxy& proxy,
    const registrar::Authenticator& auth) {
  std::vector<core::Metrics::CallbackHandle> handles;
  handles.push_back(m.callbackGauge("tandem_sip_registrations",
                                    "registered contacts (bindings) in the location service", {},
                                    [&] { return double(registrar.bindingCount()); }));
  handles.push_back(m.callbackGauge("tandem_sip_registered_users",
                                    "addresses-of-record with at least one binding", {},
                                    [&] { return double(registrar.aorCount()); }));
  handles.push_back(
      m.callbackGauge("tandem_sip_transactions", "live SIP transactions", {{"kind", "client"}},
                      [&] { return double(transactions.stats().clientTransactions); }));
  handles.push_back(
      m.callbackGauge("tandem_sip_transactions", "live SIP transactions", {{"kind", "server"}},
                      [&] { return double(transactions.stats().serverTransactions); }));
  handles.push_back(m.callbackGauge(
      "tandem_sip_dialogs",
      "established calls with a browser party (the only dialogs the proxy keeps state for)", {},
      [&] { return double(proxy.dialogCount()); }));
  handles.push_back(m.callbackGauge("tandem_sip_proxy_requests_in_progress",
                                    "requests being forwarded and awaiting a final response", {},
                                    [&] { return double(proxy.stats().activeContexts); }));
  handles.push_back(m.callbackCounter("tandem_sip_parse_errors_total",
                                      "SIP messages that could not be parsed", {},
                                      [&] { return double(transactions.stats().parseErrors); }));
  handles.push_back(m.callbackCounter("tandem_sip_auth_failures_total",
                                      "failed digest or bearer authentications", {},
                                      [&] { return double(auth.failures()); }));
  for (std::size_t i = 0; i < sip::kMethodCount; ++i) {
    const auto method = static_cast<sip::Method>(i);
    const std::string name =
        method == sip::Method::Unknown ? "other" : std::string(sip::methodName(method));
    handles.push_back(m.callbackCounter(
        "tandem_sip_requests_received_total", "SIP requests received, by method",
        {{"method", name}}, [&, i] { return double(transactions.stats().requestsReceived[i]); }));
  }
  for (std::size_t c = 1; c <= 6; ++c) {
    handles.push_back(
        m.callbackCounter("tandem_sip_responses_received_total", "SIP responses received, by class",
                          {{"class", fmt::format("{}xx", c)}},
                          [&, c] { return double(transactions.stats().responsesReceived[c]); }));
  }
  return handles;
}

// Re-arms itself every `interval` until the loop stops.
void every(core::TimerService& timers, core::Millis interval, std::function<void()> fn) {
  timers.schedule(interval, [&timers, interval, fn = std::move(fn)]() mutable {
    fn();
    every(timers, interval, std::move(fn));
  });
}

}  // namespace

int serve(const Config& config) {
  auto log = core::logger("app");

  std::string error;
  auto db = store::SqliteStore::open(config.dataDir, error);
  if (!db) {
    throw ConfigError(
        fmt::format("configuration key 'server.data_dir' = '{}': cannot open the store: {}",
                    config.dataDir, error));
  }

  boost::asio::io_context io(1);
  core::AsioTimerService timers(io);

  Dispatch dispatch;
  sip::TransportOptions transportOptions;
  transportOptions.maxMessageSize = config.maxMessageSize;
  transportOptions.idleTimeout = config.tcpIdleTimeout;
  transportOptions.udpReceiveBuffer = config.udpReceiveBuffer;
  transportOptions.udpBatchDelay = config.udpBatchDelay;
  transportOptions.tlsCertFile = config.tlsCert;
  transportOptions.tlsKeyFile = config.tlsKey;
  transportOptions.tlsCaFile = config.tlsCaFile;
  transportOptions.tlsVerifyDomains = config.federationTlsVerify;
  transportOptions.tlsClientAuth = config.tlsClientAuth;
  sip::TransportLayer transport(io, dispatch, transportOptions);

  sip::TimerConfig timerConfig{config.t1, config.t2, config.t4, config.tryingDelay};
  sip::TransactionLayer transactions(timers, transport, timerConfig);
  transactions.setMaxMessageSize(config.maxMessageSize);

  registrar::NonceManager nonces(registrar::randomSecret(), config.nonceLifetime);
  registrar::CachedUserStore users(*db);
  registrar::Authenticator auth(config.domain, users, nonces);
  auth.setJwtSecret(config.jwtSecret);
  registrar::Registrar registrar(
      {config.domain, config.minExpires, config.maxExpires, config.defaultExpires}, transactions,
      auth, *db, {});
  registrar.load();

  proxy::ProxyConfig proxyConfig;
  proxyConfig.domain = config.domain;
  proxyConfig.peers = config.peers;
  proxyConfig.failoverTimeout = config.failoverTimeout;
  proxy::Proxy proxy(proxyConfig, transactions, transport, registrar, auth, users, timers);
  transactions.setUser(&proxy);
  dispatch.transactions = &transactions;
  dispatch.registrar = &registrar;
  dispatch.proxy = &proxy;

  for (const auto& l : config.listen) {
    if (auto err = transport.listen(l.transport, l.endpoint); !err.empty()) {
      throw ConfigError(
          fmt::format("configuration key 'sip.listen' = '{}': cannot listen: {}", l.text, err));
    }
    if (!config.advertise.empty()) {
      auto adv = *transport.advertised(l.transport);
      adv.address = boost::asio::ip::make_address(config.advertise);
      transport.setAdvertised(l.transport, adv);
    }
    log->info("SIP listening on {} (advertised as {})", l.text,
              transport.advertised(l.transport)->toString());
  }
  log->info("serving domain {} with data in {}", config.domain, config.dataDir);

  // Federation: requests of our users for other domains (RFC 3263).
  std::optional<FederationRouter> federationRouter;
  if (config.federation) {
    federation::ResolverOptions dns;
    dns.servers = config.dnsEndpoints;
    dns.timeout = config.dnsTimeout;
    std::vector<sip::Transport> usable;
    for (const auto& l : config.listen) {
      if (std::find(usable.begin(), usable.end(), l.transport) == usable.end())
        usable.push_back(l.transport);
    }
    dns.transports = usable;
    std::vector<std::pair<std::string, sip::Flow>> routes;
    for (const auto& [domain, hop] : config.staticRoutes) {
      sip::Flow flow;
      flow.transport = hop.transport;
      flow.remote = hop.endpoint;
      routes.emplace_back(domain, flow);
    }
    if (!config.federationTlsVerify) {
      log->warn(
          "federation.tls_verify = false: TLS certificates of other domains are not checked; "
          "anyone between here and them can pose as them");
    }
    federationRouter.emplace(io, std::move(dns), std::move(routes));
    proxy.setDomainRouter(&*federationRouter);
    log->info("federation on: other domains by {}{}",
              config.dnsServers.empty()
                  ? "the system's DNS servers"
                  : "DNS at " + fmt::format("{}", fmt::join(config.dnsServers, ", ")),
              config.staticRoutes.empty()
                  ? ""
                  : fmt::format(", {} static route(s)", config.staticRoutes.size()));
  }

  if (!config.peers.empty())
    log->info("federation peers: {} (other domains get 403)", fmt::join(config.peers, ", "));
  if (config.tlsClientAuth != sip::TlsClientAuth::None)
    log->info("TLS listeners {} client certificates (mutual TLS), trusted CAs from {}",
              config.tlsClientAuth == sip::TlsClientAuth::Require ? "require" : "ask for",
              config.tlsCaFile.empty() ? "the system store" : config.tlsCaFile);

  // The site protocol's gateway: each logged-in tandem.v1 connection is a SIP
  // user agent on a channel of the transport layer.
  gateway::GatewayConfig gatewayConfig;
  gatewayConfig.ua.domain = config.domain;
  gatewayConfig.ua.t1 = config.t1;
  gatewayConfig.ua.t2 = config.t2;
  gatewayConfig.ua.ringTimeout = config.gatewayRingTimeout;
  gatewayConfig.ua.sessionExpires = config.gatewaySessionExpires;
  gatewayConfig.ua.minSessionExpires = config.gatewayMinSessionExpires;
  gatewayConfig.offerTimeout = config.gatewayOfferTimeout;
  gatewayConfig.maxCallsPerConnection = static_cast<std::size_t>(config.gatewayMaxCalls);
  gatewayConfig.maxLoginFailures = config.gatewayMaxLoginFailures;
  gatewayConfig.loginFailureWindow = config.gatewayLoginFailureWindow;
  gateway::Gateway gateway(gatewayConfig, transport, auth, timers, [&io](std::function<void()> fn) {
    boost::asio::post(io, std::move(fn));
  });

  // The web server: static web phone, /api/config, /healthz, /metrics, /ws.
  SipWebSocketHandler sipOverWebSocket(transport);
  JsonWebSocketHandler siteProtocol(gateway);
  std::optional<web::HttpServer> http;
  if (config.httpEndpoint) {
    web::HttpOptions httpOptions;
    httpOptions.maxWebSocketMessage = config.wsMaxMessageSize;
    httpOptions.pingInterval = config.wsPingInterval;
    httpOptions.idleTimeout = config.wsIdleTimeout;
    httpOptions.allowedOrigins = config.allowedOrigins;
    httpOptions.staticRoot = config.httpRoot.empty() ? defaultWebRoot() : config.httpRoot;
    // The HTTP answer does not reveal the server's paths; the log line below does.
    httpOptions.missingIndexHint =
        "the web phone is not installed on this server (build webphone/ or set http.root)";
    httpOptions.tlsCertFile = config.tlsCert;
    httpOptions.tlsKeyFile = config.tlsKey;
    const auto root = httpOptions.staticRoot;
    http.emplace(io, std::move(httpOptions));
    http->addWebSocketProtocol("sip", sipOverWebSocket);
    http->addWebSocketProtocol("tandem.v1", siteProtocol);
    web::addStandardRoutes(*http, {config.domain, config.publicWsUrl, config.iceServers},
                           core::metrics());
    if (auto err = http->listen(*config.httpEndpoint); !err.empty()) {
      throw ConfigError(fmt::format("configuration key 'http.listen' = '{}': cannot listen: {}",
                                    config.httpListen, err));
    }
    // SIP over WebSocket rides on the web port: Via and Record-Route toward
    // browsers name it, with transport=ws (and wss when TLS is on).
    auto wsAdvertised = http->boundEndpoint()->withLoopbackForWildcard();
    if (!config.advertise.empty())
      wsAdvertised.address = boost::asio::ip::make_address(config.advertise);
    transport.setAdvertised(sip::Transport::Ws, wsAdvertised);
    if (http->tlsEnabled()) transport.setAdvertised(sip::Transport::Wss, wsAdvertised);
    const auto where = webHostPort(*http->boundEndpoint());
    const bool tls = http->tlsEnabled();
    log->info("web phone on {}://{}/ (WebSocket {}://{}/ws{}), static files from {}",
              tls ? "https" : "http", where, tls ? "wss" : "ws", where,
              tls ? "; plain http/ws on the same port" : "", root);
  }

  auto sipMetrics = registerSipMetrics(core::metrics(), transactions, registrar, proxy, auth);
  sipMetrics.push_back(
      core::metrics().callbackGauge("tandem_gateway_sessions", "open tandem.v1 (JSON) connections",
                                    {}, [&] { return double(gateway.sessionCount()); }));
  sipMetrics.push_back(
      core::metrics().callbackGauge("tandem_gateway_users", "tandem.v1 connections logged in", {},
                                    [&] { return double(gateway.loggedInCount()); }));
  sipMetrics.push_back(core::metrics().callbackGauge(
      "tandem_gateway_calls", "calls of tandem.v1 connections, in any state", {},
      [&] { return double(gateway.callCount()); }));
  if (federationRouter) {
    sipMetrics.push_back(core::metrics().callbackGauge(
        "tandem_dns_cached_answers", "DNS answers kept for their TTL (federation)", {},
        [&] { return double(federationRouter->cachedAnswers()); }));
  }

  every(timers, kStoreFlushInterval, [&] { db->flush(); });
  every(timers, kPurgeInterval, [&] { registrar.purgeExpired(); });

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log->info("signal {}: shutting down", signal);
    gateway.shutdown();  // BYE / CANCEL for JSON users' calls while SIP still runs
    if (http) http->shutdown();
    transport.shutdown();
    io.stop();
  });

  io.run();

  // Teardown in reverse order of construction; the store last, flushed.
  proxy.setDomainRouter(nullptr);
  transactions.setUser(nullptr);
  if (!db->flush()) log->error("could not flush bindings to the store");
  log->info("stopped");
  return 0;
}

}  // namespace tandem::app
