// INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).

#include "test_support.hpp"

namespace tandem::sip::testing {
namespace {

using ClientInvite = LayerTest;

TEST_F(ClientInvite, RetransmitsWithTimerADoublingUntilTimerBTimesOut) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  ASSERT_NE(tx, 0u);
  EXPECT_EQ(layer.stats().clientTransactions, 1u);
  advance(31999);
  // T1, 2*T1, 4*T1, ... after the first send; Timer B (64*T1) ends it.
  EXPECT_EQ(sender.times(start), (std::vector<long>{0, 500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_TRUE(client.timeouts.empty());
  advance(1);
  EXPECT_EQ(client.timeouts, std::vector<TransactionId>{tx});
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  EXPECT_EQ(layer.stats().clientTransactions, 0u);
  EXPECT_EQ(timers.pending(), 0u);
  for (const Sent& s : sender.sent)
    EXPECT_EQ(s.to, udpFlow());
}

TEST_F(ClientInvite, ProvisionalStopsRetransmissionsAndTimerB) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  advance(600);
  ASSERT_EQ(sender.sent.size(), 2u);
  layer.onMessage(responseTo(*layer.clientRequest(tx), 180), udpFlow());
  ASSERT_EQ(client.responses.size(), 1u);
  EXPECT_EQ(client.responses[0].tx, tx);
  EXPECT_EQ(client.responses[0].status, 180);
  advance(120000);
  EXPECT_EQ(sender.sent.size(), 2u);
  EXPECT_TRUE(client.timeouts.empty());
  EXPECT_NE(layer.clientRequest(tx), nullptr);  // Proceeding waits for the TU's Timer C
  layer.onMessage(responseTo(*layer.clientRequest(tx), 183), udpFlow());
  EXPECT_EQ(client.responses.size(), 2u);
}

TEST_F(ClientInvite, Non2xxFinalIsAcknowledgedByTheTransactionOnTheSameBranch) {
  auto invite =
      outgoing("INVITE", "Route: <sip:p1.example.com;lr>\r\nRoute: <sip:p2.example.com;lr>\r\n");
  const std::string branch(invite->topVia()->branch());
  const TransactionId tx = layer.sendRequest(std::move(invite), udpFlow(), client);
  const auto sent = layer.clientRequest(tx)->clone();
  layer.onMessage(responseTo(*sent, 486, "busy-tag"), udpFlow());
  ASSERT_EQ(client.responses.size(), 1u);
  EXPECT_EQ(client.responses[0].status, 486);
  EXPECT_EQ(layer.clientRequest(tx), nullptr);  // released once the TU saw the 486

  ASSERT_EQ(sender.sent.size(), 2u);
  const auto ack = sender.last();
  EXPECT_EQ(ack->method(), Method::Ack);
  EXPECT_EQ(ack->requestUriText(), "sip:bob@example.com");
  EXPECT_EQ(ack->values(HeaderId::Via).size(), 1u);
  EXPECT_EQ(ack->topVia()->branch(), branch);
  EXPECT_EQ(ack->cseq()->number, 1u);
  EXPECT_EQ(ack->cseq()->method, "ACK");
  EXPECT_EQ(ack->to()->tag(), "busy-tag");
  EXPECT_EQ(ack->from()->tag(), "from-1");
  EXPECT_EQ(ack->callId(), "call-1@192.0.2.10");
  EXPECT_EQ(ack->values(HeaderId::Route),
            (std::vector<std::string_view>{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"}));

  // Completed: a retransmitted 486 gets the ACK again and stays below the TU.
  const std::string retransmission = responseTo(*sent, 486, "busy-tag");
  layer.onMessage(retransmission, udpFlow());
  EXPECT_EQ(client.responses.size(), 1u);
  ASSERT_EQ(sender.sent.size(), 3u);
  EXPECT_EQ(sender.sent[2].data, sender.sent[1].data);
  EXPECT_EQ(layer.stats().retransmissionsAbsorbed, 1u);

  // Timer D (32 s on UDP) ends it; no timeout is reported.
  advance(31999);
  EXPECT_NE(layer.clientFlow(tx), nullptr);
  advance(1);
  EXPECT_EQ(layer.clientFlow(tx), nullptr);
  EXPECT_TRUE(client.timeouts.empty());
  layer.onMessage(retransmission, udpFlow());
  EXPECT_EQ(user.strays.size(), 1u);
}

TEST_F(ClientInvite, TwoHundredEntersAcceptedAndPassesRetransmissionsUntilTimerM) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  const auto sent = layer.clientRequest(tx)->clone();
  const std::string ok = responseTo(*sent, 200, "callee-1");
  layer.onMessage(ok, udpFlow());
  ASSERT_EQ(client.responses.size(), 1u);
  EXPECT_EQ(layer.clientRequest(tx), nullptr);  // Accepted keeps no request
  EXPECT_EQ(sender.sent.size(), 1u);            // the TU, not the transaction, ACKs a 2xx

  advance(1000);
  EXPECT_EQ(sender.sent.size(), 1u);                               // Timer A stopped
  layer.onMessage(ok, udpFlow());                                  // retransmission
  layer.onMessage(responseTo(*sent, 200, "callee-2"), udpFlow());  // a fork
  layer.onMessage(responseTo(*sent, 486, "callee-3"), udpFlow());  // absorbed
  ASSERT_EQ(client.responses.size(), 3u);
  EXPECT_EQ(client.responses[1].toTag, "callee-1");
  EXPECT_EQ(client.responses[2].toTag, "callee-2");

  advance(32000 - 1000 - 1);  // Timer M = 64*T1 from the first 2xx
  EXPECT_NE(layer.clientFlow(tx), nullptr);
  advance(1);
  EXPECT_EQ(layer.clientFlow(tx), nullptr);
  layer.onMessage(ok, udpFlow());
  EXPECT_EQ(client.responses.size(), 3u);
  EXPECT_EQ(user.strays.size(), 1u);
}

TEST_F(ClientInvite, ReliableTransportHasNoTimerAAndNoTimerD) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), tcpFlow(7), client);
  EXPECT_EQ(timers.pending(), 1u);  // Timer B only
  advance(10000);
  EXPECT_EQ(sender.sent.size(), 1u);
  layer.onMessage(responseTo(*layer.clientRequest(tx), 603), tcpFlow(7));
  EXPECT_EQ(client.responses.size(), 1u);
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.last()->method(), Method::Ack);
  EXPECT_EQ(layer.clientFlow(tx), nullptr);  // Timer D is 0
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(ClientInvite, ReliableTransportStillTimesOutOnTimerB) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), tcpFlow(7), client);
  advance(32000);
  EXPECT_EQ(client.timeouts, std::vector<TransactionId>{tx});
  EXPECT_EQ(sender.sent.size(), 1u);
}

