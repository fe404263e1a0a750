#include "proxy/proxy.hpp"

#include "core/timer_service.hpp"
#include "registrar/authenticator.hpp"
#include "registrar/digest.hpp"
#include "registrar/registrar.hpp"
#include "sip/transaction/transaction_layer.hpp"
#include "support/sip_test_kit.hpp"

#include <gtest/gtest.h>

namespace tandem::proxy {
namespace {

using testkit::udpFrom;

// The whole SIP core on fake time and a recording transport: requests go in
// through TransactionLayer::onMessage, what Tandem sends is in sender_.sent.
class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest()
      : nonces_("secret", std::chrono::seconds(300), [this] { return now_; }),
        auth_("example.test", store_, nonces_),
        transactions_(timers_, sender_, {}),
        registrar_({"example.test", 60, 3600, 3600}, transactions_, auth_, store_,
                   [this] { return now_; }),
        proxy_({"example.test"}, transactions_, sender_, registrar_, auth_, store_, timers_) {
    store_.addUser("alice", "example.test", "alicepw");
    store_.addUser("bob", "example.test", "bobpw");
    store_.addUser("carol", "example.test", "carolpw");
    transactions_.setUser(&proxy_);
  }

  void bindBob(const std::string& contact, const char* ip, std::uint16_t port) {
    registrar::Binding b;
    b.aor = "bob@example.test";
    b.contact = contact;
    b.callId = "reg-" + contact;
    b.cseq = 1;
    b.expires = now_ + 3600;
    b.received = fmt::format("udp:{}:{}", ip, port);
    store_.putBinding(b);
    registrar_.load();
  }

  static std::string invite(const std::string& to, const std::string& extra = {},
                            const std::string& branch = "z9hG4bK-alice-1", int cseq = 1) {
    return fmt::format(
        "INVITE sip:{} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.10:5070;branch={}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.test>;tag=a1\r\n"
        "To: <sip:{}>\r\n"
        "Call-ID: call-1@127.0.0.10\r\n"
        "CSeq: {} INVITE\r\n"
        "Contact: <sip:alice@127.0.0.10:5070>\r\n"
        "{}"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 4\r\n\r\nv=0\n",
        to, branch, to, cseq, extra);
  }

