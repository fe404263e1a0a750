// WebSocket flows (RFC 7118) through TransportLayer::attachChannel: the web
// server owns the socket, the transport layer routes by connection id.

#include "transport_test_util.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace tandem::sip::test {
namespace {

struct FakeChannel : MessageChannel {
  std::vector<std::string> sent;
  bool closed = false;
  bool protocolError = false;
  void send(std::string message) override { sent.push_back(std::move(message)); }
  void close(bool error, std::string_view) override {
    closed = true;
    protocolError = error;
  }
};

class ChannelTest : public ::testing::Test {
 protected:
  ChannelTest() : layer(io, recorder, TransportOptions{}) {}

  boost::asio::io_context io;
  Recorder recorder;
  TransportLayer layer;
  core::Endpoint browser{boost::asio::ip::make_address("127.0.0.5"), 40000};
  core::Endpoint http{boost::asio::ip::make_address("127.0.0.1"), 8080};
};

TEST_F(ChannelTest, MessagesCarryTheChannelsFlowAndRepliesGoDownIt) {
  auto channel = std::make_shared<FakeChannel>();
  const ConnectionId id = layer.attachChannel(Transport::Wss, channel, browser, http);
  ASSERT_NE(id, 0u);
  EXPECT_EQ(layer.channelCount(), 1u);

  layer.channelMessage(id, "REGISTER sip:example.test SIP/2.0\r\n\r\n");
  ASSERT_EQ(recorder.messages.size(), 1u);
  const Flow& from = recorder.messages[0].from;
  EXPECT_EQ(from.transport, Transport::Wss);
  EXPECT_EQ(from.connection, id);
  EXPECT_EQ(from.remote, browser);
  EXPECT_EQ(from.local, http);

  EXPECT_TRUE(layer.send(from, "SIP/2.0 200 OK\r\n\r\n"));
  ASSERT_EQ(channel->sent.size(), 1u);
  EXPECT_EQ(channel->sent[0], "SIP/2.0 200 OK\r\n\r\n");

  // Another transport, or no connection id: a browser cannot be reached.
  Flow ws = from;
  ws.transport = Transport::Ws;
  EXPECT_FALSE(layer.send(ws, "x"));
  Flow none = from;
  none.connection = 0;
  EXPECT_FALSE(layer.send(none, "x"));
  EXPECT_EQ(channel->sent.size(), 1u);
}

// Text that is not SIP closes the WebSocket (as garbage closes a TCP
// connection); SIP with bad headers is delivered, for a 400 upstairs.
TEST_F(ChannelTest, NonSipTextClosesTheChannelAsAProtocolError) {
  for (const std::string& junk :
       std::vector<std::string>{"hello", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                "{\"jsonrpc\":\"2.0\"}", " INVITE sip:a SIP/2.0",
                                "INVITE sip:a SIP/3.0\r\n\r\n", std::string("\x01\x02\xff", 3)}) {
    auto channel = std::make_shared<FakeChannel>();
    const ConnectionId id = layer.attachChannel(Transport::Ws, channel, browser, http);
    layer.channelMessage(id, junk);
    EXPECT_TRUE(channel->closed) << junk;
    EXPECT_TRUE(channel->protocolError) << junk;
    EXPECT_TRUE(recorder.messages.empty()) << junk;
    layer.channelClosed(id);
  }
  auto channel = std::make_shared<FakeChannel>();
  const ConnectionId id = layer.attachChannel(Transport::Ws, channel, browser, http);
  layer.channelMessage(id, "OPTIONS sip:example.test SIP/2.0\r\nBroken header\r\n\r\n");
  layer.channelMessage(id, "SIP/2.0 200 OK\r\n\r\n");
  EXPECT_FALSE(channel->closed);
  EXPECT_EQ(recorder.messages.size(), 2u);
}

TEST_F(ChannelTest, DoubleCrlfGetsAPongAndBlankMessagesAreNotDelivered) {
  auto channel = std::make_shared<FakeChannel>();
  const ConnectionId id = layer.attachChannel(Transport::Ws, channel, browser, http);
  layer.channelMessage(id, "\r\n\r\n");
  layer.channelMessage(id, "\r\n");
  layer.channelMessage(id, "");
  EXPECT_TRUE(recorder.messages.empty());
  ASSERT_EQ(channel->sent.size(), 1u);
  EXPECT_EQ(channel->sent[0], "\r\n");
}

TEST_F(ChannelTest, CloseIsReportedOnceAndTheFlowIsGone) {
  auto channel = std::make_shared<FakeChannel>();
  const ConnectionId id = layer.attachChannel(Transport::Ws, channel, browser, http);
  Flow to{Transport::Ws, browser, http, id};
  layer.channelClosed(id);
  layer.channelClosed(id);
  ASSERT_EQ(recorder.closed.size(), 1u);
  EXPECT_EQ(recorder.closed[0], id);
  EXPECT_EQ(layer.channelCount(), 0u);
  EXPECT_FALSE(layer.send(to, "x"));
  layer.channelMessage(id, "OPTIONS sip:x SIP/2.0\r\n\r\n");  // late message: dropped
  EXPECT_TRUE(recorder.messages.empty());
}

TEST_F(ChannelTest, ShutdownClosesChannelsAndReportsThem) {
  auto a = std::make_shared<FakeChannel>();
  auto b = std::make_shared<FakeChannel>();
  const ConnectionId ida = layer.attachChannel(Transport::Ws, a, browser, http);
  const ConnectionId idb = layer.attachChannel(Transport::Wss, b, browser, http);
  EXPECT_NE(ida, idb);
  layer.shutdown();
  EXPECT_TRUE(a->closed);
  EXPECT_TRUE(b->closed);
  EXPECT_EQ(recorder.closed.size(), 2u);
  EXPECT_EQ(layer.attachChannel(Transport::Ws, a, browser, http), 0u);
}

TEST_F(ChannelTest, OnlyWebSocketTransportsCanBeAttached) {
  auto channel = std::make_shared<FakeChannel>();
  EXPECT_EQ(layer.attachChannel(Transport::Tcp, channel, browser, http), 0u);
  EXPECT_EQ(layer.attachChannel(Transport::Ws, nullptr, browser, http), 0u);
}

}  // namespace
}  // namespace tandem::sip::test
