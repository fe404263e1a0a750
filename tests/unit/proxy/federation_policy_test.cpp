// The proxy's federation policy: the peer allow-list both ways, the TLS peer
// identity of a connection against a request's From (RFC 5922), and the 503
// that says why another domain could not be reached.
#include "core/jwt.hpp"
#include "core/timer_service.hpp"
#include "proxy/proxy.hpp"
#include "registrar/authenticator.hpp"
#include "registrar/digest.hpp"
#include "registrar/registrar.hpp"
#include "sip/transaction/transaction_layer.hpp"
#include "support/sip_test_kit.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <map>

namespace tandem::proxy {
namespace {

using testkit::udpFrom;

// Records like testkit::RecordingSender, and plays the transport's answers
// about TLS: peer identities per connection, why a destination failed.
class PolicySender final : public sip::TransportSender {
 public:
  testkit::RecordingSender recorded;
  std::map<sip::ConnectionId, std::vector<std::string>> identities;
  std::string failure;

  bool send(const sip::Flow& to, std::string data) override {
    return recorded.send(to, std::move(data));
  }
  std::optional<core::Endpoint> advertised(sip::Transport t) const override {
    return recorded.advertised(t);
  }
  std::string failureReason(const sip::Flow&) const override { return failure; }
  const std::vector<std::string>* tlsPeerIdentities(sip::ConnectionId id) const override {
    const auto it = identities.find(id);
    return it != identities.end() ? &it->second : nullptr;
  }
};

// Hands out one hop per lookup, when the test says so.
class FakeRouter final : public DomainRouter {
 public:
  std::vector<std::string> asked;  // the hosts looked up
  std::vector<std::function<void(Result)>> pending;
  void route(const sip::Uri& target, std::function<void(Result)> done) override {
    asked.emplace_back(target.host);
    pending.push_back(std::move(done));
  }
};

constexpr std::string_view kSecret = "federation-test-secret";

class FederationPolicyTest : public ::testing::Test {
 protected:
  FederationPolicyTest()
      : nonces_("secret", std::chrono::seconds(300), [this] { return now_; }),
        auth_("example.test", store_, nonces_),
        transactions_(timers_, sender_, {}),
        registrar_({"example.test", 60, 3600, 3600}, transactions_, auth_, store_,
                   [this] { return now_; }),
        proxy_(ProxyConfig{"example.test", {"b.test"}}, transactions_, sender_, registrar_, auth_,
               store_, timers_) {
    store_.addUser("alice", "example.test", "alicepw");
    store_.addUser("bob", "example.test", "bobpw");
    auth_.setJwtSecret(std::string(kSecret));
    transactions_.setUser(&proxy_);
    proxy_.setDomainRouter(&router_);
    registrar::Binding b;
    b.aor = "bob@example.test";
    b.contact = "sip:bob@127.0.0.20:5080";
    b.callId = "reg-bob";
    b.cseq = 1;
    b.expires = now_ + 3600;
    b.received = "udp:127.0.0.20:5080";
    store_.putBinding(b);
    registrar_.load();
  }
  ~FederationPolicyTest() override { proxy_.setDomainRouter(nullptr); }

  // An INVITE from `from` (a SIP URI without "sip:") to `to`; alice's carries
  // a bearer token, so it needs no challenge round.
  static std::string invite(const std::string& from, const std::string& to,
                            const std::string& transport = "UDP") {
    std::string credentials;
    if (from == "alice@example.test") {
      core::JwtClaims claims;
      claims.subject = "alice";
      claims.expiresAt = core::unixNow() + 600;
      credentials = "Proxy-Authorization: Bearer " + core::mintJwt(kSecret, claims) + "\r\n";
    }
    return fmt::format(
        "INVITE sip:{} SIP/2.0\r\nVia: SIP/2.0/{} 127.0.0.3:5061;branch=z9hG4bK-{}\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:{}>;tag=f1\r\nTo: <sip:{}>\r\n"
        "Call-ID: {}@policy\r\nCSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.3:5061>\r\n{}"
        "Content-Length: 0\r\n\r\n",
        to, transport, ++counter_, from, to, counter_, credentials);
  }

  static sip::Flow tlsFrom(sip::ConnectionId id) {
    sip::Flow f;
    f.transport = sip::Transport::Tls;
    f.remote = testkit::endpoint("127.0.0.3", 40000);
    f.local = testkit::endpoint("127.0.0.1", 5061);
    f.connection = id;
    return f;
  }

  // The last final response sent (status and reason), or {0, ""}.
  std::pair<int, std::string> lastFinal() const {
    for (auto i = sender_.recorded.sent.size(); i-- > 0;) {
      const auto m = sender_.recorded.sent[i].parse();
      if (m && m->isResponse() && m->status() >= 200)
        return {m->status(), std::string(m->reason())};
    }
    return {0, ""};
  }

  // Whether an INVITE went out to bob's contact.
  bool forwardedToBob() const {
    for (const auto& sent : sender_.recorded.sent) {
      const auto m = sent.parse();
      if (m && m->isRequest() && m->requestUriText() == "sip:bob@127.0.0.20:5080") return true;
    }
    return false;
  }

