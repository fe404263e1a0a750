// TransactionLayer::onMessage: parsing and 400, Via received/rport, response
// routing, matching (§17.1.3, §17.2.3 with the RFC 2543 fallback) and CANCEL.

#include "test_support.hpp"

#include <unordered_set>

// Designated initialisers name only the RequestSpec fields a test changes; the
// rest keep their defaults, which is what this GCC warning is about.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace tandem::sip::testing {
namespace {

using Layer = LayerTest;

// ---- Invalid messages

TEST_F(Layer, InvalidRequestGetsA400CarryingTheParseError) {
  std::string text = requestText({.method = "OPTIONS"});
  text.replace(text.find("Content-Length: 0"), 17, "Content-Length: 40");
  const ParseResult expected = Message::parse(text);
  ASSERT_FALSE(expected.ok());
  ASSERT_NE(expected.message, nullptr);

  layer.onMessage(text, udpFlow("192.0.2.10", 5060));
  EXPECT_EQ(layer.stats().parseErrors, 1u);
  EXPECT_TRUE(user.requests.empty());
  ASSERT_EQ(sender.sent.size(), 1u);
  const auto response = sender.last();
  EXPECT_EQ(response->status(), 400);
  EXPECT_EQ(response->reason(), expected.error);
  EXPECT_EQ(response->cseq()->method, "OPTIONS");
  EXPECT_FALSE(response->to()->tag().empty());
  EXPECT_EQ(sender.sent[0].to, udpFlow("192.0.2.10", 5060));
  EXPECT_EQ(layer.stats().serverTransactions, 0u);  // stateless
}

TEST_F(Layer, InvalidAckAndGarbageAreDroppedAndCounted) {
  std::string ack = requestText({.method = "ACK"});
  ack.replace(ack.find("Content-Length: 0"), 17, "Content-Length: 40");
  layer.onMessage(ack, udpFlow());
  layer.onMessage("hello world", udpFlow());
  layer.onMessage("", udpFlow());
  EXPECT_EQ(layer.stats().parseErrors, 3u);
  EXPECT_TRUE(sender.sent.empty());
  EXPECT_TRUE(user.requests.empty());
}

// ---- Via received / rport

TEST_F(Layer, ReceivedIsAddedWhenSentByIsNotTheSourceAddress) {
  layer.onMessage(requestText({.method = "OPTIONS", .viaSentBy = "pc33.example.com:5060"}),
                  udpFlow("192.0.2.10", 5060));
  ASSERT_EQ(user.requests.size(), 1u);
  const auto via = user.requests[0].message->topVia();
  ASSERT_TRUE(via);
  EXPECT_EQ(via->param("received"), std::optional<std::string_view>("192.0.2.10"));
  EXPECT_FALSE(via->param("rport"));
  EXPECT_EQ(via->branch(), "z9hG4bK-a1");
  EXPECT_EQ(via->host, "pc33.example.com");
}

TEST_F(Layer, ViaIsUntouchedWhenSentByIsTheSourceAddress) {
  layer.onMessage(requestText({.method = "OPTIONS"}), udpFlow("192.0.2.10", 5060));
  ASSERT_EQ(user.requests.size(), 1u);
  EXPECT_EQ(user.requests[0].message->first(HeaderId::Via),
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-a1");
}

TEST_F(Layer, EmptyRportIsFilledAndReceivedAddedEvenWhenTheHostMatches) {
  layer.onMessage(requestText({.viaExtra = ";rport"}), udpFlow("192.0.2.10", 6000));
  ASSERT_EQ(user.requests.size(), 1u);
  const auto via = user.requests[0].message->topVia();
  ASSERT_TRUE(via);
  EXPECT_EQ(via->param("rport"), std::optional<std::string_view>("6000"));
  EXPECT_EQ(via->param("received"), std::optional<std::string_view>("192.0.2.10"));
  // RFC 3581 §4: responses go to the source port.
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].to.remote, endpoint("192.0.2.10", 6000));
  EXPECT_EQ(sender.last()->topVia()->param("rport"), std::optional<std::string_view>("6000"));
}

