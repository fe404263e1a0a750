// Real sockets on 127.0.0.1, port 0: UDP and TCP through TransportLayer.
#include "sip/transport/transport_layer.hpp"

#include "transport_test_util.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <cstring>

namespace tandem::sip {
namespace {

namespace asio = boost::asio;
using namespace test;

class TransportLayerTest : public ::testing::Test {
 protected:
  std::unique_ptr<TransportLayer> make(Recorder& recorder, TransportOptions options = {}) {
    return std::make_unique<TransportLayer>(io, recorder, std::move(options));
  }
  // A layer listening on UDP that pauses `delay` between reads when busy.
  std::unique_ptr<TransportLayer> pacedUdp(std::chrono::microseconds delay) {
    TransportOptions options;
    options.udpBatchDelay = delay;
    auto layer = make(recorder, options);
    EXPECT_EQ(layer->listen(Transport::Udp, loopback()), "");
    return layer;
  }
  static std::uint16_t port(const TransportLayer& layer, Transport t) {
    const auto at = layer.advertised(t);
    return at ? at->port : 0;
  }

  asio::io_context io;
  Recorder recorder;
};

// ---- UDP --------------------------------------------------------------------

TEST_F(TransportLayerTest, UdpRoundTripFromTheListeningPort) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  const auto serverPort = port(*layer, Transport::Udp);
  ASSERT_NE(serverPort, 0);

  asio::io_context clientIo;
  asio::ip::udp::socket client(clientIo,
                               asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), 0));
  const asio::ip::udp::endpoint server(asio::ip::address_v4::loopback(), serverPort);
  const std::string request = sipMessage("OPTIONS sip:a@127.0.0.1 SIP/2.0");
  client.send_to(asio::buffer(request), server);
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 1; }));
  const auto& [data, from] = recorder.messages[0];
  EXPECT_EQ(data, request);
  EXPECT_EQ(from.transport, Transport::Udp);
  EXPECT_EQ(from.connection, 0u);
  EXPECT_EQ(from.remote.port, client.local_endpoint().port());
  EXPECT_EQ(from.local, loopback(serverPort));

  const std::string response = sipMessage("SIP/2.0 200 OK");
  ASSERT_TRUE(layer->send(from, response));
  char buf[2048];
  asio::ip::udp::endpoint sender;
  const std::size_t n = client.receive_from(asio::buffer(buf), sender);
  EXPECT_EQ(std::string(buf, n), response);
  EXPECT_EQ(sender.port(), serverPort);  // RFC 3261 §18.2.2 symmetric response
}

// A UDP client socket on loopback with helpers to count and read datagrams.
struct UdpClient {
  asio::io_context io;
  asio::ip::udp::socket socket{io, asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), 0)};
  asio::ip::udp::endpoint server;

  explicit UdpClient(std::uint16_t port) : server(asio::ip::address_v4::loopback(), port) {}
  void send(const std::string& data) { socket.send_to(asio::buffer(data), server); }
  std::size_t waiting() { return socket.available(); }
  // A datagram that has arrived ("" when none has).
  std::string take() {
    if (waiting() == 0) return {};
    char buf[2048];
    asio::ip::udp::endpoint sender;
    return std::string(buf, socket.receive_from(asio::buffer(buf), sender));
  }
  // The next datagram, waiting for it while `loop` runs.
  std::string receive(asio::io_context& loop) {
    runUntil(loop, [&] { return waiting() > 0; });
    return take();
  }
};