  // Sends alice's INVITE, answers the 407, and returns the index in sent[]
  // after the authenticated INVITE went in.
  std::size_t authenticatedInvite(const std::string& to) {
    const auto before = sender_.sent.size();
    const auto first = fmt::format("z9hG4bK-alice-{}", ++calls_ * 2 - 1);
    const auto second = fmt::format("z9hG4bK-alice-{}", calls_ * 2);
    transactions_.onMessage(invite(to, {}, first), udpFrom("127.0.0.10", 5070));
    auto sent = sender_.messages(before);
    // The 407 alone: the proxy answered from inside onRequest(), so no
    // 100 Trying went first (RFC 3261 §17.2.1).
    EXPECT_EQ(sent.size(), 1u);
    if (sent.empty()) return sender_.sent.size();
    auto challenge = std::move(sent.back());
    EXPECT_EQ(challenge->status(), 407);
    // ACK the 407 (same branch, absorbed by the transaction).
    transactions_.onMessage(
        "ACK sip:" + to + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.10:5070;branch=" + first +
            "\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\nTo: <sip:" +
            to + ">;tag=" + std::string(challenge->to()->tag()) +
            "\r\nCall-ID: call-1@127.0.0.10\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        udpFrom("127.0.0.10", 5070));
    const auto answer =
        testkit::digestAnswer(std::string(challenge->first(sip::HeaderId::ProxyAuthenticate)),
                              "alice", "alicepw", "INVITE", "sip:" + to);
    const auto mark = sender_.sent.size();
    transactions_.onMessage(invite(to, "Proxy-Authorization: " + answer + "\r\n", second, 2),
                            udpFrom("127.0.0.10", 5070));
    return mark;
  }

  // Sends `status` for the forwarded request `req` as the UAS at `from`.
  void respond(const sip::Message& req, int status, const char* ip, std::uint16_t port,
               const std::string& toTag) {
    auto response = sip::makeResponse(req, status, {}, status > 100 ? toTag : std::string());
    transactions_.onMessage(response->serialize(), udpFrom(ip, port));
  }

  // bob registers over a WebSocket (connection 42) and is bound to it.
  sip::Flow registerBobOverWebSocket() {
    registrar::Binding b;
    b.aor = "bob@example.test";
    b.contact = "sip:k3l2j@df7jal23ls0d.invalid;transport=ws";
    b.callId = "ws-reg";
    b.cseq = 1;
    b.expires = now_ + 600;
    b.received = "ws:127.0.0.30:40123";
    store_.putBinding(b);
    registrar_.load();
    // (load() drops WebSocket bindings; this one is re-made as if just registered.)
    EXPECT_TRUE(registrar_.lookup("bob@example.test").empty());
    sip::Flow ws;
    ws.transport = sip::Transport::Ws;
    ws.remote = testkit::endpoint("127.0.0.30", 40123);
    ws.local = testkit::endpoint("127.0.0.1", 8080);
    ws.connection = 42;
    const auto challenge = [&] {
      transactions_.onMessage(
          "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/WS "
          "df7jal23ls0d.invalid;branch=z9hG4bK-w1\r\n"
          "Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=w\r\nTo: <sip:bob@example.test>\r\n"
          "Call-ID: ws-reg\r\nCSeq: 1 REGISTER\r\n"
          "Contact: <sip:k3l2j@df7jal23ls0d.invalid;transport=ws>\r\nContent-Length: 0\r\n\r\n",
          ws);
      return sender_.last();
    }();
    EXPECT_EQ(challenge->status(), 401);
    EXPECT_EQ(sender_.sent.back().to.connection, 42u);
    const auto answer =
        testkit::digestAnswer(std::string(challenge->first(sip::HeaderId::WwwAuthenticate)), "bob",
                              "bobpw", "REGISTER", "sip:example.test");
    transactions_.onMessage(
        "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/WS "
        "df7jal23ls0d.invalid;branch=z9hG4bK-w2\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=w\r\nTo: <sip:bob@example.test>\r\n"
        "Call-ID: ws-reg\r\nCSeq: 2 REGISTER\r\nAuthorization: " +
            answer +
            "\r\nContact: <sip:k3l2j@df7jal23ls0d.invalid;transport=ws>\r\nContent-Length: "
            "0\r\n\r\n",
        ws);
    EXPECT_EQ(sender_.last()->status(), 200);

    return ws;
  }

  // alice calls bob (registered over `ws`), who answers 200 with the
  // Record-Route echoed; returns the INVITE as forwarded to bob.
  std::unique_ptr<sip::Message> callAnsweredByBrowserBob(const sip::Flow& ws) {
    const auto mark = authenticatedInvite("bob@example.test");
    std::unique_ptr<sip::Message> forwarded;
    for (std::size_t i = mark; i < sender_.sent.size(); ++i) {
      auto m = sender_.sent[i].parse();
      if (m->isRequest() && m->method() == sip::Method::Invite) forwarded = std::move(m);
    }
    if (!forwarded) return nullptr;
    auto ok = sip::makeResponse(*forwarded, 200, {}, "bobtag");
    ok->appendHeader(sip::HeaderId::Contact, "<sip:k3l2j@df7jal23ls0d.invalid;transport=ws>");
    for (auto rr : forwarded->values(sip::HeaderId::RecordRoute))
      ok->appendHeader(sip::HeaderId::RecordRoute, std::string(rr));
    transactions_.onMessage(ok->serialize(), ws);
    return forwarded;
  }

  int calls_ = 0;
  std::int64_t now_ = 1'700'000'000;
  core::FakeTimerService timers_;
  testkit::RecordingSender sender_;
  testkit::MemoryStore store_;
  registrar::NonceManager nonces_;
  registrar::Authenticator auth_;
  sip::TransactionLayer transactions_;
  registrar::Registrar registrar_;
  Proxy proxy_;
};

TEST_F(ProxyTest, OptionsToTheServerIsAnswered) {
  transactions_.onMessage(
      "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.10:5070;branch=z9hG4bK-o\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:ping@127.0.0.10>;tag=p\r\nTo: <sip:127.0.0.1:5060>\r\n"
      "Call-ID: opt@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
      udpFrom("127.0.0.10", 5070));
  auto r = sender_.last();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 200);
  EXPECT_TRUE(r->has(sip::HeaderId::Allow));
}

// The first REGISTER of a registration, with no credentials, is answered
// without a transaction (RFC 3261 §8.2.7); its retransmission gets a new
// challenge, and the credentials then go through a transaction as usual.
TEST_F(ProxyTest, RegisterWithoutCredentialsIsChallengedStatelessly) {
  const auto registerText = [](const std::string& branch, int cseq, const std::string& extra) {
    return fmt::format(
        "REGISTER sip:example.test SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.10:5070;branch={};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=r1\r\n"
        "To: <sip:alice@example.test>\r\nCall-ID: reg-1@127.0.0.10\r\nCSeq: {} REGISTER\r\n"
        "Contact: <sip:alice@127.0.0.10:5070>\r\nExpires: 600\r\n{}Content-Length: 0\r\n\r\n",
        branch, cseq, extra);
  };
  transactions_.onMessage(registerText("z9hG4bK-r1", 1, ""), udpFrom("127.0.0.10", 6000));
  transactions_.onMessage(registerText("z9hG4bK-r1", 1, ""), udpFrom("127.0.0.10", 6000));
  auto sent = sender_.messages();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]->status(), 401);
  EXPECT_EQ(sent[1]->status(), 401);
  // A fresh nonce each time: no state remembered the first answer.
  EXPECT_NE(sent[0]->first(sip::HeaderId::WwwAuthenticate),
            sent[1]->first(sip::HeaderId::WwwAuthenticate));
  // Routed like a transaction's response: rport, to the source port.
  EXPECT_EQ(sender_.sent[0].to.remote, testkit::endpoint("127.0.0.10", 6000));
  EXPECT_EQ(transactions_.stats().serverTransactions, 0u);
  EXPECT_EQ(transactions_.stats().statelessResponses, 2u);

  const auto answer =
      testkit::digestAnswer(std::string(sent[1]->first(sip::HeaderId::WwwAuthenticate)), "alice",
                            "alicepw", "REGISTER", "sip:example.test");
  transactions_.onMessage(registerText("z9hG4bK-r2", 2, "Authorization: " + answer + "\r\n"),
                          udpFrom("127.0.0.10", 6000));
  auto ok = sender_.last();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(transactions_.stats().serverTransactions, 0u);  // stateless too
  EXPECT_EQ(registrar_.bindingCount(), 1u);

  // A retransmission is processed again and answered the same way: 200, same
  // To tag, same binding; no 500 for the repeated CSeq, no stale challenge for
  // the repeated nonce-count.
  transactions_.onMessage(registerText("z9hG4bK-r2", 2, "Authorization: " + answer + "\r\n"),
                          udpFrom("127.0.0.10", 6000));
  auto again = sender_.last();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status(), 200);
  ASSERT_TRUE(ok->to() && again->to());
  EXPECT_FALSE(ok->to()->tag().empty());
  EXPECT_EQ(ok->to()->tag(), again->to()->tag());
  EXPECT_EQ(registrar_.bindingCount(), 1u);
  EXPECT_EQ(transactions_.stats().serverTransactions, 0u);

  // The same credentials in another request (a new branch: not a
  // retransmission) are a replay of the nonce-count: challenged with stale=true.
  transactions_.onMessage(registerText("z9hG4bK-r3", 2, "Authorization: " + answer + "\r\n"),
                          udpFrom("127.0.0.10", 6000));
  auto replay = sender_.last();
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status(), 401);
  EXPECT_NE(replay->first(sip::HeaderId::WwwAuthenticate).find("stale=true"), std::string::npos);
}

