// INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).

#include "test_support.hpp"

namespace tandem::sip::testing {
namespace {

class ServerInvite : public LayerTest {
 protected:
  ServerInvite() = default;
  explicit ServerInvite(TimerConfig config) : LayerTest(config) {}
  // Delivers the INVITE of `spec` and returns its transaction.
  TransactionId receiveInvite(const RequestSpec& spec = {}, const Flow& from = udpFlow()) {
    layer.onMessage(requestText(spec), from);
    EXPECT_FALSE(user.requests.empty());
    return user.requests.empty() ? 0 : user.requests.back().tx;
  }
  const Message& invite() const { return *user.requests.front().message; }
  std::unique_ptr<Message> response(int status, std::string_view tag = "uas-1") {
    return makeResponse(invite(), status, {}, tag);
  }
  static RequestSpec ackSpec(std::string toTag = "uas-1") {
    RequestSpec ack;
    ack.method = "ACK";
    ack.toTag = std::move(toTag);
    return ack;
  }
};

TEST_F(ServerInvite, SendsOneHundredTryingAtOnce) {
  const TransactionId tx = receiveInvite();
  EXPECT_NE(tx, 0u);
  EXPECT_EQ(invite().method(), Method::Invite);
  ASSERT_EQ(sender.sent.size(), 1u);
  const auto trying = sender.last();
  EXPECT_EQ(trying->status(), 100);
  EXPECT_EQ(trying->topVia()->branch(), "z9hG4bK-a1");
  EXPECT_EQ(trying->cseq()->method, "INVITE");
  EXPECT_EQ(sender.sent[0].to, udpFlow());
  EXPECT_EQ(layer.stats().serverTransactions, 1u);
}

// §17.2.1: no 100 Trying when the TU answers at once (from inside onRequest).
TEST_F(ServerInvite, NoTryingWhenTheUserAnswersAtOnce) {
  user.onRequestHook = [this](RecordingUser::Request& r) {
    layer.respond(r.tx, makeResponse(*r.message, 407, {}, "uas-1"));
  };
  receiveInvite();
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.last()->status(), 407);
  // A retransmission gets the 407 again, still no 100.
  layer.onMessage(requestText({}), udpFlow());
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.last()->status(), 407);
}

TEST_F(ServerInvite, TryingWhenTheUserAnswersLater) {
  user.onRequestHook = [this](RecordingUser::Request& r) {
    EXPECT_TRUE(sender.sent.empty());  // not yet: the TU may answer now
    (void)r;
  };
  const TransactionId tx = receiveInvite();
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.last()->status(), 100);
  layer.respond(tx, response(180));
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.last()->status(), 180);
}

TEST_F(ServerInvite, RetransmittedInviteGetsTheLastProvisionalAgain) {
  const TransactionId tx = receiveInvite();
  layer.onMessage(requestText({}), udpFlow());
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[1].data, sender.sent[0].data);  // 100 again

  layer.respond(tx, response(180));
  layer.onMessage(requestText({}), udpFlow());
  ASSERT_EQ(sender.sent.size(), 4u);
  EXPECT_EQ(sender.last()->status(), 180);
  EXPECT_EQ(sender.sent[3].data, sender.sent[2].data);
  EXPECT_EQ(user.requests.size(), 1u);  // never reaches the TU twice
  EXPECT_EQ(layer.stats().retransmissionsAbsorbed, 2u);
}