  static inline int counter_ = 0;
  std::int64_t now_ = 1'700'000'000;
  core::FakeTimerService timers_;
  PolicySender sender_;
  testkit::MemoryStore store_;
  registrar::NonceManager nonces_;
  registrar::Authenticator auth_;
  sip::TransactionLayer transactions_;
  registrar::Registrar registrar_;
  FakeRouter router_;
  Proxy proxy_;
};

TEST_F(FederationPolicyTest, CallsToDomainsThatAreNotPeersAreRefusedBeforeRouting) {
  transactions_.onMessage(invite("alice@example.test", "carol@c.test"),
                          udpFrom("127.0.0.10", 5070));
  EXPECT_EQ(lastFinal(), (std::pair<int, std::string>{
                             403, "Forbidden (federation with c.test is not allowed)"}));
  EXPECT_TRUE(router_.asked.empty());

  // A peer (in any case) is routed.
  transactions_.onMessage(invite("alice@example.test", "carol@B.Test"),
                          udpFrom("127.0.0.10", 5070));
  EXPECT_EQ(router_.asked, std::vector<std::string>{"B.Test"});
}

TEST_F(FederationPolicyTest, RequestsFromDomainsThatAreNotPeersAreRefused) {
  transactions_.onMessage(invite("mallory@c.test", "bob@example.test"), udpFrom("127.0.0.3", 5060));
  EXPECT_EQ(lastFinal(), (std::pair<int, std::string>{
                             403, "Forbidden (federation with c.test is not allowed)"}));
  EXPECT_FALSE(forwardedToBob());

  transactions_.onMessage(invite("carol@b.test", "bob@example.test"), udpFrom("127.0.0.3", 5060));
  EXPECT_TRUE(forwardedToBob());
}

// A connection whose client certificate proved b.test carries requests from
// b.test only (RFC 5922); without an identity, From decides alone.
TEST_F(FederationPolicyTest, TlsPeerIdentityMustNameTheFromDomain) {
  sender_.identities[7] = {"b.test"};
  transactions_.onMessage(invite("mallory@a.test", "bob@example.test", "TLS"), tlsFrom(7));
  EXPECT_EQ(lastFinal(), (std::pair<int, std::string>{
                             403,
                             "Forbidden (From domain a.test is not the TLS peer's domain "
                             "b.test)"}));
  EXPECT_FALSE(forwardedToBob());

  transactions_.onMessage(invite("carol@B.TEST", "bob@example.test", "TLS"), tlsFrom(7));
  EXPECT_TRUE(forwardedToBob());
}

TEST_F(FederationPolicyTest, UnreachableDomainGets503WithTheTransportsReason) {
  transactions_.onMessage(invite("alice@example.test", "carol@b.test"),
                          udpFrom("127.0.0.10", 5070));
  ASSERT_EQ(router_.pending.size(), 1u);
  DomainRouter::Result hop;
  sip::Flow flow;
  flow.transport = sip::Transport::Tls;
  flow.remote = testkit::endpoint("127.0.0.3", 5061);
  flow.tlsDomain = "b.test";
  hop.hops.push_back(flow);
  router_.pending.front()(hop);
  ASSERT_FALSE(sender_.recorded.sent.empty());
  EXPECT_EQ(sender_.recorded.sent.back().to, flow);  // the domain goes down with the hop

  sender_.failure = "TLS certificate of b.test does not match the domain: it names c.test";
  transactions_.onSendFailed(flow);
  EXPECT_EQ(lastFinal(),
            (std::pair<int, std::string>{
                503,
                "Service Unavailable (TLS certificate of b.test does not match the domain: it "
                "names c.test)"}));
}

// RFC 3263 §4.3: the targets of a domain are tried in order; a transport
// error, a 503 or a timeout without a response moves to the next one.
class FailoverTest : public FederationPolicyTest {
 protected:
  static sip::Flow target(const char* ip, sip::Transport t = sip::Transport::Tcp) {
    sip::Flow flow;
    flow.transport = t;
    flow.remote = testkit::endpoint(ip, 5060);
    return flow;
  }
  // Routes an INVITE from alice to carol@b.test to these targets.
  void callWithTargets(std::vector<sip::Flow> targets) {
    transactions_.onMessage(invite("alice@example.test", "carol@b.test"),
                            udpFrom("127.0.0.10", 5070));
    ASSERT_EQ(router_.pending.size(), 1u);
    DomainRouter::Result result;
    result.hops = std::move(targets);
    router_.pending.front()(result);
  }
  // The INVITEs sent so far, by destination.
  std::vector<sip::Flow> invitesSentTo() const {
    std::vector<sip::Flow> out;
    for (const auto& sent : sender_.recorded.sent) {
      const auto m = sent.parse();
      if (m && m->isRequest() && m->method() == sip::Method::Invite) out.push_back(sent.to);
    }
    return out;
  }
};

TEST_F(FailoverTest, ATransportErrorMovesToTheNextTarget) {
  const auto first = target("127.0.0.5");
  const auto second = target("127.0.0.3");
  callWithTargets({first, second});
  EXPECT_EQ(invitesSentTo(), std::vector<sip::Flow>{first});
  transactions_.onSendFailed(first);
  EXPECT_EQ(invitesSentTo(), (std::vector<sip::Flow>{first, second}));
  EXPECT_EQ(lastFinal().first, 0);  // still trying
  // The second answers: its response goes to the caller.
  const auto sent = sender_.recorded.sent.back().parse();
  auto ok = sip::makeResponse(*sent, 486, "Busy Here", "calleetag");
  transactions_.onMessage(ok->serialize(), second);
  EXPECT_EQ(lastFinal(), (std::pair<int, std::string>{486, "Busy Here"}));
}

TEST_F(FailoverTest, A503MovesOnAndTheLastFailureIsTheAnswer) {
  const auto first = target("127.0.0.5");
  const auto second = target("127.0.0.6");
  callWithTargets({first, second});
  const auto sent = sender_.recorded.sent.back().parse();
  transactions_.onMessage(sip::makeResponse(*sent, 503, "Overloaded", "t1")->serialize(), first);
  EXPECT_EQ(invitesSentTo(), (std::vector<sip::Flow>{first, second}));
  EXPECT_EQ(lastFinal().first, 0);
  sender_.failure = "connection refused";
  transactions_.onSendFailed(second);
  // Nothing left: our own 503 with the reason (a received 503 is never passed on).
  EXPECT_EQ(lastFinal(),
            (std::pair<int, std::string>{503, "Service Unavailable (connection refused)"}));
}

TEST_F(FailoverTest, AFinalFailureOtherThan503DoesNotMoveOn) {
  const auto first = target("127.0.0.5");
  callWithTargets({first, target("127.0.0.6")});
  const auto sent = sender_.recorded.sent.back().parse();
  transactions_.onMessage(sip::makeResponse(*sent, 404, "Not Found", "t1")->serialize(), first);
  EXPECT_EQ(invitesSentTo().size(), 1u);
  EXPECT_EQ(lastFinal(), (std::pair<int, std::string>{404, "Not Found"}));
}

// A target that answers nothing, not even 100 Trying, is given up after the
// failover timeout (5 s), without waiting for Timer B, and the next target
// gets the INVITE. If the first was only slow, its late 180 gets a CANCEL
// and does not reach the caller. The last target has no such limit: Timer B.
TEST_F(FailoverTest, ATargetSilentForTheFailoverTimeoutIsGivenUp) {
  const auto first = target("127.0.0.5", sip::Transport::Udp);
  const auto second = target("127.0.0.3", sip::Transport::Udp);
  callWithTargets({first, second});
  const auto toFirst = sender_.recorded.sent.back().parse();
  timers_.advance(std::chrono::milliseconds(4900));
  EXPECT_EQ(invitesSentTo().back(), first);  // retransmissions, still to the first
  timers_.advance(std::chrono::milliseconds(200));
  EXPECT_EQ(invitesSentTo().back(), second);
  EXPECT_EQ(lastFinal().first, 0);

  const auto sentBefore = sender_.recorded.sent.size();
  transactions_.onMessage(sip::makeResponse(*toFirst, 180, "Ringing", "late")->serialize(), first);
  std::vector<std::string> after;
  for (auto i = sentBefore; i < sender_.recorded.sent.size(); ++i) {
    const auto m = sender_.recorded.sent[i].parse();
    ASSERT_TRUE(m);
    after.push_back(m->isRequest() ? std::string(m->methodText()) + " to " +
                                         sender_.recorded.sent[i].to.remote.toString()
                                   : std::to_string(m->status()));
  }
  EXPECT_EQ(after, std::vector<std::string>{"CANCEL to 127.0.0.5:5060"});

  timers_.advance(std::chrono::seconds(33));  // the second's Timer B
  EXPECT_EQ(lastFinal().first, 408);
}

// A 408 the target sent is an answer: no failover (only our own timeout is).
TEST_F(FailoverTest, AReceived408DoesNotMoveOn) {
  const auto first = target("127.0.0.5");
  callWithTargets({first, target("127.0.0.6")});
  const auto sent = sender_.recorded.sent.back().parse();
  transactions_.onMessage(sip::makeResponse(*sent, 408, "Request Timeout", "t1")->serialize(),
                          first);
  EXPECT_EQ(invitesSentTo().size(), 1u);
  EXPECT_EQ(lastFinal().first, 408);
}

// Any response, even 100 Trying, proves the target alive: it keeps the call.
TEST_F(FailoverTest, ATargetThatAnswersIsNotGivenUp) {
  const auto first = target("127.0.0.5", sip::Transport::Udp);
  callWithTargets({first, target("127.0.0.3", sip::Transport::Udp)});
  const auto sent = sender_.recorded.sent.back().parse();
  timers_.advance(std::chrono::milliseconds(300));
  transactions_.onMessage(sip::makeResponse(*sent, 100, "Trying", "")->serialize(), first);
  timers_.advance(std::chrono::seconds(10));
  for (const auto& to : invitesSentTo())
    EXPECT_EQ(to, first);
  EXPECT_EQ(lastFinal().first, 0);
}

}  // namespace
}  // namespace tandem::proxy