// A REGISTER with a Route to strip takes the ordinary, stateful path.
TEST_F(ProxyTest, RegisterWithRouteIsChallengedInATransaction) {
  transactions_.onMessage(
      "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.10:5070;branch=z9hG4bK-rr\r\n"
      "Route: <sip:127.0.0.1;lr>\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=r1\r\n"
      "To: <sip:alice@example.test>\r\nCall-ID: reg-2@x\r\nCSeq: 1 REGISTER\r\n"
      "Contact: <sip:alice@127.0.0.10:5070>\r\nContent-Length: 0\r\n\r\n",
      udpFrom("127.0.0.10", 5070));
  auto r = sender_.last();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 401);
  EXPECT_EQ(transactions_.stats().statelessResponses, 0u);
  EXPECT_EQ(transactions_.stats().serverTransactions, 1u);
}

TEST_F(ProxyTest, InviteFromLocalUserIsChallengedWith407) {
  transactions_.onMessage(invite("bob@example.test"), udpFrom("127.0.0.10", 5070));
  auto sent = sender_.messages();
  // No 100 Trying: the 407 left at once (RFC 3261 §17.2.1).
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]->status(), 407);
  EXPECT_NE(sent[0]->first(sip::HeaderId::ProxyAuthenticate).find("MD5"), std::string_view::npos);
}

