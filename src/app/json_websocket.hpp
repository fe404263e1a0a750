#pragma once
// The site protocol on the web server: WebSockets that negotiate `tandem.v1`
// go to the gateway (JSON-RPC 2.0, docs/protocol.md). Like the `sip`
// subprotocol's bridge, this is the only place that knows both sides.

#include "web/http_server.hpp"

namespace tandem::gateway {
class Gateway;
}

namespace tandem::app {

class JsonWebSocketHandler final : public web::WebSocketHandler {
 public:
  explicit JsonWebSocketHandler(gateway::Gateway& gateway) : gateway_(gateway) {}
  void onOpen(std::shared_ptr<web::WebSocketSession> session) override;

 private:
  gateway::Gateway& gateway_;
};

}  // namespace tandem::app