TEST_F(ClientInvite, RefusedSendIsReportedAfterSendRequestReturns) {
  sender.refuse = true;
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  ASSERT_NE(tx, 0u);
  EXPECT_TRUE(client.transportErrors.empty());
  advance(0);
  EXPECT_EQ(client.transportErrors, std::vector<TransactionId>{tx});
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(ClientInvite, RetransmissionFailureIsATransportError) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  sender.refuse = true;
  advance(500);
  EXPECT_EQ(client.transportErrors, std::vector<TransactionId>{tx});
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
}

TEST_F(ClientInvite, CancelIsItsOwnTransactionOnTheSameBranch) {
  const TransactionId invite = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  layer.onMessage(responseTo(*layer.clientRequest(invite), 180), udpFlow());

  const Message& original = *layer.clientRequest(invite);
  RequestSpec spec;
  spec.method = "CANCEL";
  spec.branch = std::string(original.topVia()->branch());
  spec.viaSentBy = "198.51.100.1:5060";
  RecordingClientUser cancelUser;
  const TransactionId cancel =
      layer.sendRequest(request(spec), *layer.clientFlow(invite), cancelUser);
  ASSERT_NE(cancel, 0u);
  EXPECT_NE(cancel, invite);

  layer.onMessage(responseTo(*layer.clientRequest(cancel), 200), udpFlow());
  layer.onMessage(responseTo(*layer.clientRequest(invite), 487), udpFlow());
  ASSERT_EQ(cancelUser.responses.size(), 1u);
  EXPECT_EQ(cancelUser.responses[0].status, 200);
  ASSERT_EQ(client.responses.size(), 2u);
  EXPECT_EQ(client.responses[1].status, 487);
}

