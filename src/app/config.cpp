#include "app/config.hpp"

#include "sip/transport/tls_identity.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iterator>
#include <set>
#include <sstream>
#include <utility>

namespace tandem::app {
namespace {

[[noreturn]] void fail(std::string_view key, std::string_view value, std::string_view why) {
  throw ConfigError(fmt::format("configuration key '{}' = '{}': {}", key, value, why));
}

std::string valueText(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  return node.visit([](const auto& concrete) {
    std::ostringstream os;
    os << concrete;
    return os.str();
  });
}

// Reads one typed key from a table, rejecting wrong types. Absent keys leave
// `out` unchanged.
template <typename T>
void read(const toml::table& table, std::string_view section, std::string_view name, T& out) {
  const auto* node = table.get(name);
  if (!node) return;
  const auto key = fmt::format("{}.{}", section, name);
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = node->value<std::string>();
    if (!v) fail(key, valueText(*node), "expected a string");
    out = *v;
  } else if constexpr (std::is_same_v<T, bool>) {
    const auto v = node->value<bool>();
    if (!v || !node->is_boolean()) fail(key, valueText(*node), "expected true or false");
    out = *v;
  } else {
    auto v = node->value<std::int64_t>();
    if (!v || !node->is_integer()) fail(key, valueText(*node), "expected an integer");
    if (*v < 0 || static_cast<std::uint64_t>(*v) > std::numeric_limits<T>::max())
      fail(key, valueText(*node), "out of range");
    out = static_cast<T>(*v);
  }
}

template <typename Duration>
void readDuration(const toml::table& table, std::string_view section, std::string_view name,
                  Duration& out) {
  std::int64_t count = out.count();
  read(table, section, name, count);
  out = Duration(count);
}

void rejectUnknownKeys(const toml::table& table, std::string_view section,
                       const std::set<std::string_view>& known) {
  for (const auto& [k, v] : table) {
    if (!known.count(k.str())) {
      fail(section.empty() ? std::string(k.str()) : fmt::format("{}.{}", section, k.str()),
           valueText(v), "unknown key (see tandem.example.toml)");
    }
  }
}

// federation.tls_client_auth, as written and as meant.
constexpr std::pair<std::string_view, sip::TlsClientAuth> kClientAuthNames[] = {
    {"none", sip::TlsClientAuth::None},
    {"request", sip::TlsClientAuth::Request},
    {"require", sip::TlsClientAuth::Require},
};

// An array of strings; absent keys leave `out` unchanged.
void readStrings(const toml::table& table, std::string_view section, std::string_view name,
                 std::vector<std::string>& out) {
  const auto* node = table.get(name);
  if (!node) return;
  const auto key = fmt::format("{}.{}", section, name);
  const auto* array = node->as_array();
  if (!array) fail(key, valueText(*node), "expected an array of strings");
  out.clear();
  for (const auto& item : *array) {
    auto v = item.value<std::string>();
    if (!v) fail(key, valueText(item), "expected a string");
    out.push_back(*v);
  }
}

// [[ice.servers]]: urls, and for TURN either secret (+ ttl) or username + credential.
void readIceServers(const toml::table& table, std::vector<web::IceServer>& out) {
  const auto* node = table.get("servers");
  if (!node) return;
  const auto* array = node->as_array();
  if (!array) fail("ice.servers", valueText(*node), "expected an array of tables [[ice.servers]]");
  out.clear();
  for (const auto& item : *array) {
    const auto* t = item.as_table();
    if (!t) fail("ice.servers", valueText(item), "expected a table with urls");
    rejectUnknownKeys(*t, "ice.servers", {"urls", "secret", "ttl", "username", "credential"});
    web::IceServer server;
    if (const auto* urls = t->get("urls"); urls && urls->is_string()) {
      server.urls = {*urls->value<std::string>()};
    } else {
      readStrings(*t, "ice.servers", "urls", server.urls);
    }
    read(*t, "ice.servers", "secret", server.secret);
    readDuration(*t, "ice.servers", "ttl", server.ttl);
    read(*t, "ice.servers", "username", server.username);
    read(*t, "ice.servers", "credential", server.credential);
    out.push_back(std::move(server));
  }
}

const toml::table* section(const toml::table& root, std::string_view name) {
  const auto* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table())
    fail(name, valueText(*node), "expected a table [" + std::string(name) + "]");
  return node->as_table();
}

}  // namespace