// The answers to the datagrams of one read batch leave together at its end
// (one sendmmsg), in the order they were sent; none leaves while the batch is
// still being handled.
TEST_F(TransportLayerTest, UdpAnswersToABatchLeaveTogetherInOrder) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  UdpClient client(port(*layer, Transport::Udp));
  std::vector<std::size_t> waitingWhenAnswering;
  recorder.reply = [&](const std::string&, const Flow& from) {
    waitingWhenAnswering.push_back(client.waiting());
    EXPECT_TRUE(layer->sendDeferrable(from, "answer " + std::to_string(recorder.messages.size())));
  };
  for (int i = 1; i <= 5; ++i)
    client.send(sipMessage("OPTIONS sip:" + std::to_string(i) + "@127.0.0.1 SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 5; }));
  for (int i = 1; i <= 5; ++i)
    EXPECT_EQ(client.receive(io), "answer " + std::to_string(i));
  // All five were queued when the first was read, so they made one batch.
  EXPECT_EQ(waitingWhenAnswering, std::vector<std::size_t>(5, 0));
}

// A send that must report failure at once (a client transaction's request)
// goes out during the batch, behind the deferred answers before it; a
// deferred datagram that cannot be sent does not hold up the others.
TEST_F(TransportLayerTest, UdpCheckedSendDuringABatchFlushesAndReportsFailure) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  UdpClient client(port(*layer, Transport::Udp));
  // The broadcast address of 127/8: without SO_BROADCAST, sendto() refuses
  // it at once (EACCES) and nothing leaves the machine.
  const Flow broadcast{
      Transport::Udp, core::Endpoint{asio::ip::make_address("127.255.255.255"), 5060}, {}, 0};
  std::vector<bool> results;
  recorder.reply = [&](const std::string&, const Flow& from) {
    if (recorder.messages.size() == 1) {
      EXPECT_TRUE(layer->sendDeferrable(broadcast, "lost"));  // failure only logged
      EXPECT_TRUE(layer->sendDeferrable(from, "first"));
      EXPECT_EQ(client.waiting(), 0u);
      results.push_back(layer->send(from, "second"));  // leaves now, after "first"
      EXPECT_GT(client.waiting(), 0u);
      results.push_back(layer->send(broadcast, "refused"));
    } else {
      EXPECT_TRUE(layer->sendDeferrable(from, "third"));
    }
  };
  client.send(sipMessage("OPTIONS sip:1@127.0.0.1 SIP/2.0"));
  client.send(sipMessage("OPTIONS sip:2@127.0.0.1 SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 2; }));
  EXPECT_EQ(results, (std::vector<bool>{true, false}));
  EXPECT_EQ(client.receive(io), "first");
  EXPECT_EQ(client.receive(io), "second");
  EXPECT_EQ(client.receive(io), "third");
}

// With a batch delay, a busy socket is read in paced batches: every datagram
// still arrives and is answered, and one sent after a pause is read too.
TEST_F(TransportLayerTest, UdpPacedReadsLoseNothingAndResumeWhenIdle) {
  auto layer = pacedUdp(std::chrono::microseconds(2000));
  UdpClient client(port(*layer, Transport::Udp));
  recorder.reply = [&](const std::string&, const Flow& from) {
    layer->sendDeferrable(from, "answer");
  };
  std::size_t answers = 0;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 10; ++i)
      client.send(sipMessage("OPTIONS sip:a@127.0.0.1 SIP/2.0"));
    runFor(io, std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 200; }));
  runUntil(io, [&] {
    for (auto got = client.take(); !got.empty(); got = client.take()) {
      EXPECT_EQ(got, "answer");
      ++answers;
    }
    return answers == 200;
  });
  EXPECT_EQ(answers, 200u);
  runFor(io, std::chrono::milliseconds(50));
  client.send(sipMessage("OPTIONS sip:late@127.0.0.1 SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 201; }));
  EXPECT_EQ(client.receive(io), "answer");
}

// A socket whose datagrams come much closer together than the batch delay
// pauses between reads: then a datagram waits for the pause to end, and
// arrives.
TEST_F(TransportLayerTest, UdpBusySocketWaitsOutAPause) {
  auto layer = pacedUdp(std::chrono::milliseconds(300));
  UdpClient client(port(*layer, Transport::Udp));
  const auto request = sipMessage("OPTIONS sip:a@127.0.0.1 SIP/2.0");
  // One datagram per wake-up, each sent as soon as the one before arrived,
  // until one is not read within 50 ms: the listener paused after the read
  // before it (its datagrams average well under 300 / 8 ms apart after a
  // dozen).
  bool paused = false;
  for (std::size_t sent = 1; sent <= 30 && !paused; ++sent) {
    client.send(request);
    paused = !runUntil(
        io, [&] { return recorder.messages.size() == sent; }, 50ms);
    if (paused) {
      ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == sent; }));
    }
  }
  EXPECT_TRUE(paused);
}