TEST_F(ClientInvite, SameBranchAndMethodIsRefused) {
  auto first = outgoing("INVITE");
  auto second = parse(first->serialize());
  EXPECT_NE(layer.sendRequest(std::move(first), udpFlow(), client), 0u);
  EXPECT_EQ(layer.sendRequest(std::move(second), udpFlow(), client), 0u);
  EXPECT_EQ(layer.stats().clientTransactions, 1u);
}

TEST_F(ClientInvite, DetachedTransactionRunsWithoutItsUser) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  layer.detach(tx);
  layer.onMessage(responseTo(*layer.clientRequest(tx), 404), udpFlow());
  EXPECT_TRUE(client.responses.empty());
  EXPECT_EQ(sender.last()->method(), Method::Ack);  // the machine still ran
}

TEST_F(ClientInvite, ClosedConnectionIsATransportError) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), tcpFlow(7), client);
  const TransactionId other = layer.sendRequest(outgoing("INVITE"), tcpFlow(8), client);
  layer.onConnectionClosed(7);
  EXPECT_EQ(client.transportErrors, std::vector<TransactionId>{tx});
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  EXPECT_NE(layer.clientRequest(other), nullptr);
}

TEST_F(ClientInvite, ConnectionLearntFromTheResponseCountsForClosure) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), tcpFlow(0), client);
  layer.onMessage(responseTo(*layer.clientRequest(tx), 100), tcpFlow(42));
  EXPECT_EQ(layer.clientFlow(tx)->connection, 42u);
  layer.onConnectionClosed(42);
  EXPECT_EQ(client.transportErrors, std::vector<TransactionId>{tx});
}

TEST_F(ClientInvite, AsynchronousSendFailureIsATransportError) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), tcpFlow(0, "192.0.2.20"), client);
  const TransactionId other = layer.sendRequest(outgoing("INVITE"), tcpFlow(0), client);
  layer.onSendFailed(tcpFlow(0, "192.0.2.20"));
  EXPECT_EQ(client.transportErrors, std::vector<TransactionId>{tx});
  EXPECT_NE(layer.clientRequest(other), nullptr);
}

// A failed connect fails what waited for that destination on no particular
// connection, and what was bound to the connection it names; not transactions
// to other destinations, nor ones that learnt an open connection meanwhile.
// Datagram transports report nothing asynchronously.
TEST_F(ClientInvite, SendFailureFailsOnlyWhatWaitedForThatDestination) {
  const TransactionId a1 = layer.sendRequest(outgoing("INVITE"), tcpFlow(0, "192.0.2.20"), client);
  const TransactionId a2 = layer.sendRequest(outgoing("INVITE"), tcpFlow(0, "192.0.2.20"), client);
  const TransactionId learnt =
      layer.sendRequest(outgoing("INVITE"), tcpFlow(0, "192.0.2.20"), client);
  layer.onMessage(responseTo(*layer.clientRequest(learnt), 100), tcpFlow(42, "192.0.2.20"));
  const TransactionId bound =
      layer.sendRequest(outgoing("INVITE"), tcpFlow(7, "192.0.2.20"), client);
  const TransactionId elsewhere =
      layer.sendRequest(outgoing("INVITE"), tcpFlow(0, "192.0.2.30"), client);
  const TransactionId datagram =
      layer.sendRequest(outgoing("INVITE"), udpFlow("192.0.2.20", 49152), client);

  layer.onSendFailed(udpFlow("192.0.2.20", 49152));
  EXPECT_TRUE(client.transportErrors.empty());
  layer.onSendFailed(tcpFlow(0, "192.0.2.20"));
  EXPECT_EQ(client.transportErrors, (std::vector<TransactionId>{a1, a2}));
  layer.onSendFailed(tcpFlow(7, "192.0.2.20"));
  EXPECT_EQ(client.transportErrors, (std::vector<TransactionId>{a1, a2, bound}));
  layer.onSendFailed(tcpFlow(0, "192.0.2.20"));  // nothing left waiting
  EXPECT_EQ(client.transportErrors.size(), 3u);
  for (const TransactionId alive : {learnt, elsewhere, datagram})
    EXPECT_NE(layer.clientRequest(alive), nullptr) << alive;
}