TEST_F(ProxyTest, UnknownUserGets404AndUnregisteredUser480) {
  auto mark = authenticatedInvite("nobody@example.test");
  EXPECT_EQ(sender_.messages(mark).back()->status(), 404);
  mark = authenticatedInvite("carol@example.test");
  EXPECT_EQ(sender_.messages(mark).back()->status(), 480);
}

TEST_F(ProxyTest, ForeignDomainIsRefusedWithoutEvenAChallenge) {
  transactions_.onMessage(invite("someone@elsewhere.test"), udpFrom("127.0.0.10", 5070));
  EXPECT_EQ(sender_.last()->status(), 403);
  EXPECT_EQ(proxy_.stats().requestsForwarded, 0u);
}

TEST_F(ProxyTest, MaxForwardsZeroGets483) {
  auto text = invite("bob@example.test");
  text.replace(text.find("Max-Forwards: 70"), 16, "Max-Forwards: 0");
  // From a foreign domain, so no authentication is needed to reach bob.
  text.replace(text.find("alice@example.test"), 18, "alice@far.test");
  bindBob("sip:bob@127.0.0.20:5080", "127.0.0.20", 5080);
  transactions_.onMessage(text, udpFrom("127.0.0.10", 5070));
  EXPECT_EQ(sender_.last()->status(), 483);
}

// A browser registered over a WebSocket (RFC 7118) is reached only down that
// connection; the transport change gets two Record-Route entries.
TEST_F(ProxyTest, CallToAWebSocketUserGoesDownItsConnection) {
  registerBobOverWebSocket();
  const auto mark = authenticatedInvite("bob@example.test");
  const sip::Flow* to = nullptr;
  std::unique_ptr<sip::Message> forwarded;
  for (std::size_t i = mark; i < sender_.sent.size(); ++i) {
    auto m = sender_.sent[i].parse();
    if (m->isRequest() && m->method() == sip::Method::Invite) {
      to = &sender_.sent[i].to;
      forwarded = std::move(m);
    }
  }
  ASSERT_TRUE(forwarded);
  EXPECT_EQ(to->transport, sip::Transport::Ws);
  EXPECT_EQ(to->connection, 42u);
  EXPECT_EQ(forwarded->requestUriText(), "sip:k3l2j@df7jal23ls0d.invalid;transport=ws");
  EXPECT_EQ(forwarded->topVia()->transport, "WS");
  // Double record-routing: the entry facing bob names his connection in a
  // flow token; the one facing alice (UDP) needs none.
  const auto rr = forwarded->values(sip::HeaderId::RecordRoute);
  ASSERT_EQ(rr.size(), 2u);
  EXPECT_TRUE(rr[0].starts_with("<sip:ft-w2a-")) << rr[0];
  EXPECT_TRUE(rr[0].ends_with("@127.0.0.1:8080;transport=ws;lr>")) << rr[0];
  EXPECT_EQ(rr[1], "<sip:127.0.0.1:5060;lr>");
  const std::string bobToken(rr[0].substr(1, rr[0].size() - 2));

  // alice's BYE (her route set is the Record-Route reversed) reaches bob's
  // connection by the token, although its Request-URI is a *.invalid host.
  const auto bye = [&](const std::string& routes, const std::string& branch) {
    transactions_.onMessage(
        "BYE sip:k3l2j@df7jal23ls0d.invalid;transport=ws SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.10:5070;branch=" +
            branch + "\r\n" + routes +
            "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\n"
            "To: <sip:bob@example.test>;tag=b1\r\nCall-ID: call-1@127.0.0.10\r\nCSeq: 3 BYE\r\n"
            "Content-Length: 0\r\n\r\n",
        udpFrom("127.0.0.10", 5070));
    return sender_.last();
  };
  auto byeOut = bye("Route: <sip:127.0.0.1:5060;lr>, <" + bobToken + ">\r\n", "z9hG4bK-bye1");
  ASSERT_TRUE(byeOut && byeOut->isRequest());
  EXPECT_EQ(sender_.sent.back().to.connection, 42u);
  EXPECT_EQ(sender_.sent.back().to.transport, sip::Transport::Ws);
  EXPECT_FALSE(byeOut->has(sip::HeaderId::Route));  // both our entries removed

  // The WebSocket closes: bob is gone, and a new call finds no one; an
  // in-dialog request for his flow gets 430 Flow Failed (RFC 5626 §5.3).
  registrar_.onConnectionClosed(42);
  sender_.closedConnections.push_back(42);
  EXPECT_TRUE(registrar_.lookup("bob@example.test").empty());
  auto failed = bye("Route: <sip:127.0.0.1:5060;lr>, <" + bobToken + ">\r\n", "z9hG4bK-bye2");
  ASSERT_TRUE(failed && !failed->isRequest());
  EXPECT_EQ(failed->status(), 430);
}