// Datagrams too far apart for a pause to gather several are read as they
// come: here 60 ms apart, with 300 ms pauses (8 x 60 > 300). A pause would
// hold each for about 240 ms.
TEST_F(TransportLayerTest, UdpSparseDatagramsAreNotPaused) {
  auto layer = pacedUdp(std::chrono::milliseconds(300));
  UdpClient client(port(*layer, Transport::Udp));
  const auto request = sipMessage("OPTIONS sip:a@127.0.0.1 SIP/2.0");
  for (std::size_t sent = 1; sent <= 12; ++sent) {
    runFor(io, 60ms);
    client.send(request);
    ASSERT_TRUE(runUntil(
        io, [&] { return recorder.messages.size() == sent; }, 200ms))
        << "datagram " << sent << " waited for a pause";
  }
}

TEST_F(TransportLayerTest, UdpKeepAliveDatagramsAreDropped) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  asio::io_context clientIo;
  asio::ip::udp::socket client(clientIo,
                               asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), 0));
  const asio::ip::udp::endpoint server(asio::ip::address_v4::loopback(),
                                       port(*layer, Transport::Udp));
  client.send_to(asio::buffer(std::string("\r\n\r\n")), server);
  client.send_to(asio::buffer(std::string("")), server);
  client.send_to(asio::buffer(std::string("\r\n")), server);
  const std::string request = sipMessage("OPTIONS sip:a@127.0.0.1 SIP/2.0");
  client.send_to(asio::buffer(request), server);
  ASSERT_TRUE(runUntil(io, [&] { return !recorder.messages.empty(); }));
  runFor(io, 50ms);
  ASSERT_EQ(recorder.messages.size(), 1u);
  EXPECT_EQ(recorder.messages[0].data, request);
  EXPECT_EQ(client.available(), 0u);  // no pong on UDP
}

TEST_F(TransportLayerTest, UdpStunBindingRequestIsAnswered) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  asio::io_context clientIo;
  asio::ip::udp::socket client(clientIo,
                               asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), 0));
  const asio::ip::udp::endpoint server(asio::ip::address_v4::loopback(),
                                       port(*layer, Transport::Udp));
  // Binding request (RFC 5389 §6), no attributes, transaction ID 1..12.
  const std::uint8_t request[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1,  2,
                                    3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
  client.send_to(asio::buffer(request), server);
  runUntil(
      io, [&] { return client.available() > 0; }, 2000ms);
  std::uint8_t response[64];
  asio::ip::udp::endpoint sender;
  ASSERT_EQ(client.receive_from(asio::buffer(response), sender), 32u);
  EXPECT_EQ(response[0], 0x01);  // success response
  EXPECT_EQ(response[1], 0x01);
  EXPECT_EQ(std::memcmp(response + 4, request + 4, 16), 0);
  EXPECT_EQ(response[20], 0x00);  // XOR-MAPPED-ADDRESS
  EXPECT_EQ(response[21], 0x20);
  const int mappedPort = ((response[26] << 8) | response[27]) ^ 0x2112;
  EXPECT_EQ(mappedPort, client.local_endpoint().port());
  EXPECT_EQ(response[28] ^ 0x21, 127);
  EXPECT_TRUE(recorder.messages.empty());
}

TEST_F(TransportLayerTest, SendWithoutListenerFails) {
  auto layer = make(recorder);
  EXPECT_FALSE(layer->send(Flow{Transport::Udp, loopback(5060), {}, 0}, "x"));
  EXPECT_FALSE(layer->send(Flow{Transport::Tcp, loopback(5060), {}, 0}, "x"));
  EXPECT_FALSE(layer->send(Flow{Transport::Tls, loopback(5060), {}, 0}, "x"));
  EXPECT_FALSE(layer->advertised(Transport::Udp).has_value());
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  EXPECT_FALSE(layer->send(Flow{Transport::Tcp, loopback(5060), {}, 0}, "x"));
  EXPECT_FALSE(layer->send(Flow{Transport::Udp, loopback(0), {}, 0}, "x"));
}