TEST_F(ClientInvite, UserMayStartTransactionsFromItsCallback) {
  TransactionId second = 0;
  client.onResponseHook = [&](TransactionId tx, const Message&) {
    if (second == 0) {
      second = layer.sendRequest(outgoing("INVITE"), *layer.clientFlow(tx), client);
    }
  };
  for (int i = 0; i < 50; ++i)
    layer.sendRequest(outgoing("OPTIONS"), udpFlow(), client);
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  layer.onMessage(responseTo(*layer.clientRequest(tx), 486), udpFlow());
  EXPECT_NE(second, 0u);
  EXPECT_NE(layer.clientRequest(second), nullptr);
  EXPECT_NE(layer.clientFlow(tx), nullptr);  // Completed, Timer D running
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
}

TEST_F(ClientInvite, CompletedResendsTheSameAckForEveryRetransmittedFinal) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  const std::string busy = responseTo(*layer.clientRequest(tx), 486, "busy-tag");
  layer.onMessage(busy, udpFlow());
  ASSERT_EQ(sender.sent.size(), 2u);
  const std::string ack = sender.sent[1].data;
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  for (const long at : {100, 5000, 31000}) {
    advance(at - elapsed());
    layer.onMessage(busy, udpFlow());
    EXPECT_EQ(sender.last()->method(), Method::Ack);
    EXPECT_EQ(sender.sent.back().data, ack);
  }
  EXPECT_EQ(sender.sent.size(), 5u);  // Timer A stopped: no request retransmission
  EXPECT_EQ(client.responses.size(), 1u);
  EXPECT_EQ(layer.stats().retransmissionsAbsorbed, 3u);
}

TEST_F(ClientInvite, AcceptedPassesEvery2xxToTheUserAfterReleasingTheRequest) {
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  const std::string ok = responseTo(*layer.clientRequest(tx), 200, "callee-1");
  layer.onMessage(ok, udpFlow());
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  for (const long at : {500, 4000, 31000}) {
    advance(at - elapsed());
    layer.onMessage(ok, udpFlow());
  }
  ASSERT_EQ(client.responses.size(), 4u);
  for (const auto& r : client.responses) {
    EXPECT_EQ(r.tx, tx);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.toTag, "callee-1");
  }
  EXPECT_EQ(sender.sent.size(), 1u);  // no ACK, no retransmission from the transaction
  EXPECT_TRUE(user.strays.empty());
}

TEST_F(ClientInvite, UserMayReadTheRequestWhileHandlingTheFinalResponse) {
  // A proxy or UAC handling a final response (e.g. a 407) may still read the
  // request; it is released only after onResponse returns.
  const TransactionId tx = layer.sendRequest(outgoing("INVITE"), udpFlow(), client);
  std::vector<bool> seen;
  client.onResponseHook = [&](TransactionId id, const Message&) {
    seen.push_back(layer.clientRequest(id) != nullptr);
  };
  const std::string challenge = responseTo(*layer.clientRequest(tx), 407);
  layer.onMessage(challenge, udpFlow());
  EXPECT_EQ(seen, std::vector<bool>{true});
  EXPECT_EQ(layer.clientRequest(tx), nullptr);
  EXPECT_NE(layer.clientFlow(tx), nullptr);
}

TEST_F(ClientInvite, DestroyingTheLayerCancelsItsTimers) {
  {
    TransactionLayer local(timers, sender, TimerConfig{});
    local.sendRequest(outgoing("INVITE"), udpFlow(), client);
    EXPECT_GT(timers.pending(), 0u);
  }
  EXPECT_EQ(timers.pending(), 0u);
  advance(64000);
}

}  // namespace
}  // namespace tandem::sip::testing