ListenSpec parseListen(const std::string& key, const std::string& value) {
  ListenSpec spec;
  spec.text = value;
  const auto colon = value.find(':');
  if (colon == std::string::npos)
    fail(key, value, "expected TRANSPORT:HOST:PORT, e.g. udp:0.0.0.0:5060");
  const auto transportText = value.substr(0, colon);
  const auto transport = sip::transportFromName(transportText);
  if (!transport || (*transport != sip::Transport::Udp && *transport != sip::Transport::Tcp &&
                     *transport != sip::Transport::Tls)) {
    fail(key, value, fmt::format("unknown transport '{}' (use udp, tcp or tls)", transportText));
  }
  spec.transport = *transport;
  const auto rest = value.substr(colon + 1);
  const auto portColon = rest.rfind(':');
  if (portColon == std::string::npos) fail(key, value, "missing ':PORT'");
  auto host = rest.substr(0, portColon);
  const auto portText = rest.substr(portColon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  spec.endpoint.address = boost::asio::ip::make_address(host, ec);
  if (ec) fail(key, value, fmt::format("'{}' is not an IP address", host));
  unsigned port = 0;
  const auto [end, err] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (err != std::errc() || end != portText.data() + portText.size() || port > 65535)
    fail(key, value, fmt::format("'{}' is not a port number (0-65535)", portText));
  spec.endpoint.port = static_cast<std::uint16_t>(port);
  return spec;
}

core::Endpoint parseHostPort(const std::string& key, const std::string& value) {
  const auto portColon = value.rfind(':');
  if (portColon == std::string::npos) fail(key, value, "expected HOST:PORT, e.g. 0.0.0.0:8080");
  auto host = value.substr(0, portColon);
  const auto portText = value.substr(portColon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  core::Endpoint endpoint;
  boost::system::error_code ec;
  endpoint.address = boost::asio::ip::make_address(host, ec);
  if (ec) fail(key, value, fmt::format("'{}' is not an IP address", host));
  unsigned port = 0;
  const auto [end, err] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (err != std::errc() || end != portText.data() + portText.size() || port > 65535)
    fail(key, value, fmt::format("'{}' is not a port number (0-65535)", portText));
  endpoint.port = static_cast<std::uint16_t>(port);
  return endpoint;
}

std::string defaultWebRoot() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "tandem" / "www";
    if (std::filesystem::is_directory(installed, ec)) return installed.string();
  }
  return TANDEM_SOURCE_WEB_ROOT;
}

