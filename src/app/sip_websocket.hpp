#pragma once
// SIP over WebSocket (RFC 7118): the bridge between the web server's `sip`
// subprotocol and the SIP transport layer. Each accepted WebSocket becomes a
// WS (or WSS) channel of the transport layer, so its messages reach the
// transaction layer like those of any connection, and requests for a browser
// go down the WebSocket it registered on. Neither side knows the other.

#include "web/http_server.hpp"

namespace tandem::sip {
class TransportLayer;
}

namespace tandem::app {

class SipWebSocketHandler final : public web::WebSocketHandler {
 public:
  explicit SipWebSocketHandler(sip::TransportLayer& transport) : transport_(transport) {}
  void onOpen(std::shared_ptr<web::WebSocketSession> session) override;

 private:
  sip::TransportLayer& transport_;
};

}  // namespace tandem::app
