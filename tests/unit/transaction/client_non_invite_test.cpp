// Non-INVITE client transaction (RFC 3261 §17.1.2).

#include "test_support.hpp"

namespace tandem::sip::testing {
namespace {

using ClientNonInvite = LayerTest;

TEST_F(ClientNonInvite, TimerEDoublesUpToT2UntilTimerFTimesOut) {
  const TransactionId tx = layer.sendRequest(outgoing("OPTIONS"), udpFlow(), client);
  advance(31999);
  EXPECT_EQ(sender.times(start), (std::vector<long>{0, 500, 1500, 3500, 7500, 11500, 15500, 19500,
                                                    23500, 27500, 31500}));
  EXPECT_TRUE(client.timeouts.empty());
  advance(1);
  EXPECT_EQ(client.timeouts, std::vector<TransactionId>{tx});
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(ClientNonInvite, ProvisionalResponseMovesTimerEToT2) {
  const TransactionId tx = layer.sendRequest(outgoing("REGISTER"), udpFlow(), client);
  advance(600);
  layer.onMessage(responseTo(*layer.clientRequest(tx), 100), udpFlow());
  EXPECT_EQ(client.responses.size(), 1u);
  advance(10000 - 600);
  // The Timer E already running fires at 1500; from then on every T2.
  EXPECT_EQ(sender.times(start), (std::vector<long>{0, 500, 1500, 5500, 9500}));
  advance(22000);
  EXPECT_EQ(client.timeouts, std::vector<TransactionId>{tx});  // Timer F still runs
}

TEST_F(ClientNonInvite, FinalResponseCompletesAndTimerKAbsorbsRetransmissions) {
  const TransactionId tx = layer.sendRequest(outgoing("OPTIONS"), udpFlow(), client);
  const std::string ok = responseTo(*layer.clientRequest(tx), 200);
  layer.onMessage(ok, udpFlow());
  ASSERT_EQ(client.responses.size(), 1u);
  EXPECT_EQ(client.responses[0].status, 200);
  advance(2000);
  EXPECT_EQ(sender.sent.size(), 1u);  // Timer E stopped
  layer.onMessage(ok, udpFlow());
  EXPECT_EQ(client.responses.size(), 1u);
  EXPECT_EQ(layer.stats().retransmissionsAbsorbed, 1u);
  EXPECT_EQ(layer.clientRequest(tx), nullptr);  // Completed keeps only the key
  advance(2999);                                // Timer K = T4 = 5 s
  EXPECT_NE(layer.clientFlow(tx), nullptr);
  advance(1);
  EXPECT_EQ(layer.clientFlow(tx), nullptr);
  EXPECT_TRUE(client.timeouts.empty());
  layer.onMessage(ok, udpFlow());
  EXPECT_EQ(user.strays.size(), 1u);
}

TEST_F(ClientNonInvite, ReliableTransportHasNoTimerEAndNoTimerK) {
  const TransactionId tx = layer.sendRequest(outgoing("OPTIONS"), tcpFlow(3), client);
  EXPECT_EQ(timers.pending(), 1u);  // Timer F only
  advance(20000);
  EXPECT_EQ(sender.sent.size(), 1u);
  layer.onMessage(responseTo(*layer.clientRequest(tx), 200), tcpFlow(3));
  EXPECT_EQ(client.responses.size(), 1u);
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  EXPECT_EQ(layer.stats().clientTransactions, 0u);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(ClientNonInvite, UserMayReadTheRequestWhileHandlingTheFinalResponse) {
  // A TU answering a 401 builds the retry from the original request.
  const TransactionId tx = layer.sendRequest(outgoing("REGISTER"), tcpFlow(3), client);
  std::string method;
  client.onResponseHook = [&](TransactionId id, const Message&) {
    const Message* original = layer.clientRequest(id);
    ASSERT_NE(original, nullptr);
    method = std::string(original->methodText());
  };
  layer.onMessage(responseTo(*layer.clientRequest(tx), 401), tcpFlow(3));
  EXPECT_EQ(method, "REGISTER");
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
}

TEST_F(ClientNonInvite, ResponseForAnotherMethodOnTheSameBranchDoesNotMatch) {
  const TransactionId tx = layer.sendRequest(outgoing("OPTIONS"), udpFlow(), client);
  auto response = parse(responseTo(*layer.clientRequest(tx), 200));
  response->setHeader(HeaderId::CSeq, "1 INFO");
  layer.onMessage(response->serialize(), udpFlow());
  EXPECT_TRUE(client.responses.empty());
  EXPECT_EQ(user.strays.size(), 1u);
}

}  // namespace
}  // namespace tandem::sip::testing