void loadConfigFile(const std::string& path, Config& config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(fmt::format("configuration file '{}' line {} column {}: {}", path, where.line,
                                  where.column, e.description()));
  }
  rejectUnknownKeys(root, "",
                    {"server", "sip", "tls", "registrar", "http", "websocket", "ice", "auth",
                     "federation", "gateway"});

  if (const auto* t = section(root, "server")) {
    rejectUnknownKeys(*t, "server", {"domain", "data_dir", "log_level"});
    read(*t, "server", "domain", config.domain);
    read(*t, "server", "data_dir", config.dataDir);
    read(*t, "server", "log_level", config.logLevel);
  }
  if (const auto* t = section(root, "sip")) {
    rejectUnknownKeys(
        *t, "sip",
        {"listen", "advertise", "max_message_size", "tcp_idle_timeout", "udp_receive_buffer",
         "udp_batch_delay_us", "t1_ms", "t2_ms", "t4_ms", "trying_delay_ms"});
    if (const auto* node = t->get("listen")) {
      const auto* array = node->as_array();
      if (!array) fail("sip.listen", valueText(*node), "expected an array of strings");
      config.listen.clear();
      for (const auto& item : *array) {
        auto s = item.value<std::string>();
        if (!s) fail("sip.listen", valueText(item), "expected a string like \"udp:0.0.0.0:5060\"");
        config.listen.push_back(parseListen("sip.listen", *s));
      }
    }
    read(*t, "sip", "advertise", config.advertise);
    read(*t, "sip", "max_message_size", config.maxMessageSize);
    readDuration(*t, "sip", "tcp_idle_timeout", config.tcpIdleTimeout);
    read(*t, "sip", "udp_receive_buffer", config.udpReceiveBuffer);
    readDuration(*t, "sip", "udp_batch_delay_us", config.udpBatchDelay);
    readDuration(*t, "sip", "t1_ms", config.t1);
    readDuration(*t, "sip", "t2_ms", config.t2);
    readDuration(*t, "sip", "t4_ms", config.t4);
    readDuration(*t, "sip", "trying_delay_ms", config.tryingDelay);
  }
  if (const auto* t = section(root, "tls")) {
    rejectUnknownKeys(*t, "tls", {"cert", "key", "ca_file"});
    read(*t, "tls", "cert", config.tlsCert);
    read(*t, "tls", "key", config.tlsKey);
    read(*t, "tls", "ca_file", config.tlsCaFile);
  }
  if (const auto* t = section(root, "http")) {
    rejectUnknownKeys(*t, "http", {"listen", "root", "allowed_origins", "public_ws_url"});
    read(*t, "http", "listen", config.httpListen);
    read(*t, "http", "root", config.httpRoot);
    readStrings(*t, "http", "allowed_origins", config.allowedOrigins);
    read(*t, "http", "public_ws_url", config.publicWsUrl);
  }
  if (const auto* t = section(root, "websocket")) {
    rejectUnknownKeys(*t, "websocket", {"max_message_size", "ping_interval", "idle_timeout"});
    read(*t, "websocket", "max_message_size", config.wsMaxMessageSize);
    readDuration(*t, "websocket", "ping_interval", config.wsPingInterval);
    readDuration(*t, "websocket", "idle_timeout", config.wsIdleTimeout);
  }
  if (const auto* t = section(root, "ice")) {
    rejectUnknownKeys(*t, "ice", {"servers"});
    readIceServers(*t, config.iceServers);
  }
  if (const auto* t = section(root, "auth")) {
    rejectUnknownKeys(*t, "auth", {"jwt_secret"});
    read(*t, "auth", "jwt_secret", config.jwtSecret);
  }
  if (const auto* t = section(root, "federation")) {
    rejectUnknownKeys(*t, "federation",
                      {"enabled", "dns_servers", "dns_timeout_ms", "failover_timeout_ms", "routes",
                       "tls_verify", "tls_client_auth", "peers"});
    read(*t, "federation", "enabled", config.federation);
    readStrings(*t, "federation", "dns_servers", config.dnsServers);
    readDuration(*t, "federation", "dns_timeout_ms", config.dnsTimeout);
    readDuration(*t, "federation", "failover_timeout_ms", config.failoverTimeout);
    read(*t, "federation", "tls_verify", config.federationTlsVerify);
    if (t->contains("tls_client_auth")) {
      std::string text;
      read(*t, "federation", "tls_client_auth", text);
      const auto* it = std::find_if(std::begin(kClientAuthNames), std::end(kClientAuthNames),
                                    [&](const auto& n) { return n.first == text; });
      if (it == std::end(kClientAuthNames))
        fail("federation.tls_client_auth", text,
             "use none, request (ask for a client certificate) or require");
      config.tlsClientAuth = it->second;
    }
    readStrings(*t, "federation", "peers", config.peers);
    if (const auto* node = t->get("routes")) {
      const auto* routes = node->as_table();
      if (!routes)
        fail("federation.routes", valueText(*node),
             "expected a table of domain = \"transport:host:port\"");
      config.staticRoutes.clear();
      for (const auto& [domain, hop] : *routes) {
        const auto key = fmt::format("federation.routes.{}", domain.str());
        const auto v = hop.value<std::string>();
        if (!v) fail(key, valueText(hop), "expected a string \"transport:host:port\"");
        config.staticRoutes.emplace_back(sip::normalizeDomain(domain.str()), parseListen(key, *v));
      }
    }
  }
  if (const auto* t = section(root, "registrar")) {
    rejectUnknownKeys(*t, "registrar",
                      {"min_expires", "max_expires", "default_expires", "nonce_lifetime"});
    read(*t, "registrar", "min_expires", config.minExpires);
    read(*t, "registrar", "max_expires", config.maxExpires);
    read(*t, "registrar", "default_expires", config.defaultExpires);
    readDuration(*t, "registrar", "nonce_lifetime", config.nonceLifetime);
  }
  if (const auto* t = section(root, "gateway")) {
    rejectUnknownKeys(*t, "gateway",
                      {"ring_timeout", "session_expires", "min_session_expires", "offer_timeout",
                       "max_calls_per_connection", "max_login_failures", "login_failure_window"});
    readDuration(*t, "gateway", "ring_timeout", config.gatewayRingTimeout);
    read(*t, "gateway", "session_expires", config.gatewaySessionExpires);
    read(*t, "gateway", "min_session_expires", config.gatewayMinSessionExpires);
    readDuration(*t, "gateway", "offer_timeout", config.gatewayOfferTimeout);
    read(*t, "gateway", "max_calls_per_connection", config.gatewayMaxCalls);
    read(*t, "gateway", "max_login_failures", config.gatewayMaxLoginFailures);
    readDuration(*t, "gateway", "login_failure_window", config.gatewayLoginFailureWindow);
  }
}