TEST_F(Layer, RportBeforeOtherParametersIsFilledInPlace) {
  layer.onMessage(
      requestText({.viaSentBy = "10.0.0.5:5060;rport", .viaExtra = ";received=1.1.1.1"}),
      udpFlow("192.0.2.10", 6001));
  ASSERT_EQ(user.requests.size(), 1u);
  EXPECT_EQ(user.requests[0].message->first(HeaderId::Via),
            "SIP/2.0/UDP 10.0.0.5:5060;rport=6001;branch=z9hG4bK-a1;received=192.0.2.10");
}

TEST_F(Layer, Ipv4MappedSourceIsWrittenAsIpv4) {
  layer.onMessage(requestText({.viaSentBy = "ua.invalid", .viaExtra = ";rport"}),
                  udpFlow("::ffff:192.0.2.10", 6002));
  ASSERT_EQ(user.requests.size(), 1u);
  const auto via = user.requests[0].message->topVia();
  EXPECT_EQ(via->param("received"), std::optional<std::string_view>("192.0.2.10"));
  EXPECT_EQ(via->param("rport"), std::optional<std::string_view>("6002"));
}

TEST_F(Layer, OtherViaValuesArePreserved) {
  RequestSpec s;
  s.method = "OPTIONS";
  s.viaSentBy = "proxy.example.net";
  s.moreVia = "SIP/2.0/TCP ua.example.org:5070;branch=z9hG4bK-ua;received=203.0.113.7";
  s.extraHeaders = "Via: SIP/2.0/UDP third.example;branch=z9hG4bK-3\r\n";
  layer.onMessage(requestText(s), udpFlow("192.0.2.30", 5060));
  ASSERT_EQ(user.requests.size(), 1u);
  const auto values = user.requests[0].message->values(HeaderId::Via);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0], "SIP/2.0/UDP proxy.example.net;branch=z9hG4bK-a1;received=192.0.2.30");
  EXPECT_EQ(values[1], "SIP/2.0/TCP ua.example.org:5070;branch=z9hG4bK-ua;received=203.0.113.7");
  EXPECT_EQ(values[2], "SIP/2.0/UDP third.example;branch=z9hG4bK-3");
}

TEST_F(Layer, Ipv6SentByMatchingTheSourceNeedsNoReceived) {
  layer.onMessage(requestText({.method = "OPTIONS", .viaSentBy = "[2001:db8::1]:5060"}),
                  udpFlow("2001:db8::1", 5060));
  ASSERT_EQ(user.requests.size(), 1u);
  EXPECT_FALSE(user.requests[0].message->topVia()->param("received"));
}

// ---- Response routing (§18.2.2)

TEST_F(Layer, UdpResponsesGoToTheSentByPortWithoutRport) {
  layer.onMessage(requestText({.viaSentBy = "192.0.2.10:5070"}), udpFlow("192.0.2.10", 6000));
  layer.onMessage(requestText({.branch = "z9hG4bK-b2", .viaSentBy = "192.0.2.10"}),
                  udpFlow("192.0.2.10", 6000));
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[0].to.remote, endpoint("192.0.2.10", 5070));
  EXPECT_EQ(sender.sent[1].to.remote, endpoint("192.0.2.10", 5060));
  EXPECT_EQ(sender.sent[0].to.transport, Transport::Udp);
}

// Stateless answers (RFC 3261 §8.2.7) are routed like transactional ones:
// to the sent-by port, or with rport to the source.
TEST_F(Layer, StatelessResponsesGoWhereTheirViaSays) {
  user.statelessHook = [](const Message& request, const Flow&) {
    return makeResponse(request, 200, {}, "t1");
  };
  RequestSpec spec{.method = "REGISTER", .viaSentBy = "192.0.2.10:5070"};
  layer.onMessage(requestText(spec), udpFlow("192.0.2.10", 6000));
  spec.branch = "z9hG4bK-b2";
  spec.viaExtra = ";rport";
  layer.onMessage(requestText(spec), udpFlow("192.0.2.10", 6000));
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[0].to.remote, endpoint("192.0.2.10", 5070));  // sent-by port
  EXPECT_EQ(sender.sent[1].to.remote, endpoint("192.0.2.10", 6000));  // rport: the source
  EXPECT_EQ(sender.last()->status(), 200);
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  EXPECT_EQ(layer.stats().statelessResponses, 2u);
  EXPECT_TRUE(user.requests.empty());
}

