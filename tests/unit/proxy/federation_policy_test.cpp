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

}  // namespace
}  // namespace tandem::proxy