namespace {

void validateFederation(Config& config) {
  config.dnsEndpoints.clear();
  for (const auto& server : config.dnsServers) {
    // "IP" alone means port 53.
    const bool hasPort = server.find(']') != std::string::npos
                             ? server.back() != ']'
                             : std::count(server.begin(), server.end(), ':') == 1;
    config.dnsEndpoints.push_back(
        parseHostPort("federation.dns_servers", hasPort ? server : server + ":53"));
  }
  if (config.dnsTimeout.count() < 100 || config.dnsTimeout.count() > 30000) {
    fail("federation.dns_timeout_ms", std::to_string(config.dnsTimeout.count()),
         "must be between 100 and 30000");
  }
  if (const auto ms = config.failoverTimeout.count(); ms != 0 && (ms < 500 || ms > 30000)) {
    fail("federation.failover_timeout_ms", std::to_string(ms),
         "must be 0 (wait for Timer B) or between 500 and 30000");
  }

  if (config.tlsClientAuth != sip::TlsClientAuth::None &&
      std::none_of(config.listen.begin(), config.listen.end(),
                   [](const ListenSpec& l) { return l.transport == sip::Transport::Tls; })) {
    const auto* named =
        std::find_if(std::begin(kClientAuthNames), std::end(kClientAuthNames),
                     [&](const auto& n) { return n.second == config.tlsClientAuth; });
    fail("federation.tls_client_auth", std::string(named->first),
         "client certificates are asked for on TLS listeners, and sip.listen has none");
  }

  // Peers: plain domain names, kept lower-case without a trailing dot (as
  // the proxy compares them).
  const std::string ownDomain = sip::normalizeDomain(config.domain);
  for (auto& peer : config.peers) {
    const auto given = peer;
    peer = sip::normalizeDomain(peer);
    if (peer.empty() || peer.front() == '.' || peer.front() == '-' ||
        !std::all_of(peer.begin(), peer.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
        })) {
      fail("federation.peers", given,
           "a peer is a domain name (letters, digits, '.', '-'; no wildcards), e.g. \"b.example\"");
    }
    if (peer == ownDomain)
      fail("federation.peers", given, "is this server's own domain (server.domain)");
  }
  if (!config.peers.empty()) {
    for (const auto& [domain, hop] : config.staticRoutes) {
      if (std::find(config.peers.begin(), config.peers.end(), domain) == config.peers.end())
        fail("federation.routes." + domain, hop.text,
             "the domain is not in federation.peers: list it there too, or drop the route");
    }
  }
}

