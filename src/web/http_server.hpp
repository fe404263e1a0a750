#pragma once
// The web server: HTTP/1.1 and WebSocket (RFC 6455) on one port, plain or TLS
// (told apart by the first bytes of each connection), built on Boost.Beast.
//
// It serves GET routes registered by the application (/api/config, /healthz,
// /metrics), static files (the web phone), and WebSocket upgrades on /ws,
// handed to the handler registered for the negotiated subprotocol ("sip",
// RFC 7118; later "tandem.v1"). Beast and Asio SSL stay inside
// http_server.cpp: this header is light on purpose.
//
// Threading: everything runs on the io_context's (single) thread, and every
// callback below is called there. Callbacks may call back into the server
// and into sessions (send, close); they are never called re-entrantly from
// inside those calls.

#include "core/endpoint.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace tandem::core {
class Metrics;
}

namespace tandem::web {

// RFC 6455 §7.4.1 close codes used by the server.
namespace close_code {
inline constexpr std::uint16_t kNormal = 1000;
inline constexpr std::uint16_t kGoingAway = 1001;
inline constexpr std::uint16_t kProtocolError = 1002;
inline constexpr std::uint16_t kUnsupportedData = 1003;  // binary frames
inline constexpr std::uint16_t kPolicyViolation = 1008;
inline constexpr std::uint16_t kMessageTooBig = 1009;
inline constexpr std::uint16_t kInternalError = 1011;
}  // namespace close_code

// One accepted WebSocket carrying text messages.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  // Queues one text message; messages leave in order. No-op after close.
  virtual void send(std::string text) = 0;
  // Starts the closing handshake (RFC 6455 §7.1.2); onClose follows once the
  // connection is gone. No-op when already closing.
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
  virtual const core::Endpoint& remote() const = 0;
  virtual const core::Endpoint& local() const = 0;
  virtual bool secure() const = 0;  // WSS
  virtual std::string_view subprotocol() const = 0;
  // A number unique among this server's connections, for logs and flows.
  virtual std::uint64_t id() const = 0;

  // Set by the handler in onOpen. onMessage gets each complete text message
  // (a binary message closes the connection with 1003 and is not delivered).
  // onClose is called exactly once, whatever closed the connection (peer,
  // error, idle timeout, close(), shutdown); both are cleared afterwards, so
  // they may hold a shared_ptr to the session without a leak.
  std::function<void(std::string)> onMessage;
  std::function<void()> onClose;
};

class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // A WebSocket completed its handshake with this handler's subprotocol. The
  // session stays alive while the connection is open; keep the shared_ptr to
  // send later.
  virtual void onOpen(std::shared_ptr<WebSocketSession> session) = 0;
};

struct Request {
  std::string method;   // "GET", "HEAD", ...
  std::string target;   // as sent: path and query
  std::string path;     // target without the query, not decoded
  std::string query;    // after '?', not decoded; empty when none
  std::string host;     // the Host header
  bool secure = false;  // arrived over TLS
  core::Endpoint remote;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that name (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
  // A query parameter, percent-decoded ('+' is a space); nullopt when absent.
  std::optional<std::string> queryParam(std::string_view name) const;
};

struct Response {
  unsigned status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

struct HttpOptions {
  // Largest WebSocket message accepted; larger ones close with 1009.
  std::size_t maxWebSocketMessage = 65535;
  // Longest an HTTP request (and a WebSocket handshake) may take to arrive
  // from the first byte or from the end of the previous response; also how
  // long an idle keep-alive connection is kept. Slow clients are dropped.
  std::chrono::milliseconds requestTimeout{10000};
  // A WebSocket silent for this long is pinged (RFC 6455 §5.5.2).
  std::chrono::milliseconds pingInterval{30000};
  // A WebSocket from which nothing (message, ping, pong) arrived for this
  // long is closed. Longer than pingInterval, so live peers answer in time.
  std::chrono::milliseconds idleTimeout{90000};
  // Origin header values accepted on WebSocket handshakes ("https://a.example");
  // empty: any origin (and requests without Origin).
  std::vector<std::string> allowedOrigins;
  // Directory of static files; "" serves none (404).
  std::string staticRoot;
  // Shown in the 404 for "/" when staticRoot has no index.html.
  std::string missingIndexHint = "the web phone is not installed";
  // PEM certificate chain and key: when both are set, the port also speaks
  // HTTPS and WSS.
  std::string tlsCertFile, tlsKeyFile;
  // Where request and connection metrics go; nullptr: core::metrics().
  core::Metrics* metrics = nullptr;
};

class HttpServer {
 public:
  using Route = std::function<Response(const Request&)>;

  HttpServer(boost::asio::io_context& io, HttpOptions options);
  ~HttpServer();  // closes every connection at once (call shutdown() first for a clean close)
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts accepting on `at` (port 0 picks a free port). Returns "" or the
  // reason (address in use, certificate not loadable, ...).
  std::string listen(const core::Endpoint& at);
  std::optional<core::Endpoint> boundEndpoint() const;
  bool tlsEnabled() const;

  // The handler for WebSockets that negotiate `subprotocol`. Clients list
  // subprotocols in preference order; the first one with a handler wins.
  // The handler must outlive the server.
  void addWebSocketProtocol(std::string subprotocol, WebSocketHandler& handler);
  std::vector<std::string> webSocketProtocols() const;
  // A GET (and HEAD) route for an exact path, taking precedence over static files.
  void addRoute(std::string path, Route route);

  // Stops accepting, closes HTTP connections and sends every WebSocket a
  // close frame (1001); connections still open after a short grace period
  // are dropped. Run the io_context afterwards to let that happen.
  void shutdown();
  std::size_t webSocketCount() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::web