TEST_F(TransportLayerTest, AdvertisesLoopbackForWildcardAndOverrides) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, {asio::ip::make_address("0.0.0.0"), 0}), "");
  const auto at = layer->advertised(Transport::Tcp);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->address, asio::ip::make_address("127.0.0.1"));
  EXPECT_NE(at->port, 0);
  layer->setAdvertised(Transport::Tcp, {asio::ip::make_address("192.0.2.1"), 5080});
  EXPECT_EQ(layer->advertised(Transport::Tcp)->toString(), "192.0.2.1:5080");
  EXPECT_FALSE(layer->advertised(Transport::Udp).has_value());
}

TEST_F(TransportLayerTest, ListenOnBusyPortFails) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  Recorder other;
  TransportLayer second(io, other, {});
  const auto error = second.listen(Transport::Udp, loopback(port(*layer, Transport::Udp)));
  EXPECT_NE(error, "");
  EXPECT_NE(layer->listen(Transport::Ws, loopback()), "");
}

// ---- TCP --------------------------------------------------------------------

TEST_F(TransportLayerTest, TcpFramesMessagesSentInPieces) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  const std::string first = sipMessage("MESSAGE sip:a@127.0.0.1 SIP/2.0", "hello body");
  const std::string second = sipMessage("OPTIONS sip:b@127.0.0.1 SIP/2.0");
  const std::string stream = first + second;
  std::size_t done = 0;
  for (const std::size_t cut : {std::size_t{7}, first.size() - 3, first.size() + 20}) {
    client.write(std::string_view(stream).substr(done, cut - done));
    done = cut;
    runFor(io, 10ms);
  }
  client.write(std::string_view(stream).substr(first.size() + 20));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 2; }));
  EXPECT_EQ(recorder.messages[0].data, first);
  EXPECT_EQ(recorder.messages[1].data, second);
  const Flow& from = recorder.messages[0].from;
  EXPECT_EQ(from.transport, Transport::Tcp);
  EXPECT_NE(from.connection, 0u);
  EXPECT_EQ(recorder.messages[1].from, from);
  EXPECT_EQ(from.remote.port, client.local().port());
  EXPECT_EQ(layer->connectionCount(), 1u);

  // The response goes back over the same connection (RFC 3261 §18.2.2).
  const std::string response = sipMessage("SIP/2.0 200 OK");
  ASSERT_TRUE(layer->send(from, response));
  EXPECT_EQ(client.read(io, response.size()), response);
}

TEST_F(TransportLayerTest, TcpManyMessagesInOneWrite) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  std::string burst;
  for (int i = 0; i < 200; ++i) {
    burst += sipMessage("MESSAGE sip:a SIP/2.0", "body " + std::to_string(i));
  }
  client.write(burst);
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 200; }));
  EXPECT_EQ(recorder.messages[199].data, sipMessage("MESSAGE sip:a SIP/2.0", "body 199"));
}

TEST_F(TransportLayerTest, TcpDoubleCrlfGetsSingleCrlfBack) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  client.write("\r\n\r\n");
  EXPECT_EQ(client.read(io, 2), "\r\n");
  // A lone CRLF (a pong) is skipped and answered with nothing.
  client.write("\r\n");
  const std::string request = sipMessage("OPTIONS sip:a SIP/2.0");
  client.write(request);
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 1; }));
  EXPECT_EQ(recorder.messages[0].data, request);
  EXPECT_EQ(client.read(io, 1, 100ms), "");
}