void validateGateway(const Config& config) {
  const auto text = [](auto n) { return std::to_string(n); };
  if (config.gatewayRingTimeout.count() < 1 || config.gatewayRingTimeout.count() > 3600)
    fail("gateway.ring_timeout", text(config.gatewayRingTimeout.count()), "must be 1..3600 s");
  // RFC 4028 §4: Min-SE is at least 90 s.
  if (config.gatewayMinSessionExpires < 90 || config.gatewayMinSessionExpires > 86400)
    fail("gateway.min_session_expires", text(config.gatewayMinSessionExpires),
         "must be 90..86400 s (RFC 4028: at least 90)");
  if (config.gatewaySessionExpires != 0 &&
      (config.gatewaySessionExpires < config.gatewayMinSessionExpires ||
       config.gatewaySessionExpires > 86400))
    fail("gateway.session_expires", text(config.gatewaySessionExpires),
         "must be 0 (no session timer) or between gateway.min_session_expires and 86400 s");
  if (config.gatewayOfferTimeout.count() < 1 || config.gatewayOfferTimeout.count() > 120)
    fail("gateway.offer_timeout", text(config.gatewayOfferTimeout.count()), "must be 1..120 s");
  if (config.gatewayMaxCalls < 1 || config.gatewayMaxCalls > 1000)
    fail("gateway.max_calls_per_connection", text(config.gatewayMaxCalls), "must be 1..1000");
  if (config.gatewayMaxLoginFailures > 100000)
    fail("gateway.max_login_failures", text(config.gatewayMaxLoginFailures),
         "must be 0 (no limit)..100000");
  if (config.gatewayLoginFailureWindow.count() < 1 ||
      config.gatewayLoginFailureWindow.count() > 86400)
    fail("gateway.login_failure_window", text(config.gatewayLoginFailureWindow.count()),
         "must be 1..86400 s");
}

void validateWeb(Config& config) {
  config.httpEndpoint.reset();
  if (!config.httpListen.empty() && config.httpListen != "off")
    config.httpEndpoint = parseHostPort("http.listen", config.httpListen);
  if (!config.httpRoot.empty() && !std::filesystem::is_directory(config.httpRoot))
    fail("http.root", config.httpRoot, "no such directory");
  for (const auto& origin : config.allowedOrigins) {
    if (origin.rfind("http://", 0) != 0 && origin.rfind("https://", 0) != 0)
      fail("http.allowed_origins", origin,
           "an origin is scheme://host[:port], e.g. \"https://phone.example.com\"");
  }
  if (!config.publicWsUrl.empty() && config.publicWsUrl.rfind("ws://", 0) != 0 &&
      config.publicWsUrl.rfind("wss://", 0) != 0)
    fail("http.public_ws_url", config.publicWsUrl, "must start with ws:// or wss://");
  if (config.wsMaxMessageSize < 1024 || config.wsMaxMessageSize > 16 * 1024 * 1024)
    fail("websocket.max_message_size", std::to_string(config.wsMaxMessageSize),
         "must be 1024..16777216 bytes");
  if (config.wsPingInterval.count() < 1)
    fail("websocket.ping_interval", std::to_string(config.wsPingInterval.count()),
         "must be at least 1 second");
  if (config.wsIdleTimeout <= config.wsPingInterval)
    fail("websocket.idle_timeout", std::to_string(config.wsIdleTimeout.count()),
         "must be longer than websocket.ping_interval, so live peers can answer a ping");
  for (const auto& server : config.iceServers) {
    const auto text = server.urls.empty() ? std::string() : server.urls.front();
    if (server.urls.empty()) fail("ice.servers", text, "each server needs urls");
    for (const auto& url : server.urls) {
      if (url.rfind("stun:", 0) != 0 && url.rfind("stuns:", 0) != 0 && url.rfind("turn:", 0) != 0 &&
          url.rfind("turns:", 0) != 0)
        fail("ice.servers.urls", url, "must start with stun:, stuns:, turn: or turns:");
    }
    if (server.isTurn() && server.secret.empty() &&
        (server.username.empty() || server.credential.empty()))
      fail("ice.servers", text,
           "a TURN server needs secret (coturn use-auth-secret) or username and credential");
    if (server.ttl.count() < 60)
      fail("ice.servers.ttl", std::to_string(server.ttl.count()), "must be at least 60 seconds");
  }
}

}  // namespace