TEST_F(ServerInvite, Non2xxIsRetransmittedOnTimerGUntilTheAck) {
  const TransactionId tx = receiveInvite();
  sender.sent.clear();
  layer.respond(tx, response(486));
  advance(4000);
  // G = T1, doubling, capped at T2.
  EXPECT_EQ(sender.times(start), (std::vector<long>{0, 500, 1500, 3500}));
  for (const Sent& s : sender.sent)
    EXPECT_EQ(s.data, sender.sent[0].data);

  layer.onMessage(requestText({}), udpFlow());  // Completed: the INVITE gets the 486
  EXPECT_EQ(sender.sent.size(), 5u);
  EXPECT_EQ(sender.last()->status(), 486);

  layer.onMessage(requestText(ackSpec()), udpFlow());  // Confirmed
  EXPECT_EQ(user.requests.size(), 1u);                 // the ACK is absorbed
  advance(20000);
  EXPECT_EQ(sender.sent.size(), 5u);                // G and H stopped
  EXPECT_EQ(layer.stats().serverTransactions, 0u);  // Timer I (T4) passed long ago
  EXPECT_TRUE(user.gone.empty());
}

TEST_F(ServerInvite, TimerIAbsorbsAckRetransmissionsForT4) {
  const TransactionId tx = receiveInvite();
  layer.respond(tx, response(404));
  layer.onMessage(requestText(ackSpec()), udpFlow());
  advance(4999);
  layer.onMessage(requestText(ackSpec()), udpFlow());
  EXPECT_EQ(user.requests.size(), 1u);
  EXPECT_EQ(layer.stats().serverTransactions, 1u);
  advance(1);
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  // After Timer I an ACK matches nothing and goes to the TU like an ACK for a 2xx.
  layer.onMessage(requestText(ackSpec()), udpFlow());
  ASSERT_EQ(user.requests.size(), 2u);
  EXPECT_EQ(user.requests[1].tx, 0u);
}

TEST_F(ServerInvite, TimerHEndsTheTransactionWhenNoAckComes) {
  const TransactionId tx = receiveInvite();
  sender.sent.clear();
  layer.respond(tx, response(500));
  advance(31999);
  EXPECT_EQ(sender.times(start), (std::vector<long>{0, 500, 1500, 3500, 7500, 11500, 15500, 19500,
                                                    23500, 27500, 31500}));
  EXPECT_EQ(layer.stats().serverTransactions, 1u);
  advance(1);
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  EXPECT_TRUE(user.gone.empty());  // the TU sent its final response
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(ServerInvite, TwoHundredEntersAcceptedUntilTimerL) {
  const TransactionId tx = receiveInvite();
  layer.respond(tx, response(200));
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.last()->status(), 200);
  advance(2000);
  EXPECT_EQ(sender.sent.size(), 2u);  // the transaction never retransmits a 2xx

  layer.onMessage(requestText({}), udpFlow());  // a late INVITE: absorbed, nothing sent
  EXPECT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(user.requests.size(), 1u);

  layer.respond(tx, response(200));  // the TU retransmits its 2xx
  EXPECT_EQ(sender.sent.size(), 3u);
  layer.respond(tx, response(486));  // nothing but 2xx once Accepted
  EXPECT_EQ(sender.sent.size(), 3u);

  RequestSpec ack = ackSpec();
  ack.branch = "z9hG4bK-ack-for-2xx";  // §13.2.2.4: a new transaction
  layer.onMessage(requestText(ack), udpFlow());
  ASSERT_EQ(user.requests.size(), 2u);
  EXPECT_EQ(user.requests[1].tx, 0u);
  EXPECT_EQ(user.requests[1].message->method(), Method::Ack);

  advance(32000 - 2000 - 1);
  EXPECT_EQ(layer.stats().serverTransactions, 1u);
  advance(1);
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  layer.respond(tx, response(200));  // unknown now: ignored
  EXPECT_EQ(sender.sent.size(), 3u);
}

TEST_F(ServerInvite, AckMatchingAnAcceptedTransactionGoesToTheUser) {
  const TransactionId tx = receiveInvite();
  layer.respond(tx, response(200));
  layer.onMessage(requestText(ackSpec()), udpFlow());  // same branch as the INVITE
  ASSERT_EQ(user.requests.size(), 2u);
  EXPECT_EQ(user.requests[1].tx, 0u);
}

