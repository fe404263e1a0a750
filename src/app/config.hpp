#pragma once
// Tandem's configuration: one typed struct, read from a TOML file, overridden
// by command-line flags, validated once at start-up. Every key is documented in
// tandem.example.toml with its default.

#include "core/endpoint.hpp"
#include "sip/transport/flow.hpp"
#include "sip/transport/transport_layer.hpp"
#include "web/client_config.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tandem::app {

struct ListenSpec {
  sip::Transport transport = sip::Transport::Udp;
  core::Endpoint endpoint;
  std::string text;  // as configured, for messages
};

struct Config {
  // [server]
  std::string domain = "localhost";
  std::string dataDir = "./var";
  std::string logLevel = "info";

  // [sip]
  std::vector<ListenSpec> listen;  // default: udp and tcp on 0.0.0.0:5060
  std::string advertise;           // host/IP put in Via and Record-Route; default: listen address
  std::size_t maxMessageSize = 65535;
  std::chrono::seconds tcpIdleTimeout{300};
  std::size_t udpReceiveBuffer = 4 * 1024 * 1024;
  std::chrono::microseconds udpBatchDelay{2000};  // see sip::TransportOptions
  std::chrono::milliseconds t1{500}, t2{4000}, t4{5000};
  std::chrono::milliseconds tryingDelay{80};  // see sip::TimerConfig::trying

  // [tls]
  std::string tlsCert, tlsKey, tlsCaFile;

  // [http]
  std::string httpListen = "0.0.0.0:8080";     // "" or "off": no web server
  std::optional<core::Endpoint> httpEndpoint;  // parsed from httpListen by validate()
  std::string httpRoot;                        // static files; "" = defaultWebRoot()
  std::vector<std::string> allowedOrigins;     // WebSocket Origin allow-list; empty = any
  std::string publicWsUrl;                     // WebSocket URL in /api/config; "" = from Host

  // [websocket]
  std::size_t wsMaxMessageSize = 65535;
  std::chrono::seconds wsPingInterval{30};
  std::chrono::seconds wsIdleTimeout{90};

  // [ice]
  std::vector<web::IceServer> iceServers;

  // [auth]
  std::string jwtSecret;  // HS256 secret shared with the site's web server

  // [federation]
  bool federation = true;                    // route requests for other domains (RFC 3263)
  std::vector<std::string> dnsServers;       // "IP:PORT" (or "IP"); empty: /etc/resolv.conf
  std::vector<core::Endpoint> dnsEndpoints;  // parsed from dnsServers by validate()
  std::chrono::milliseconds dnsTimeout{2000};
  // See proxy::ProxyConfig::failoverTimeout.
  std::chrono::milliseconds failoverTimeout{5000};
  // [federation.routes]: "b.example" = "tls:192.0.2.7:5061" (skips DNS for that domain)
  std::vector<std::pair<std::string, ListenSpec>> staticRoutes;
  // TLS to other domains: their certificate must chain to a trusted CA and
  // name the domain (RFC 5922 §7.2). false only for tests and trials.
  bool federationTlsVerify = true;
  // Whether our TLS listeners ask clients for a certificate (mutual TLS).
  sip::TlsClientAuth tlsClientAuth = sip::TlsClientAuth::None;
  // Domains we federate with, lower-case; empty: any domain.
  std::vector<std::string> peers;

  // [gateway]: the site protocol's SIP user agents (src/gateway)
  std::chrono::seconds gatewayRingTimeout{120};  // an unanswered JSON call is cancelled
  int gatewaySessionExpires = 1800;              // RFC 4028 on JSON calls; 0: none
  int gatewayMinSessionExpires = 90;             // Min-SE
  std::chrono::seconds gatewayOfferTimeout{10};  // to answer a call.offer
  int gatewayMaxCalls = 16;                      // per connection
  int gatewayMaxLoginFailures = 10;              // per IPv4 address or IPv6 /64 and window; 0: none
  std::chrono::seconds gatewayLoginFailureWindow{60};

  // [registrar]
  int minExpires = 60;
  int maxExpires = 3600;
  int defaultExpires = 3600;
  std::chrono::seconds nonceLifetime{300};
};

// A configuration error: names the key, the value and why. main() prints it
// and exits with status 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses "udp:HOST:PORT" (HOST may be an IPv6 literal in brackets). Throws
// ConfigError naming `key`.
ListenSpec parseListen(const std::string& key, const std::string& value);

// Parses "HOST:PORT" (IPv6 hosts in brackets). Throws ConfigError naming `key`.
core::Endpoint parseHostPort(const std::string& key, const std::string& value);

// Where static files are served from when http.root is not set:
// <dir of the executable>/../share/tandem/www when it exists, else the web
// phone build in the source tree (webphone/dist).
std::string defaultWebRoot();

// Reads a TOML file into `config` (keys absent from the file keep their
// values). Throws ConfigError for unreadable files, syntax errors, unknown keys,
// wrong types and out-of-range values.
void loadConfigFile(const std::string& path, Config& config);

// Checks cross-key rules (TLS listener needs cert and key, expires ordering,
// T1 < T2, ...). Fills defaults that depend on other keys (listen). Throws ConfigError.
void validate(Config& config);

}  // namespace tandem::app
