#pragma once
// The gateway (B2BUA) between the site protocol `tandem.v1` (JSON-RPC 2.0
// over WebSocket, docs/protocol.md) and SIP.
//
// Each logged-in JSON connection gets a SIP user agent (sip/dialog) attached
// to the transport layer as a WS/WSS channel, exactly like a browser running
// JsSIP: it REGISTERs a binding reachable only through that connection, its
// calls go through the proxy core (local users, forking, federation), and
// calls to it arrive down the channel. Every JSON call is one SIP dialog on
// that user agent; SDP passes through unchanged, so media stays between the
// endpoints. Session timers, 2xx retransmissions and ACKs are the user
// agent's business: the browser never sees them.
//
// Messages from the SIP side are delivered through `post` (the event loop),
// never from inside the transport's send(), so the proxy is not re-entered.

#include "core/endpoint.hpp"
#include "core/timer_service.hpp"
#include "gateway/login_limiter.hpp"
#include "sip/dialog/user_agent.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

namespace tandem::sip {
class TransportLayer;
}
namespace tandem::registrar {
class Authenticator;
}

namespace tandem::gateway {

// The JSON side of one connection (a WebSocket carrying `tandem.v1`).
class JsonPeer {
 public:
  virtual ~JsonPeer() = default;
  virtual void send(std::string text) = 0;
  // Closes the connection (a WebSocket close code and reason); the owner then
  // calls Gateway::closed() as for any close.
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
  virtual bool secure() const = 0;
  virtual const core::Endpoint& remote() const = 0;
  virtual const core::Endpoint& local() const = 0;
};

struct GatewayConfig {
  // What every session's user agent gets (domain, timers, RFC 4028, ring
  // timeout); user, host and transport are filled per session.
  sip::UaConfig ua;
  // How long a JSON client has to answer a call.offer (a re-INVITE from the
  // far side) before the gateway refuses the offer with 500.
  std::chrono::milliseconds offerTimeout{10000};
  std::size_t maxCallsPerConnection = 16;
  // Failed logins (password or token) one IP address may make per window
  // before its logins are refused unchecked for the rest of it; 0: no limit.
  int maxLoginFailures = 10;
  std::chrono::milliseconds loginFailureWindow{60000};
};

class Session;

class Gateway {
 public:
  using Post = std::function<void(std::function<void()>)>;

  Gateway(GatewayConfig config, sip::TransportLayer& transport, registrar::Authenticator& auth,
          core::TimerService& timers, Post post);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // A JSON connection opened; feed it its messages and its close.
  std::shared_ptr<Session> open(std::shared_ptr<JsonPeer> peer);
  void message(const std::shared_ptr<Session>& session, std::string text);
  void closed(const std::shared_ptr<Session>& session);

  // Ends every call and logs everyone out (server shutdown).
  void shutdown();

  std::size_t sessionCount() const { return sessions_.size(); }
  std::size_t loggedInCount() const;
  std::size_t callCount() const;

  const GatewayConfig& config() const { return config_; }
  sip::TransportLayer& transport() { return transport_; }
  registrar::Authenticator& auth() { return auth_; }
  core::TimerService& timers() { return timers_; }
  const Post& post() const { return post_; }
  LoginLimiter& loginLimiter() { return loginLimiter_; }

 private:
  GatewayConfig config_;
  sip::TransportLayer& transport_;
  registrar::Authenticator& auth_;
  core::TimerService& timers_;
  Post post_;
  LoginLimiter loginLimiter_;
  std::unordered_set<std::shared_ptr<Session>> sessions_;
  bool stopped_ = false;
};

}  // namespace tandem::gateway