TEST_F(Layer, StreamResponsesGoBackOverTheConnection) {
  layer.onMessage(requestText({.viaSentBy = "ua.invalid", .viaTransport = "WS"}),
                  tcpFlow(77, "192.0.2.10", 40000));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].to, tcpFlow(77, "192.0.2.10", 40000));
}

// ---- Matching (§17.2.3)

TEST_F(Layer, SameBranchFromAnotherSentByIsAnotherTransaction) {
  layer.onMessage(requestText({.method = "OPTIONS"}), udpFlow());
  layer.onMessage(requestText({.method = "OPTIONS", .viaSentBy = "192.0.2.11:5060"}),
                  udpFlow("192.0.2.11"));
  layer.onMessage(requestText({.method = "INFO"}), udpFlow());  // another method
  EXPECT_EQ(user.requests.size(), 3u);
  EXPECT_EQ(layer.stats().serverTransactions, 3u);
}

TEST_F(Layer, AckMatchingNoTransactionGoesToTheUserWithoutOne) {
  layer.onMessage(requestText({.method = "ACK", .toTag = "x"}), udpFlow());
  ASSERT_EQ(user.requests.size(), 1u);
  EXPECT_EQ(user.requests[0].tx, 0u);
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  EXPECT_TRUE(sender.sent.empty());
}

TEST_F(Layer, Rfc2543RequestsAreMatchedFieldByField) {
  const RequestSpec invite{.branch = ""};
  layer.onMessage(requestText(invite), udpFlow());
  ASSERT_EQ(user.requests.size(), 1u);
  const TransactionId tx = user.requests[0].tx;
  layer.onMessage(requestText(invite), udpFlow());  // retransmission
  EXPECT_EQ(user.requests.size(), 1u);
  EXPECT_EQ(sender.sent.size(), 2u);  // 100 twice

  layer.respond(tx, makeResponse(*user.requests[0].message, 404, {}, "uas-9"));
  // An ACK with the response's To tag ends it (Confirmed): no more 404s.
  layer.onMessage(requestText({.method = "ACK", .branch = "", .toTag = "uas-9"}), udpFlow());
  EXPECT_EQ(user.requests.size(), 1u);
  advance(10000);
  EXPECT_EQ(sender.sent.size(), 3u);

  // A different CSeq or Request-URI is a different request.
  layer.onMessage(requestText({.branch = "", .cseq = 2}), udpFlow());
  layer.onMessage(requestText({.branch = "", .requestUri = "sip:carol@example.com"}), udpFlow());
  EXPECT_EQ(user.requests.size(), 3u);
}

TEST_F(Layer, Rfc2543AckWithTheWrongToTagDoesNotMatch) {
  layer.onMessage(requestText({.branch = ""}), udpFlow());
  layer.respond(user.requests[0].tx, makeResponse(*user.requests[0].message, 404, {}, "uas-9"));
  layer.onMessage(requestText({.method = "ACK", .branch = "", .toTag = "other"}), udpFlow());
  ASSERT_EQ(user.requests.size(), 2u);
  EXPECT_EQ(user.requests[1].tx, 0u);
}

// ---- Responses (§17.1.3)

TEST_F(Layer, ResponseMatchingNoClientTransactionIsStray) {
  auto response = parse(responseTo(*request({}), 200));
  layer.onMessage(response->serialize(), udpFlow());
  ASSERT_EQ(user.strays.size(), 1u);
  EXPECT_EQ(user.strays[0]->status(), 200);
}

// ---- CANCEL (§9.2)

TEST_F(Layer, CancelGets200AndReachesTheUserOnce) {
  layer.onMessage(requestText({}), udpFlow());
  const TransactionId invite = user.requests[0].tx;
  layer.respond(invite, makeResponse(*user.requests[0].message, 180, {}, "uas-1"));

  const std::string cancel = requestText({.method = "CANCEL"});
  layer.onMessage(cancel, udpFlow());
  EXPECT_EQ(user.cancels, std::vector<TransactionId>{invite});
  EXPECT_EQ(user.requests.size(), 1u);  // the CANCEL is not a new request for the TU
  const auto ok = sender.last();
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->cseq()->method, "CANCEL");
  EXPECT_EQ(ok->to()->tag(), "uas-1");  // the tag of the INVITE's responses

  layer.onMessage(cancel, udpFlow());  // retransmission: 200 again, TU not told again
  EXPECT_EQ(user.cancels.size(), 1u);
  EXPECT_EQ(sender.sent.back().data, sender.sent[sender.sent.size() - 2].data);
}

