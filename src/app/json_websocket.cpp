#include "app/json_websocket.hpp"

#include "core/log.hpp"
#include "gateway/gateway.hpp"

namespace tandem::app {
namespace {

// The gateway's handle on one WebSocket. Weak: the session lives as long as
// its connection; sending to a closed one does nothing.
class SessionPeer final : public gateway::JsonPeer {
 public:
  explicit SessionPeer(const std::shared_ptr<web::WebSocketSession>& session)
      : session_(session),
        secure_(session->secure()),
        remote_(session->remote()),
        local_(session->local()) {}
  void send(std::string text) override {
    if (auto s = session_.lock()) s->send(std::move(text));
  }
  void close(std::uint16_t code, std::string_view reason) override {
    if (auto s = session_.lock()) s->close(code, reason);
  }
  bool secure() const override { return secure_; }
  const core::Endpoint& remote() const override { return remote_; }
  const core::Endpoint& local() const override { return local_; }

 private:
  std::weak_ptr<web::WebSocketSession> session_;
  bool secure_;
  core::Endpoint remote_, local_;
};

}  // namespace

void JsonWebSocketHandler::onOpen(std::shared_ptr<web::WebSocketSession> session) {
  auto peer = std::make_shared<SessionPeer>(session);
  auto gatewaySession = gateway_.open(peer);
  core::logger("web")->debug("ws {} from {} speaks tandem.v1", session->id(),
                             session->remote().toString());
  auto& gateway = gateway_;
  session->onMessage = [&gateway, gatewaySession](std::string text) {
    gateway.message(gatewaySession, std::move(text));
  };
  session->onClose = [&gateway, gatewaySession] { gateway.closed(gatewaySession); };
}

}  // namespace tandem::app
