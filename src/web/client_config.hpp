#pragma once
// GET /api/config: what a browser needs to connect (docs/http.md): the SIP
// domain, WebSocket URL(s) and subprotocols, and ICE servers, TURN ones with
// time-limited credentials in coturn's REST form ("use-auth-secret",
// draft-uberti-behave-turn-rest-00).

#include "web/http_server.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::web {

struct IceServer {
  std::vector<std::string> urls;  // "stun:host:3478", "turn:host:3478?transport=udp", "turns:..."
  // TURN REST: the secret shared with coturn (static-auth-secret) and how
  // long minted credentials last.
  std::string secret;
  std::chrono::seconds ttl{86400};
  // Static TURN credentials, used when no secret is set.
  std::string username, credential;

  bool isTurn() const;
};

struct TurnCredentials {
  std::string username;  // "<expiry unix time>:<user>"
  std::string password;  // base64(HMAC-SHA1(secret, username))
};
TurnCredentials turnCredentials(std::string_view secret, std::string_view user,
                                std::int64_t expiresAt);

struct ClientConfigOptions {
  std::string domain;
  // Fixed WebSocket URL; empty: derived from each request's Host and scheme.
  std::string publicWebSocketUrl;
  std::vector<IceServer> iceServers;
};

// The JSON body for one request; `subprotocols` as registered on the server.
std::string renderClientConfig(const ClientConfigOptions& options, const Request& request,
                               const std::vector<std::string>& subprotocols, std::int64_t now);

}  // namespace tandem::web

namespace tandem::core {
class Metrics;
}

namespace tandem::web {

class HttpServer;

// Registers the standard routes on `server`:
//   GET /healthz     200 "ok"
//   GET /metrics     `metrics` in the Prometheus text format
//   GET /api/config  renderClientConfig() (JSON, not cached)
// `metrics` must outlive the server.
void addStandardRoutes(HttpServer& server, ClientConfigOptions options, core::Metrics& metrics);

}  // namespace tandem::web
