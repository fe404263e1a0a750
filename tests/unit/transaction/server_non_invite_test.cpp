// Non-INVITE server transaction (RFC 3261 §17.2.2).

#include "test_support.hpp"

namespace tandem::sip::testing {
namespace {

class ServerNonInvite : public LayerTest {
 protected:
  static RequestSpec options() {
    RequestSpec s;
    s.method = "OPTIONS";
    return s;
  }
  std::unique_ptr<Message> response(int status) {
    return makeResponse(*user.requests.front().message, status, {}, "uas-1");
  }
};

TEST_F(ServerNonInvite, RetransmissionsBeforeAnyResponseAreAbsorbed) {
  layer.onMessage(requestText(options()), udpFlow());
  ASSERT_EQ(user.requests.size(), 1u);
  EXPECT_NE(user.requests[0].tx, 0u);
  EXPECT_TRUE(sender.sent.empty());  // no 100 for non-INVITE
  layer.onMessage(requestText(options()), udpFlow());
  EXPECT_EQ(user.requests.size(), 1u);
  EXPECT_TRUE(sender.sent.empty());
  EXPECT_EQ(layer.stats().retransmissionsAbsorbed, 1u);
}

TEST_F(ServerNonInvite, RetransmissionsGetTheLastResponseUntilTimerJ) {
  layer.onMessage(requestText(options()), udpFlow());
  const TransactionId tx = user.requests[0].tx;
  layer.respond(tx, response(100));
  layer.onMessage(requestText(options()), udpFlow());
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.last()->status(), 100);

  layer.respond(tx, response(200));
  layer.onMessage(requestText(options()), udpFlow());
  ASSERT_EQ(sender.sent.size(), 4u);
  EXPECT_EQ(sender.sent[3].data, sender.sent[2].data);
  EXPECT_EQ(sender.last()->status(), 200);
  layer.respond(tx, response(500));  // Completed: a second final is ignored
  EXPECT_EQ(sender.sent.size(), 4u);

  advance(31999);  // Timer J = 64*T1
  EXPECT_EQ(layer.stats().serverTransactions, 1u);
  EXPECT_EQ(sender.sent.size(), 4u);  // responses are never retransmitted on their own
  advance(1);
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  layer.onMessage(requestText(options()), udpFlow());
  EXPECT_EQ(user.requests.size(), 2u);  // a new transaction now
}

TEST_F(ServerNonInvite, CompletedResendsTheSameFinalBytesAfterTheUserDroppedTheRequest) {
  layer.onMessage(requestText(options()), udpFlow());
  const TransactionId tx = user.requests[0].tx;
  layer.respond(tx, response(200));
  user.requests.clear();  // the TU keeps nothing either
  ASSERT_EQ(sender.sent.size(), 1u);
  const std::string ok = sender.sent[0].data;
  for (const long at : {10, 5000, 31999}) {
    advance(at - elapsed());
    layer.onMessage(requestText(options()), udpFlow());
    EXPECT_EQ(sender.sent.back().data, ok);
    EXPECT_EQ(sender.sent.back().to, udpFlow());
  }
  EXPECT_EQ(sender.sent.size(), 4u);
  EXPECT_TRUE(user.requests.empty());
  EXPECT_EQ(layer.stats().retransmissionsAbsorbed, 3u);
}

TEST_F(ServerNonInvite, ReliableTransportEndsOnTheFinalResponse) {
  layer.onMessage(requestText(options()), tcpFlow(9));
  layer.respond(user.requests[0].tx, response(200));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].to, tcpFlow(9));
  EXPECT_EQ(layer.stats().serverTransactions, 0u);  // Timer J is 0
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(ServerNonInvite, UserMayRespondFromInsideOnRequest) {
  user.onRequestHook = [&](RecordingUser::Request& r) {
    layer.respond(r.tx, makeResponse(*r.message, 200, {}, "t"));
  };
  layer.onMessage(requestText(options()), tcpFlow(9));
  layer.onMessage(requestText(options()), udpFlow());
  EXPECT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(layer.stats().serverTransactions, 1u);  // the UDP one, in Completed
}

TEST_F(ServerNonInvite, ClosedConnectionForgetsATransactionAwaitingItsResponse) {
  RequestSpec s = options();
  s.viaTransport = "TCP";
  layer.onMessage(requestText(s), tcpFlow(9));
  layer.onConnectionClosed(9);
  EXPECT_EQ(user.gone, std::vector<TransactionId>{user.requests[0].tx});
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
}

}  // namespace
}  // namespace tandem::sip::testing