// A browser's WebSocket closes during a call: the other party gets a BYE in
// the browser's name (its To tag, a higher CSeq), and the dialog is gone.
TEST_F(ProxyTest, CallsOfAClosedWebSocketEndWithAByeToTheOtherParty) {
  const sip::Flow ws = registerBobOverWebSocket();
  const auto forwarded = callAnsweredByBrowserBob(ws);
  ASSERT_TRUE(forwarded);
  ASSERT_EQ(sender_.last()->status(), 200);  // relayed to alice
  EXPECT_EQ(proxy_.dialogCount(), 1u);

  const auto before = sender_.sent.size();
  registrar_.onConnectionClosed(42);
  sender_.closedConnections.push_back(42);
  proxy_.onConnectionClosed(42);
  EXPECT_EQ(proxy_.dialogCount(), 0u);
  ASSERT_EQ(sender_.sent.size(), before + 1);
  auto bye = sender_.last();
  ASSERT_TRUE(bye->isRequest());
  EXPECT_EQ(bye->method(), sip::Method::Bye);
  EXPECT_EQ(bye->requestUriText(), "sip:alice@127.0.0.10:5070");
  EXPECT_EQ(sender_.sent.back().to.remote, testkit::endpoint("127.0.0.10", 5070));
  EXPECT_EQ(bye->from()->tag(), "bobtag");
  EXPECT_EQ(bye->to()->tag(), "a1");
  EXPECT_EQ(bye->callId(), "call-1@127.0.0.10");
  EXPECT_EQ(bye->cseq()->number, 1u);
  EXPECT_FALSE(bye->has(sip::HeaderId::Route));  // alice is next to us
  EXPECT_NE(bye->find("Reason"), nullptr);

  // A second close, or the other party's BYE later, finds nothing to do.
  proxy_.onConnectionClosed(42);
  EXPECT_EQ(sender_.sent.size(), before + 1);
}

// A BYE through the proxy ends the tracked dialog: closing the browser's
// socket afterwards sends nothing.
TEST_F(ProxyTest, ADialogEndedByByeIsForgotten) {
  const sip::Flow ws = registerBobOverWebSocket();
  const auto forwarded = callAnsweredByBrowserBob(ws);
  ASSERT_TRUE(forwarded);
  ASSERT_EQ(proxy_.dialogCount(), 1u);
  const auto rr = forwarded->values(sip::HeaderId::RecordRoute);
  transactions_.onMessage(
      "BYE sip:alice@127.0.0.10:5070 SIP/2.0\r\nVia: SIP/2.0/WS "
      "df7jal23ls0d.invalid;branch=z9hG4bK-b\r\n"
      "Route: " +
          std::string(rr[0]) + ", " + std::string(rr[1]) +
          "\r\n"
          "Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=bobtag\r\n"
          "To: <sip:alice@example.test>;tag=a1\r\nCall-ID: call-1@127.0.0.10\r\nCSeq: 5 BYE\r\n"
          "Content-Length: 0\r\n\r\n",
      ws);
  EXPECT_EQ(proxy_.dialogCount(), 0u);
  const auto before = sender_.sent.size();
  proxy_.onConnectionClosed(42);
  EXPECT_EQ(sender_.sent.size(), before);
}