TEST_F(TransportLayerTest, TcpIdleTimeoutCloses) {
  TransportOptions options;
  options.idleTimeout = std::chrono::seconds(1);
  auto layer = make(recorder, options);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  client.write(sipMessage("OPTIONS sip:a SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.waitClosed(io, 4000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 800ms);
  ASSERT_EQ(recorder.closed.size(), 1u);
  EXPECT_EQ(recorder.closed[0], recorder.messages[0].from.connection);
  EXPECT_EQ(layer->connectionCount(), 0u);
}

TEST_F(TransportLayerTest, TcpOversizeMessageCloses) {
  TransportOptions options;
  options.maxMessageSize = 300;
  auto layer = make(recorder, options);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  client.write(sipMessage("MESSAGE sip:a SIP/2.0", std::string(500, 'x')));
  EXPECT_TRUE(client.waitClosed(io));
  runUntil(io, [&] { return !recorder.closed.empty(); });
  EXPECT_TRUE(recorder.messages.empty());
  EXPECT_EQ(recorder.closed.size(), 1u);
}

TEST_F(TransportLayerTest, TcpEndlessHeadersClose) {
  TransportOptions options;
  options.maxMessageSize = 1000;
  auto layer = make(recorder, options);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  std::string junk = "MESSAGE sip:a SIP/2.0\r\n";
  while (junk.size() < 3000)
    junk += "X-Pad: 0123456789abcdef\r\n";
  client.write(junk);
  EXPECT_TRUE(client.waitClosed(io));
}

TEST_F(TransportLayerTest, TcpMissingContentLengthCloses) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  client.write("OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n");
  EXPECT_TRUE(client.waitClosed(io));
  EXPECT_TRUE(recorder.messages.empty());
}

TEST_F(TransportLayerTest, PeerCloseIsReported) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  {
    TcpClient client(port(*layer, Transport::Tcp));
    client.write(sipMessage("OPTIONS sip:a SIP/2.0"));
    ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 1; }));
  }
  ASSERT_TRUE(runUntil(io, [&] { return recorder.closed.size() == 1; }));
  EXPECT_EQ(recorder.closed[0], recorder.messages[0].from.connection);
  EXPECT_EQ(layer->connectionCount(), 0u);
}

TEST_F(TransportLayerTest, OutgoingTcpConnectionIsOpenedAndReused) {
  Recorder serverRecorder;
  TransportLayer server(io, serverRecorder, {});
  ASSERT_EQ(server.listen(Transport::Tcp, loopback()), "");
  // The server answers each request over the connection it came on.
  serverRecorder.reply = [&](const std::string&, const Flow& from) {
    server.send(from, sipMessage("SIP/2.0 200 OK"));
  };
  auto client = make(recorder);
  ASSERT_EQ(client->listen(Transport::Tcp, loopback()), "");

  const Flow to{Transport::Tcp, *server.advertised(Transport::Tcp), {}, 0};
  ASSERT_TRUE(client->send(to, sipMessage("OPTIONS sip:s SIP/2.0")));
  ASSERT_TRUE(client->send(to, sipMessage("MESSAGE sip:s SIP/2.0", "queued while connecting")));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 2; }));
  EXPECT_EQ(serverRecorder.messages[1].data,
            sipMessage("MESSAGE sip:s SIP/2.0", "queued while connecting"));
  const Flow via = recorder.messages[0].from;
  EXPECT_EQ(via.remote, to.remote);
  EXPECT_NE(via.connection, 0u);

  ASSERT_TRUE(client->send(to, sipMessage("INFO sip:s SIP/2.0")));   // by remote address
  ASSERT_TRUE(client->send(via, sipMessage("INFO sip:s SIP/2.0")));  // by connection id
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 4; }));
  EXPECT_EQ(client->connectionCount(), 1u);
  EXPECT_EQ(server.connectionCount(), 1u);
  for (const auto& m : serverRecorder.messages) {
    EXPECT_EQ(m.from.connection, serverRecorder.messages[0].from.connection);
  }
}