TEST_F(ServerInvite, AcceptedAfterAProvisionalAbsorbsInvitesAndPassesThe2xx) {
  const TransactionId tx = receiveInvite();
  layer.respond(tx, response(180));
  layer.respond(tx, response(200));
  ASSERT_EQ(sender.sent.size(), 3u);
  const std::string ok = sender.sent[2].data;
  for (const long at : {10, 4000, 31000}) {
    advance(at - elapsed());
    layer.onMessage(requestText({}), udpFlow());  // not answered with the 180 any more
    EXPECT_EQ(sender.sent.size(), 3u);
  }
  layer.respond(tx, response(200));  // the TU's 2xx retransmission, byte for byte
  ASSERT_EQ(sender.sent.size(), 4u);
  EXPECT_EQ(sender.sent[3].data, ok);
  EXPECT_EQ(sender.sent[3].to, udpFlow());
  layer.onMessage(requestText(ackSpec()), udpFlow());  // goes to the TU (RFC 6026 §8.7)
  ASSERT_EQ(user.requests.size(), 2u);
  EXPECT_EQ(user.requests[1].message->method(), Method::Ack);
  EXPECT_EQ(layer.stats().retransmissionsAbsorbed, 3u);
}

TEST_F(ServerInvite, ConfirmedAbsorbsInvitesAndAcksWithoutResending) {
  const TransactionId tx = receiveInvite();
  layer.respond(tx, response(486));
  layer.onMessage(requestText(ackSpec()), udpFlow());  // Confirmed
  const std::size_t sent = sender.sent.size();
  layer.onMessage(requestText({}), udpFlow());
  layer.onMessage(requestText(ackSpec()), udpFlow());
  EXPECT_EQ(sender.sent.size(), sent);
  EXPECT_EQ(user.requests.size(), 1u);
  EXPECT_EQ(layer.stats().serverTransactions, 1u);
}

TEST_F(ServerInvite, CancelAfterTheFinalResponseGets200WithTheResponsesToTag) {
  const TransactionId tx = receiveInvite();
  layer.respond(tx, response(200, "uas-9"));
  RequestSpec cancel;
  cancel.method = "CANCEL";
  layer.onMessage(requestText(cancel), udpFlow());
  const auto ok = sender.last();
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->cseq()->method, "CANCEL");
  EXPECT_EQ(ok->to()->tag(), "uas-9");  // §9.2
  EXPECT_TRUE(user.cancels.empty());    // too late to matter
}

TEST_F(ServerInvite, ReliableTransportHasNoTimerGAndNoTimerI) {
  const TransactionId tx = receiveInvite({}, tcpFlow(5));
  EXPECT_EQ(sender.sent[0].to, tcpFlow(5));
  layer.respond(tx, response(486));
  EXPECT_EQ(timers.pending(), 1u);  // Timer H only
  advance(10000);
  EXPECT_EQ(sender.sent.size(), 2u);
  layer.onMessage(requestText(ackSpec()), tcpFlow(5));
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  EXPECT_EQ(timers.pending(), 0u);
  EXPECT_EQ(user.requests.size(), 1u);
}

TEST_F(ServerInvite, ClosedConnectionForgetsTheTransaction) {
  const TransactionId tx = receiveInvite({}, tcpFlow(5));
  layer.onConnectionClosed(5);
  EXPECT_EQ(user.gone, std::vector<TransactionId>{tx});
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
  layer.respond(tx, response(200));
  EXPECT_EQ(sender.sent.size(), 1u);
}

TEST_F(ServerInvite, RefusedFinalResponseIsReportedLater) {
  const TransactionId tx = receiveInvite();
  sender.refuse = true;
  layer.respond(tx, response(486));
  EXPECT_TRUE(user.gone.empty());  // not from inside respond()
  advance(0);
  EXPECT_EQ(user.gone, std::vector<TransactionId>{tx});
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
}

