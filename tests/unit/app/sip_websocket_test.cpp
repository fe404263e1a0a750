// SIP over WebSocket end to end inside one process: a real WebSocket client
// (Beast) talks to the web server, whose `sip` subprotocol is bridged into the
// SIP transport layer by SipWebSocketHandler.

#include "app/sip_websocket.hpp"

#include "sip/transport/transport_layer.hpp"
#include "unit/web/web_test_util.hpp"

#include <gtest/gtest.h>

namespace tandem::app {
namespace {

using namespace web::test;

struct Recorder : sip::TransportListener {
  std::vector<std::pair<std::string, sip::Flow>> messages;
  std::vector<sip::ConnectionId> closed;
  void onMessage(std::string data, const sip::Flow& from) override {
    messages.emplace_back(std::move(data), from);
  }
  void onConnectionClosed(sip::ConnectionId id) override { closed.push_back(id); }
  void onSendFailed(const sip::Flow&) override {}
};

constexpr const char* kOptions =
    "OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/WS abc.invalid;branch=z9hG4bK-1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:example.test>\r\n"
    "Call-ID: ws-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

class SipWebSocketTest : public ::testing::Test {
 protected:
  SipWebSocketTest() : transport(io, recorder, {}), handler(transport), server(io, options()) {
    server.addWebSocketProtocol("sip", handler);
    EXPECT_EQ(server.listen(loopback(0)), "");
    port = server.boundEndpoint()->port;
  }
  static web::HttpOptions options() {
    web::HttpOptions o;
    o.maxWebSocketMessage = 4096;
    return o;
  }
  std::unique_ptr<WsClient<tcp::socket>> connect() {
    auto client = std::make_unique<WsClient<tcp::socket>>(io, io);
    client->ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    EXPECT_FALSE(client->handshake("sip"));
    return client;
  }

  asio::io_context io;
  Recorder recorder;
  sip::TransportLayer transport;
  SipWebSocketHandler handler;
  web::HttpServer server;
  std::uint16_t port = 0;
};

TEST_F(SipWebSocketTest, MessagesGoUpWithTheirFlowAndRepliesGoDownTheSocket) {
  auto client = connect();
  ASSERT_FALSE(client->write(kOptions));
  ASSERT_TRUE(runUntil(io, [&] { return !recorder.messages.empty(); }));
  const auto& [text, flow] = recorder.messages[0];
  EXPECT_EQ(text, kOptions);
  EXPECT_EQ(flow.transport, sip::Transport::Ws);
  EXPECT_NE(flow.connection, 0u);
  EXPECT_TRUE(transport.connectionOpen(flow.connection));

  ASSERT_TRUE(transport.send(flow, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
  std::string reply;
  ASSERT_FALSE(client->read(reply));
  EXPECT_EQ(reply, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");

  // A double-CRLF keep-alive gets its CRLF pong and goes no further.
  ASSERT_FALSE(client->write("\r\n\r\n"));
  ASSERT_FALSE(client->read(reply));
  EXPECT_EQ(reply, "\r\n");
  EXPECT_EQ(recorder.messages.size(), 1u);

  // The browser leaves: the SIP side hears of it once, and the flow is gone.
  const auto id = flow.connection;
  auto closing =
      await(io, [&](auto h) { client->ws.async_close(websocket::close_code::normal, h); });
  EXPECT_FALSE(closing) << closing.message();
  ASSERT_TRUE(runUntil(io, [&] { return !recorder.closed.empty(); }));
  EXPECT_EQ(recorder.closed, std::vector<sip::ConnectionId>{id});
  EXPECT_FALSE(transport.connectionOpen(id));
  EXPECT_FALSE(transport.send(recorder.messages[0].second, "SIP/2.0 200 OK\r\n\r\n"));
}

// Bad input on the sip subprotocol closes only that connection, with the
// close code saying why; the others keep working.
TEST_F(SipWebSocketTest, BadInputClosesOnlyThatConnection) {
  auto good = connect();
  struct Case {
    std::string payload;
    bool binary;
    std::uint16_t code;
  };
  for (const auto& c : {Case{"hello, this is not SIP", false, web::close_code::kProtocolError},
                        Case{"\x01\x02garbage", true, web::close_code::kUnsupportedData},
                        Case{std::string(5000, 'A'), false, web::close_code::kMessageTooBig}}) {
    auto bad = connect();
    ASSERT_FALSE(bad->write(c.payload, c.binary));
    std::string ignored;
    const auto ec = bad->read(ignored);
    EXPECT_EQ(ec, websocket::error::closed) << c.code;
    EXPECT_EQ(bad->ws.reason().code, c.code);
  }
  ASSERT_FALSE(good->write(kOptions));
  ASSERT_TRUE(runUntil(io, [&] { return !recorder.messages.empty(); }));
  EXPECT_EQ(recorder.messages.size(), 1u);
  EXPECT_EQ(transport.channelCount(), 1u);
}

}  // namespace
}  // namespace tandem::app