TEST_F(TransportLayerTest, ServerReusesAcceptedConnectionByRemoteAddress) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  client.write(sipMessage("REGISTER sip:a SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 1; }));
  Flow byAddress = recorder.messages[0].from;
  byAddress.connection = 0;
  const std::string request = sipMessage("OPTIONS sip:ua SIP/2.0");
  ASSERT_TRUE(layer->send(byAddress, request));
  EXPECT_EQ(client.read(io, request.size()), request);
  EXPECT_EQ(layer->connectionCount(), 1u);
}

TEST_F(TransportLayerTest, RefusedConnectReportsSendFailed) {
  // Bound but not listening: connects are refused, and the port stays taken.
  asio::ip::tcp::socket probe(io);
  probe.open(asio::ip::tcp::v4());
  probe.bind({asio::ip::address_v4::loopback(), 0});
  const std::uint16_t closedPort = probe.local_endpoint().port();
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  const Flow to{Transport::Tcp, loopback(closedPort), {}, 0};
  ASSERT_TRUE(layer->send(to, sipMessage("OPTIONS sip:s SIP/2.0")));
  ASSERT_TRUE(runUntil(io, [&] { return !recorder.failed.empty(); }));
  EXPECT_EQ(recorder.failed.size(), 1u);
  EXPECT_EQ(recorder.failed[0], to);
  EXPECT_TRUE(recorder.closed.empty());  // it never opened
  EXPECT_EQ(layer->connectionCount(), 0u);
}

TEST_F(TransportLayerTest, ShutdownClosesEverything) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  client.write(sipMessage("OPTIONS sip:a SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 1; }));
  const std::string last = sipMessage("SIP/2.0 200 OK");
  ASSERT_TRUE(layer->send(recorder.messages[0].from, last));
  layer->shutdown();
  EXPECT_EQ(recorder.closed.size(), 1u);
  EXPECT_EQ(layer->connectionCount(), 0u);
  EXPECT_FALSE(layer->send(recorder.messages[0].from, "x"));
  EXPECT_EQ(client.read(io, last.size() + 1), last);  // flushed, then closed
  EXPECT_TRUE(client.waitClosed(io));
}

TEST_F(TransportLayerTest, DestroyingWithPendingOperationsIsSafe) {
  Recorder serverRecorder;
  auto server = std::make_unique<TransportLayer>(io, serverRecorder, TransportOptions{});
  ASSERT_EQ(server->listen(Transport::Tcp, loopback()), "");
  ASSERT_EQ(server->listen(Transport::Udp, loopback()), "");
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  TcpClient client(port(*layer, Transport::Tcp));
  runFor(io, 20ms);  // accepted, read pending
  ASSERT_TRUE(layer->send(Flow{Transport::Tcp, *server->advertised(Transport::Tcp), {}, 0},
                          sipMessage("OPTIONS sip:s SIP/2.0")));  // connect pending
  layer.reset();
  server.reset();
  runFor(io, 100ms);
  EXPECT_TRUE(recorder.messages.empty());
  EXPECT_TRUE(client.waitClosed(io));
}

TEST_F(TransportLayerTest, ThrowingListenerDoesNotStopTheLoop) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  recorder.reply = [](const std::string&, const Flow&) { throw std::runtime_error("bug"); };
  TcpClient client(port(*layer, Transport::Tcp));
  client.write(sipMessage("OPTIONS sip:a SIP/2.0") + sipMessage("OPTIONS sip:b SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return recorder.messages.size() == 2; }));
}

TEST_F(TransportLayerTest, ListenerMayShutDownFromACallback) {
  auto layer = make(recorder);
  ASSERT_EQ(layer->listen(Transport::Tcp, loopback()), "");
  ASSERT_EQ(layer->listen(Transport::Udp, loopback()), "");
  recorder.reply = [&](const std::string&, const Flow&) { layer->shutdown(); };
  TcpClient client(port(*layer, Transport::Tcp));
  client.write(sipMessage("OPTIONS sip:a SIP/2.0") + sipMessage("OPTIONS sip:b SIP/2.0"));
  EXPECT_TRUE(client.waitClosed(io));
  EXPECT_EQ(recorder.messages.size(), 1u);
}

}  // namespace
}  // namespace tandem::sip