// The default TimerConfig::trying (80 ms): the 100 Trying waits for the TU's
// own response and is sent only when none came in time.
class ServerInviteDelayedTrying : public ServerInvite {
 protected:
  ServerInviteDelayedTrying() : ServerInvite(TimerConfig{}) {}
};

TEST_F(ServerInviteDelayedTrying, TryingLeavesWhenTheUserIsSilentForTheDelay) {
  EXPECT_EQ(TimerConfig{}.trying.count(), 80);  // the documented default
  const TransactionId tx = receiveInvite();
  EXPECT_TRUE(sender.sent.empty());
  advance(79);
  EXPECT_TRUE(sender.sent.empty());
  advance(1);
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.last()->status(), 100);
  EXPECT_EQ(sender.last()->topVia()->branch(), "z9hG4bK-a1");
  EXPECT_EQ(sender.sent[0].to, udpFlow());
  advance(1000);
  EXPECT_EQ(sender.sent.size(), 1u);  // once
  // From now on a retransmission gets the last provisional, as always.
  layer.respond(tx, response(180));
  layer.onMessage(requestText({}), udpFlow());
  ASSERT_EQ(sender.sent.size(), 3u);
  EXPECT_EQ(sender.sent[2].data, sender.sent[1].data);
  EXPECT_EQ(sender.last()->status(), 180);
}

TEST_F(ServerInviteDelayedTrying, AProvisionalWithinTheDelayReplacesTheTrying) {
  const TransactionId tx = receiveInvite();
  advance(50);
  layer.respond(tx, response(180));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.last()->status(), 180);
  EXPECT_EQ(timers.pending(), 0u);  // the Trying timer went with it
  advance(1000);
  EXPECT_EQ(sender.sent.size(), 1u);
}

TEST_F(ServerInviteDelayedTrying, AFinalResponseWithinTheDelayReplacesTheTrying) {
  const TransactionId tx = receiveInvite();
  advance(10);
  layer.respond(tx, response(486));
  ASSERT_EQ(sender.sent.size(), 1u);
  advance(500);  // Timer G: the 486 again, never a 100
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[0].data, sender.sent[1].data);
  EXPECT_EQ(sender.last()->status(), 486);
}

TEST_F(ServerInviteDelayedTrying, ARetransmittedInviteGetsTheTryingAtOnce) {
  receiveInvite();
  advance(10);
  layer.onMessage(requestText({}), udpFlow());  // the client is already retransmitting
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.last()->status(), 100);
  advance(200);
  EXPECT_EQ(sender.sent.size(), 1u);  // not again from the timer
  layer.onMessage(requestText({}), udpFlow());
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[1].data, sender.sent[0].data);
  EXPECT_EQ(user.requests.size(), 1u);
}

TEST_F(ServerInviteDelayedTrying, StreamTransportsWaitToo) {
  receiveInvite({}, tcpFlow(5));
  EXPECT_TRUE(sender.sent.empty());
  advance(80);
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.last()->status(), 100);
  EXPECT_EQ(sender.sent[0].to, tcpFlow(5));
}

TEST_F(ServerInviteDelayedTrying, AClosedConnectionCancelsTheTrying) {
  const TransactionId tx = receiveInvite({}, tcpFlow(5));
  layer.onConnectionClosed(5);
  EXPECT_EQ(user.gone, std::vector<TransactionId>{tx});
  advance(1000);
  EXPECT_TRUE(sender.sent.empty());
  EXPECT_EQ(timers.pending(), 0u);
}

TEST_F(ServerInviteDelayedTrying, ARefusedTryingIsReportedLikeAnyResponse) {
  const TransactionId tx = receiveInvite();
  sender.refuse = true;
  advance(80);  // the Trying timer, then the Failure report it scheduled
  EXPECT_EQ(user.gone, std::vector<TransactionId>{tx});
  EXPECT_EQ(timers.pending(), 0u);
  EXPECT_EQ(layer.stats().serverTransactions, 0u);
}

}  // namespace
}  // namespace tandem::sip::testing