// A flow token is signed: one that was tampered with names no connection, and
// the request is routed by its Request-URI as if the token were not there.
TEST_F(ProxyTest, ForgedFlowTokenIsIgnored) {
  transactions_.onMessage(
      "BYE sip:bob@127.0.0.20:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.10:5070;branch=z9hG4bK-f\r\n"
      "Route: <sip:ft-w2a-0011223344556677@127.0.0.1:8080;transport=ws;lr>\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\n"
      "To: <sip:bob@example.test>;tag=b1\r\nCall-ID: forged@x\r\nCSeq: 2 BYE\r\n"
      "Content-Length: 0\r\n\r\n",
      udpFrom("127.0.0.10", 5070));
  auto out = sender_.last();
  ASSERT_TRUE(out && out->isRequest());
  EXPECT_EQ(sender_.sent.back().to.transport, sip::Transport::Udp);
  EXPECT_EQ(sender_.sent.back().to.connection, 0u);
  EXPECT_EQ(sender_.sent.back().to.remote, testkit::endpoint("127.0.0.20", 5080));
}

TEST_F(ProxyTest, ForksToEveryBindingAndCancelsTheOthersOnA2xx) {
  bindBob("sip:bob@127.0.0.20:5080", "127.0.0.20", 5080);
  bindBob("sip:bob@127.0.0.21:5081", "127.0.0.21", 5081);
  const auto mark = authenticatedInvite("bob@example.test");
  auto sent = sender_.messages(mark);
  // 100 Trying upstream, one INVITE per binding.
  std::vector<std::unique_ptr<sip::Message>> branches;
  for (auto& m : sent) {
    if (m->isRequest() && m->method() == sip::Method::Invite) branches.push_back(std::move(m));
  }
  ASSERT_EQ(branches.size(), 2u);
  for (auto& b : branches) {
    EXPECT_EQ(b->maxForwards(), 69);
    EXPECT_EQ(b->values(sip::HeaderId::Via).size(), 2u);
    EXPECT_EQ(b->topVia()->host, "127.0.0.1");
    EXPECT_EQ(b->first(sip::HeaderId::RecordRoute), "<sip:127.0.0.1:5060;lr>");
  }
  EXPECT_EQ(branches[0]->requestUriText(), "sip:bob@127.0.0.20:5080");
  EXPECT_EQ(branches[1]->requestUriText(), "sip:bob@127.0.0.21:5081");

  // Both ring; the second answers.
  auto mark2 = sender_.sent.size();
  respond(*branches[0], 180, "127.0.0.20", 5080, "b1");
  respond(*branches[1], 180, "127.0.0.21", 5081, "b2");
  respond(*branches[1], 200, "127.0.0.21", 5081, "b2");
  auto after = sender_.messages(mark2);
  int ringing = 0, ok = 0, cancels = 0;
  for (auto& m : after) {
    if (m->isResponse() && m->status() == 180) {
      ++ringing;
      EXPECT_EQ(m->values(sip::HeaderId::Via).size(), 1u);  // ours removed
    }
    if (m->isResponse() && m->status() == 200) ++ok;
    if (m->isRequest() && m->method() == sip::Method::Cancel) {
      ++cancels;
      EXPECT_EQ(m->requestUriText(), "sip:bob@127.0.0.20:5080");
      EXPECT_EQ(m->topVia()->branch(), branches[0]->topVia()->branch());
    }
  }
  EXPECT_EQ(ringing, 2);
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(cancels, 1);
  EXPECT_EQ(proxy_.stats().callsAnswered, 1u);

  // The cancelled branch answers 487; nothing more goes upstream except the ACK downstream.
  auto mark3 = sender_.sent.size();
  respond(*branches[0], 487, "127.0.0.20", 5080, "b1");
  for (auto& m : sender_.messages(mark3)) {
    EXPECT_FALSE(m->isResponse()) << "a 487 after a 2xx must not go upstream";
  }
}