void validate(Config& config) {
  if (config.domain.empty()) fail("server.domain", config.domain, "must not be empty");
  for (char c : config.domain) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'))
      fail("server.domain", config.domain, "must be a host name (letters, digits, '.', '-')");
  }
  if (config.dataDir.empty()) fail("server.data_dir", config.dataDir, "must not be empty");
  static const std::set<std::string_view> levels = {"trace", "debug",    "info", "warn",
                                                    "error", "critical", "off"};
  if (!levels.count(config.logLevel))
    fail("server.log_level", config.logLevel,
         "use trace, debug, info, warn, error, critical or off");

  if (config.listen.empty()) {
    config.listen.push_back(parseListen("sip.listen", "udp:0.0.0.0:5060"));
    config.listen.push_back(parseListen("sip.listen", "tcp:0.0.0.0:5060"));
  }
  validateFederation(config);
  for (const auto& l : config.listen) {
    if (l.transport == sip::Transport::Tls && (config.tlsCert.empty() || config.tlsKey.empty()))
      fail("sip.listen", l.text,
           "a tls listener needs tls.cert and tls.key (--tls-cert, --tls-key)");
  }
  for (const auto& [key, file] :
       {std::pair{"tls.cert", &config.tlsCert}, std::pair{"tls.key", &config.tlsKey},
        std::pair{"tls.ca_file", &config.tlsCaFile}}) {
    if (!file->empty() && !std::filesystem::is_regular_file(*file))
      fail(key, *file, "no such file");
  }
  if (!config.advertise.empty()) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(config.advertise, ec);
    if (ec) fail("sip.advertise", config.advertise, "must be an IP address");
  }
  if (config.maxMessageSize < 1024 || config.maxMessageSize > 16 * 1024 * 1024)
    fail("sip.max_message_size", std::to_string(config.maxMessageSize),
         "must be 1024..16777216 bytes");
  if (config.tcpIdleTimeout.count() < 1)
    fail("sip.tcp_idle_timeout", std::to_string(config.tcpIdleTimeout.count()),
         "must be at least 1 second");
  // Beyond a few milliseconds the pause would show in call set-up and eat into
  // T1's retransmission timing.
  if (config.udpBatchDelay.count() < 0 || config.udpBatchDelay.count() > 5000) {
    fail("sip.udp_batch_delay_us", std::to_string(config.udpBatchDelay.count()),
         "must be between 0 (read each datagram at once) and 5000");
  }
  if (config.t1.count() < 1)
    fail("sip.t1_ms", std::to_string(config.t1.count()), "must be at least 1 ms");
  if (config.t2 < config.t1)
    fail("sip.t2_ms", std::to_string(config.t2.count()), "must not be less than sip.t1_ms");
  if (config.t4.count() < 1)
    fail("sip.t4_ms", std::to_string(config.t4.count()), "must be at least 1 ms");
  // RFC 3261 §17.2.1: a provisional response within 200 ms.
  if (config.tryingDelay.count() < 0 || config.tryingDelay.count() > 200) {
    fail("sip.trying_delay_ms", std::to_string(config.tryingDelay.count()),
         "must be between 0 (100 Trying at once) and 200");
  }
  validateWeb(config);
  if (config.minExpires < 1)
    fail("registrar.min_expires", std::to_string(config.minExpires), "must be at least 1 second");
  if (config.maxExpires < config.minExpires)
    fail("registrar.max_expires", std::to_string(config.maxExpires),
         "must not be less than registrar.min_expires");
  if (config.defaultExpires < config.minExpires || config.defaultExpires > config.maxExpires)
    fail("registrar.default_expires", std::to_string(config.defaultExpires),
         "must lie between registrar.min_expires and registrar.max_expires");
  if (config.nonceLifetime.count() < 10)
    fail("registrar.nonce_lifetime", std::to_string(config.nonceLifetime.count()),
         "must be at least 10 seconds");
  validateGateway(config);
}

}  // namespace tandem::app