TEST_F(Layer, CancelMatchingNothingGets481) {
  layer.onMessage(requestText({.method = "CANCEL"}), udpFlow());
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.lastStatus(), 481);
  EXPECT_FALSE(sender.last()->to()->tag().empty());
  EXPECT_TRUE(user.cancels.empty());
  EXPECT_TRUE(user.requests.empty());
}

TEST_F(Layer, CancelAfterTheFinalResponseGets200Only) {
  layer.onMessage(requestText({}), udpFlow());
  layer.respond(user.requests[0].tx, makeResponse(*user.requests[0].message, 486, {}, "u"));
  layer.onMessage(requestText({.method = "CANCEL"}), udpFlow());
  EXPECT_EQ(sender.lastStatus(), 200);
  EXPECT_TRUE(user.cancels.empty());
}

TEST_F(Layer, Rfc2543CancelMatchesItsInvite) {
  layer.onMessage(requestText({.branch = ""}), udpFlow());
  layer.onMessage(requestText({.method = "CANCEL", .branch = ""}), udpFlow());
  EXPECT_EQ(user.cancels, std::vector<TransactionId>{user.requests[0].tx});
  EXPECT_EQ(sender.lastStatus(), 200);
  layer.onMessage(requestText({.method = "CANCEL", .branch = "", .cseq = 5}), udpFlow());
  EXPECT_EQ(sender.lastStatus(), 481);
}

TEST_F(Layer, CancelOverAStreamEndsWithItsResponse) {
  layer.onMessage(requestText({.viaTransport = "TCP"}), tcpFlow(4));
  layer.onMessage(requestText({.method = "CANCEL", .viaTransport = "TCP"}), tcpFlow(4));
  EXPECT_EQ(user.cancels.size(), 1u);
  EXPECT_EQ(layer.stats().serverTransactions, 1u);  // only the INVITE
}

// ---- Miscellaneous

TEST_F(Layer, NewBranchIsUniqueAndCarriesTheMagicCookie) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string b = TransactionLayer::newBranch();
    ASSERT_EQ(b.rfind("z9hG4bK", 0), 0u);
    ASSERT_TRUE(seen.insert(std::move(b)).second);
  }
}

TEST_F(Layer, RequestsWithoutAUserAreDropped) {
  TransactionLayer alone(timers, sender, TimerConfig{});
  alone.onMessage(requestText({}), udpFlow());
  EXPECT_EQ(alone.stats().serverTransactions, 0u);
  EXPECT_TRUE(sender.sent.empty());
}

TEST_F(Layer, StatelessSendSerialisesOnce) {
  const auto ack = request({.method = "ACK"});
  EXPECT_TRUE(layer.sendStateless(*ack, udpFlow()));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].data, ack->serialize());
  sender.refuse = true;
  EXPECT_FALSE(layer.sendStateless(*ack, udpFlow()));
}

TEST_F(Layer, TimerConfigIsHonoured) {
  TimerConfig fast;
  fast.t1 = std::chrono::milliseconds(100);
  fast.t2 = std::chrono::milliseconds(400);
  fast.t4 = std::chrono::milliseconds(1000);
  RecordingSender out(timers);
  TransactionLayer quick(timers, out, fast);
  const TransactionId tx = quick.sendRequest(outgoing("OPTIONS"), udpFlow(), client);
  advance(6400);
  EXPECT_EQ(out.times(start),
            (std::vector<long>{0, 100, 300, 700, 1100, 1500, 1900, 2300, 2700, 3100, 3500, 3900,
                               4300, 4700, 5100, 5500, 5900, 6300}));
  EXPECT_EQ(client.timeouts, std::vector<TransactionId>{tx});
}

}  // namespace
}  // namespace tandem::sip::testing
