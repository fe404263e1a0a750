#include "app/sip_websocket.hpp"

#include "core/log.hpp"
#include "sip/transport/transport_layer.hpp"

namespace tandem::app {
namespace {

// The transport layer's handle on one WebSocket. Weak: the session lives as
// long as its connection, and a message for a closed one is dropped.
class SessionChannel final : public sip::MessageChannel {
 public:
  explicit SessionChannel(std::weak_ptr<web::WebSocketSession> session)
      : session_(std::move(session)) {}
  void send(std::string message) override {
    if (auto s = session_.lock()) s->send(std::move(message));
  }
  void close(bool protocolError, std::string_view why) override {
    auto s = session_.lock();
    if (!s) return;
    if (protocolError) {
      s->close(web::close_code::kProtocolError, why);
    } else {
      s->close(web::close_code::kGoingAway, "SIP transport closing");
    }
  }

 private:
  std::weak_ptr<web::WebSocketSession> session_;
};

}  // namespace

void SipWebSocketHandler::onOpen(std::shared_ptr<web::WebSocketSession> session) {
  const auto transport = session->secure() ? sip::Transport::Wss : sip::Transport::Ws;
  const sip::ConnectionId id = transport_.attachChannel(
      transport, std::make_shared<SessionChannel>(session), session->remote(), session->local());
  if (id == 0) {
    // The transport layer is shutting down.
    session->close(web::close_code::kGoingAway, "server shutting down");
    return;
  }
  core::logger("web")->debug("ws {} from {} is SIP connection {}", session->id(),
                             session->remote().toString(), id);
  auto& transport_layer = transport_;
  session->onMessage = [&transport_layer, id](std::string message) {
    transport_layer.channelMessage(id, std::move(message));
  };
  session->onClose = [&transport_layer, id] { transport_layer.channelClosed(id); };
}

}  // namespace tandem::app