TEST_F(ProxyTest, BestResponseIsForwardedWhenAllBranchesFail) {
  bindBob("sip:bob@127.0.0.20:5080", "127.0.0.20", 5080);
  bindBob("sip:bob@127.0.0.21:5081", "127.0.0.21", 5081);
  const auto mark = authenticatedInvite("bob@example.test");
  std::vector<std::unique_ptr<sip::Message>> branches;
  for (auto& m : sender_.messages(mark)) {
    if (m->isRequest() && m->method() == sip::Method::Invite) branches.push_back(std::move(m));
  }
  ASSERT_EQ(branches.size(), 2u);
  auto mark2 = sender_.sent.size();
  respond(*branches[0], 486, "127.0.0.20", 5080, "b1");
  for (auto& m : sender_.messages(mark2))
    EXPECT_FALSE(m->isResponse() && m->status() >= 200);
  respond(*branches[1], 404, "127.0.0.21", 5081, "b2");
  std::vector<int> upstream;
  for (auto& m : sender_.messages(mark2)) {
    if (m->isResponse()) upstream.push_back(m->status());
  }
  // 404 and 486 are both 4xx; either is a valid choice, but exactly one goes up.
  ASSERT_EQ(upstream.size(), 1u);
  EXPECT_TRUE(upstream[0] == 486 || upstream[0] == 404);
}

TEST_F(ProxyTest, CancelFromTheCallerCancelsBranchesAndGets487) {
  bindBob("sip:bob@127.0.0.20:5080", "127.0.0.20", 5080);
  const auto mark = authenticatedInvite("bob@example.test");
  std::unique_ptr<sip::Message> branch;
  for (auto& m : sender_.messages(mark)) {
    if (m->isRequest() && m->method() == sip::Method::Invite) branch = std::move(m);
  }
  ASSERT_TRUE(branch);
  respond(*branch, 180, "127.0.0.20", 5080, "b1");
  auto mark2 = sender_.sent.size();
  transactions_.onMessage(
      "CANCEL sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP "
      "127.0.0.10:5070;branch=z9hG4bK-alice-2\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n"
      "Call-ID: call-1@127.0.0.10\r\nCSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n",
      udpFrom("127.0.0.10", 5070));
  std::unique_ptr<sip::Message> cancel;
  bool cancelOk = false;
  for (auto& m : sender_.messages(mark2)) {
    if (m->isResponse() && m->status() == 200 && m->cseqMethod() == sip::Method::Cancel)
      cancelOk = true;
    if (m->isRequest() && m->method() == sip::Method::Cancel) cancel = std::move(m);
  }
  EXPECT_TRUE(cancelOk);
  ASSERT_TRUE(cancel);
  auto mark3 = sender_.sent.size();
  respond(*branch, 487, "127.0.0.20", 5080, "b1");
  bool forwarded487 = false;
  for (auto& m : sender_.messages(mark3)) {
    if (m->isResponse() && m->status() == 487) forwarded487 = true;
  }
  EXPECT_TRUE(forwarded487);
}

TEST_F(ProxyTest, UnansweredBranchTimesOutWith408) {
  bindBob("sip:bob@127.0.0.20:5080", "127.0.0.20", 5080);
  const auto mark = authenticatedInvite("bob@example.test");
  (void)mark;
  timers_.advance(std::chrono::seconds(40));  // Timer B = 64*T1 = 32 s
  auto last = sender_.last();
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->isResponse());
  EXPECT_EQ(last->status(), 408);
}

TEST_F(ProxyTest, InDialogRequestFollowsTheRoute) {
  // A BYE from bob back to alice, routed through us.
  transactions_.onMessage(
      "BYE sip:alice@127.0.0.10:5070 SIP/2.0\r\nVia: SIP/2.0/UDP "
      "127.0.0.20:5080;branch=z9hG4bK-bye\r\n"
      "Route: <sip:127.0.0.1:5060;lr>\r\nMax-Forwards: 70\r\nFrom: "
      "<sip:bob@example.test>;tag=b1\r\n"
      "To: <sip:alice@example.test>;tag=a1\r\nCall-ID: call-1@127.0.0.10\r\nCSeq: 1 BYE\r\n"
      "Content-Length: 0\r\n\r\n",
      udpFrom("127.0.0.20", 5080));
  auto forwarded = sender_.last();
  ASSERT_TRUE(forwarded);
  ASSERT_TRUE(forwarded->isRequest());
  EXPECT_EQ(forwarded->method(), sip::Method::Bye);
  EXPECT_FALSE(forwarded->has(sip::HeaderId::Route));  // our entry removed
  EXPECT_EQ(sender_.sent.back().to.remote, testkit::endpoint("127.0.0.10", 5070));
  EXPECT_EQ(forwarded->maxForwards(), 69);
}

}  // namespace
}  // namespace tandem::proxy
