#include "registrar/registrar.hpp"

#include "core/jwt.hpp"
#include "core/timer_service.hpp"
#include "registrar/authenticator.hpp"
#include "registrar/digest.hpp"
#include "sip/transaction/transaction_layer.hpp"
#include "support/sip_test_kit.hpp"

#include <gtest/gtest.h>

namespace tandem::registrar {
namespace {

using testkit::udpFrom;

class RegistrarTest : public ::testing::Test {
 protected:
  RegistrarTest()
      : nonces_("secret-for-tests", std::chrono::seconds(300), [this] { return now_; }),
        auth_("example.test", store_, nonces_),
        transactions_(timers_, sender_, {}),
        registrar_({"example.test", 60, 3600, 3600}, transactions_, auth_, store_,
                   [this] { return now_; }) {
    store_.addUser("alice", "example.test", "secret");
    transactions_.setUser(&tu_);
    tu_.registrar = &registrar_;
  }

  // A transaction user that hands every REGISTER to the registrar.
  struct Tu : sip::TransactionUser {
    Registrar* registrar = nullptr;
    void onRequest(sip::TransactionId tx, std::unique_ptr<sip::Message> req,
                   const sip::Flow& from) override {
      registrar->handleRegister(tx, *req, from);
    }
    void onCancel(sip::TransactionId, const sip::Message&) override {}
    void onStrayResponse(std::unique_ptr<sip::Message>, const sip::Flow&) override {}
    void onServerTransactionGone(sip::TransactionId) override {}
  };

  // Sends a REGISTER and returns the response Tandem sent back.
  std::unique_ptr<sip::Message> send(const std::string& extraHeaders, int cseq,
                                     const std::string& user = "alice") {
    const auto text = fmt::format(
        "REGISTER sip:example.test SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.9:5070;branch=z9hG4bK-{}-{}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:{}@example.test>;tag=abc\r\n"
        "To: <sip:{}@example.test>\r\n"
        "Call-ID: reg-{}@127.0.0.9\r\n"
        "CSeq: {} REGISTER\r\n"
        "{}"
        "Content-Length: 0\r\n\r\n",
        user, cseq, user, user, user, cseq, extraHeaders);
    const auto before = sender_.sent.size();
    transactions_.onMessage(text, from_);
    EXPECT_EQ(sender_.sent.size(), before + 1) << "one response expected for\n" << text;
    return sender_.last();
  }

  // Registers with credentials: the 401 first, then the authenticated retry.
  std::unique_ptr<sip::Message> registerWith(const std::string& headers, int& cseq,
                                             const std::string& user = "alice",
                                             const std::string& password = "secret") {
    auto challenge = send(headers, cseq++, user);
    EXPECT_EQ(challenge->status(), 401);
    const auto answer =
        testkit::digestAnswer(std::string(challenge->first(sip::HeaderId::WwwAuthenticate)), user,
                              password, "REGISTER", "sip:example.test");
    return send(headers + "Authorization: " + answer + "\r\n", cseq++, user);
  }

  sip::Flow from_ = udpFrom("127.0.0.9", 5070);  // where send() sends from
  std::int64_t now_ = 1'700'000'000;
  core::FakeTimerService timers_;
  testkit::RecordingSender sender_;
  testkit::MemoryStore store_;
  NonceManager nonces_;
  Authenticator auth_;
  sip::TransactionLayer transactions_;
  Tu tu_;
  Registrar registrar_;
};

TEST_F(RegistrarTest, ChallengesWithMd5FirstThenSha256) {
  auto response = send("Contact: <sip:alice@127.0.0.9:5070>\r\n", 1);
  ASSERT_EQ(response->status(), 401);
  const auto challenges = [&] {
    std::vector<std::string_view> v;
    for (const auto& h : response->headers())
      if (h.id == sip::HeaderId::WwwAuthenticate) v.push_back(h.value);
    return v;
  }();
  ASSERT_EQ(challenges.size(), 2u);
  EXPECT_NE(challenges[0].find("algorithm=MD5"), std::string_view::npos);
  EXPECT_NE(challenges[1].find("algorithm=SHA-256"), std::string_view::npos);
  EXPECT_NE(challenges[0].find("qop=\"auth\""), std::string_view::npos);
  EXPECT_FALSE(response->to()->tag().empty());
  EXPECT_EQ(registrar_.bindingCount(), 0u);
}

TEST_F(RegistrarTest, AuthenticatedRegisterBindsAndListsTheContact) {
  int cseq = 1;
  auto ok = registerWith("Contact: <sip:alice@127.0.0.9:5070>\r\nExpires: 600\r\n", cseq);
  ASSERT_EQ(ok->status(), 200);
  const auto contacts = ok->values(sip::HeaderId::Contact);
  ASSERT_EQ(contacts.size(), 1u);
  EXPECT_EQ(contacts[0], "<sip:alice@127.0.0.9:5070>;expires=600");
  auto found = registrar_.lookup("alice@example.test");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->contact, "sip:alice@127.0.0.9:5070");
  EXPECT_EQ(found[0]->received, "udp:127.0.0.9:5070");
  EXPECT_EQ(store_.bindings.size(), 1u);  // written through to the store
}

TEST_F(RegistrarTest, WrongPasswordAndUnknownUserGetTheSameChallenge) {
  int cseq = 1;
  auto wrong = registerWith("Contact: <sip:alice@127.0.0.9>\r\n", cseq, "alice", "nope");
  auto unknown = registerWith("Contact: <sip:mallory@127.0.0.9>\r\n", cseq, "mallory", "x");
  EXPECT_EQ(wrong->status(), 401);
  EXPECT_EQ(unknown->status(), 401);
  EXPECT_EQ(wrong->reason(), unknown->reason());
  EXPECT_EQ(wrong->values(sip::HeaderId::WwwAuthenticate).size(),
            unknown->values(sip::HeaderId::WwwAuthenticate).size());
  EXPECT_EQ(registrar_.bindingCount(), 0u);
  EXPECT_EQ(auth_.failures(), 2u);
}

TEST_F(RegistrarTest, TooShortExpiresGets423WithMinExpires) {
  int cseq = 1;
  auto response = registerWith("Contact: <sip:alice@127.0.0.9>;expires=10\r\n", cseq);
  ASSERT_EQ(response->status(), 423);
  EXPECT_EQ(response->first(sip::HeaderId::MinExpires), "60");
  EXPECT_EQ(registrar_.bindingCount(), 0u);
}

TEST_F(RegistrarTest, LongExpiresIsCutToTheMaximum) {
  int cseq = 1;
  auto response = registerWith("Contact: <sip:alice@127.0.0.9>\r\nExpires: 999999\r\n", cseq);
  ASSERT_EQ(response->status(), 200);
  EXPECT_EQ(response->values(sip::HeaderId::Contact)[0], "<sip:alice@127.0.0.9>;expires=3600");
}

TEST_F(RegistrarTest, SeveralContactsAreOrderedByQ) {
  int cseq = 1;
  auto response = registerWith(
      "Contact: <sip:alice@127.0.0.9:1>;q=0.1, <sip:alice@127.0.0.9:2>;q=0.9\r\n"
      "Contact: <sip:alice@127.0.0.9:3>\r\n",
      cseq);
  ASSERT_EQ(response->status(), 200);
  EXPECT_EQ(response->values(sip::HeaderId::Contact).size(), 3u);
  auto found = registrar_.lookup("alice@example.test");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0]->contact, "sip:alice@127.0.0.9:3");  // q absent = 1.0
  EXPECT_EQ(found[1]->contact, "sip:alice@127.0.0.9:2");
  EXPECT_EQ(found[2]->contact, "sip:alice@127.0.0.9:1");
}

TEST_F(RegistrarTest, QueryWithoutContactListsBindings) {
  int cseq = 1;
  ASSERT_EQ(registerWith("Contact: <sip:alice@127.0.0.9>\r\n", cseq)->status(), 200);
  auto query = registerWith("", cseq);
  ASSERT_EQ(query->status(), 200);
  EXPECT_EQ(query->values(sip::HeaderId::Contact).size(), 1u);
  EXPECT_EQ(registrar_.bindingCount(), 1u);
}

TEST_F(RegistrarTest, StarWithExpiresZeroRemovesAll) {
  int cseq = 1;
  ASSERT_EQ(
      registerWith("Contact: <sip:alice@127.0.0.9:1>, <sip:alice@127.0.0.9:2>\r\n", cseq)->status(),
      200);
  EXPECT_EQ(registrar_.bindingCount(), 2u);
  auto bad = registerWith("Contact: *\r\n", cseq);
  EXPECT_EQ(bad->status(), 400);  // '*' needs Expires: 0
  auto removed = registerWith("Contact: *\r\nExpires: 0\r\n", cseq);
  ASSERT_EQ(removed->status(), 200);
  EXPECT_FALSE(removed->has(sip::HeaderId::Contact));
  EXPECT_EQ(registrar_.bindingCount(), 0u);
  EXPECT_TRUE(store_.bindings.empty());
}

TEST_F(RegistrarTest, ExpiredBindingsAreNotReturnedAndArePurged) {
  int cseq = 1;
  ASSERT_EQ(registerWith("Contact: <sip:alice@127.0.0.9>;expires=60\r\n", cseq)->status(), 200);
  now_ += 61;
  EXPECT_TRUE(registrar_.lookup("alice@example.test").empty());
  registrar_.purgeExpired();
  EXPECT_EQ(registrar_.bindingCount(), 0u);
  EXPECT_TRUE(store_.bindings.empty());
}

TEST_F(RegistrarTest, BindingsSurviveARestartThroughTheStore) {
  int cseq = 1;
  ASSERT_EQ(registerWith("Contact: <sip:alice@127.0.0.9>\r\n", cseq)->status(), 200);
  Registrar again({"example.test", 60, 3600, 3600}, transactions_, auth_, store_,
                  [this] { return now_; });
  again.load();
  ASSERT_EQ(again.lookup("alice@example.test").size(), 1u);
}

// Refreshes that change only the expiry are not written while the stored row
// outlives half the new interval; a changed contact detail is written at once.
TEST_F(RegistrarTest, PureRefreshesSkipTheStoreUntilTheRowWouldLapse) {
  int cseq = 1;
  const std::string contact = "Contact: <sip:alice@127.0.0.9:5070>\r\nExpires: 600\r\n";
  ASSERT_EQ(registerWith(contact, cseq)->status(), 200);
  const auto key =
      std::make_pair(std::string("alice@example.test"), std::string("sip:alice@127.0.0.9:5070"));
  ASSERT_EQ(store_.bindings.count(key), 1u);
  const auto first = store_.bindings[key].expires;
  EXPECT_EQ(first, now_ + 600);

  now_ += 100;  // row lapses in 500 s > 300 s: not written
  ASSERT_EQ(registerWith(contact, cseq)->status(), 200);
  EXPECT_EQ(store_.bindings[key].expires, first);
  EXPECT_EQ(registrar_.lookup("alice@example.test")[0]->expires, now_ + 600);

  now_ += 250;  // row lapses in 250 s < 300 s: written
  ASSERT_EQ(registerWith(contact, cseq)->status(), 200);
  EXPECT_EQ(store_.bindings[key].expires, now_ + 600);

  now_ += 10;  // a new User-Agent is written at once
  ASSERT_EQ(registerWith(contact + "User-Agent: phone/2\r\n", cseq)->status(), 200);
  EXPECT_EQ(store_.bindings[key].userAgent, "phone/2");
  EXPECT_EQ(store_.bindings[key].expires, now_ + 600);

  // After a restart from the store, the binding is there with the stored expiry.
  Registrar again({"example.test", 60, 3600, 3600}, transactions_, auth_, store_,
                  [this] { return now_; });
  again.load();
  ASSERT_EQ(again.lookup("alice@example.test").size(), 1u);
  EXPECT_EQ(again.lookup("alice@example.test")[0]->expires, now_ + 600);
}

// RFC 7118: a browser's contact (*.invalid) is reachable only through its
// WebSocket; when that closes, the binding goes (it is never written to the store).
// A TCP contact stays bound: it can be reached by a new connection.
TEST_F(RegistrarTest, WebSocketBindingsGoWithTheirConnection) {
  const auto registerOver = [&](const sip::Flow& flow, const std::string& contact,
                                const std::string& auth, int cseq) {
    const auto text = fmt::format(
        "REGISTER sip:example.test SIP/2.0\r\n"
        "Via: SIP/2.0/{} h7kjh12s.invalid;branch=z9hG4bK-ws-{}\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=w\r\n"
        "To: <sip:alice@example.test>\r\nCall-ID: ws-{}@x\r\nCSeq: {} REGISTER\r\n"
        "Contact: <{}>\r\n{}Content-Length: 0\r\n\r\n",
        sip::transportName(flow.transport), cseq, contact, cseq, contact, auth);
    transactions_.onMessage(text, flow);
    return sender_.last();
  };
  const auto viaFlow = [](sip::Transport t, sip::ConnectionId id) {
    sip::Flow f = udpFrom("127.0.0.9", 40000 + static_cast<std::uint16_t>(id));
    f.transport = t;
    f.connection = id;
    return f;
  };
  const auto authenticate = [&](const sip::Flow& flow, const std::string& contact, int cseq) {
    auto challenge = registerOver(flow, contact, "", cseq);
    EXPECT_EQ(challenge->status(), 401);
    // Browsers (a WS/WSS top Via) get the MD5 challenge alone: their SIP
    // stacks keep only the last challenge header and know only MD5. Others
    // get SHA-256 as well.
    const bool browser =
        flow.transport == sip::Transport::Ws || flow.transport == sip::Transport::Wss;
    const auto challenges =
        std::count_if(challenge->headers().begin(), challenge->headers().end(),
                      [](const sip::Header& h) { return h.id == sip::HeaderId::WwwAuthenticate; });
    EXPECT_EQ(challenges, browser ? 1 : 2) << sip::transportName(flow.transport);
    EXPECT_NE(challenge->first(sip::HeaderId::WwwAuthenticate).find("algorithm=MD5"),
              std::string_view::npos);
    const auto answer =
        testkit::digestAnswer(std::string(challenge->first(sip::HeaderId::WwwAuthenticate)),
                              "alice", "secret", "REGISTER", "sip:example.test");
    return registerOver(flow, contact, "Authorization: " + answer + "\r\n", cseq + 1);
  };
  const auto ws = viaFlow(sip::Transport::Wss, 7);
  const auto tcp = viaFlow(sip::Transport::Tcp, 8);
  ASSERT_EQ(authenticate(ws, "sip:a1@h7kjh12s.invalid;transport=ws", 1)->status(), 200);
  ASSERT_EQ(authenticate(tcp, "sip:alice@127.0.0.9:5070;transport=tcp", 10)->status(), 200);
  ASSERT_EQ(registrar_.lookup("alice@example.test").size(), 2u);
  // Only the TCP binding has a row: the WebSocket one cannot outlive its
  // connection, so it is never written.
  ASSERT_EQ(store_.bindings.size(), 1u);

  registrar_.onConnectionClosed(7);
  auto left = registrar_.lookup("alice@example.test");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]->contact, "sip:alice@127.0.0.9:5070;transport=tcp");
  EXPECT_EQ(store_.bindings.size(), 1u);

  registrar_.onConnectionClosed(8);
  left = registrar_.lookup("alice@example.test");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]->source.connection, 0u);  // reached by a new connection now

  // A WebSocket binding in the store (written by an older version) is
  // dropped at load.
  ASSERT_EQ(
      authenticate(viaFlow(sip::Transport::Ws, 9), "sip:a2@x.invalid;transport=ws", 20)->status(),
      200);
  EXPECT_EQ(store_.bindings.size(), 1u);
  Binding old;
  old.aor = "alice@example.test";
  old.contact = "sip:a3@y.invalid;transport=ws";
  old.callId = "old";
  old.cseq = 1;
  old.expires = now_ + 600;
  old.received = "ws:127.0.0.9:40100";
  store_.putBinding(old);
  EXPECT_EQ(store_.bindings.size(), 2u);
  Registrar again({"example.test", 60, 3600, 3600}, transactions_, auth_, store_,
                  [this] { return now_; });
  again.load();
  EXPECT_EQ(again.lookup("alice@example.test").size(), 1u);
  EXPECT_EQ(store_.bindings.size(), 1u);
}

TEST_F(RegistrarTest, RegisteringSomeoneElsesAorIsForbidden) {
  store_.addUser("bob", "example.test", "bobpw");
  int cseq = 1;
  // alice authenticates but the To names bob.
  auto challenge = send("Contact: <sip:x@127.0.0.9>\r\n", cseq++, "bob");
  const auto answer =
      testkit::digestAnswer(std::string(challenge->first(sip::HeaderId::WwwAuthenticate)), "alice",
                            "secret", "REGISTER", "sip:example.test");
  auto response =
      send("Contact: <sip:x@127.0.0.9>\r\nAuthorization: " + answer + "\r\n", cseq++, "bob");
  EXPECT_EQ(response->status(), 403);
  EXPECT_EQ(registrar_.bindingCount(), 0u);
}

TEST_F(RegistrarTest, ReplayedNonceCountIsRejected) {
  int cseq = 1;
  auto challenge = send("Contact: <sip:alice@127.0.0.9>\r\n", cseq++);
  const auto answer =
      testkit::digestAnswer(std::string(challenge->first(sip::HeaderId::WwwAuthenticate)), "alice",
                            "secret", "REGISTER", "sip:example.test");
  const auto headers = "Contact: <sip:alice@127.0.0.9>\r\nAuthorization: " + answer + "\r\n";
  EXPECT_EQ(send(headers, cseq++)->status(), 200);
  auto replay = send(headers, cseq++);
  EXPECT_EQ(replay->status(), 401);
  EXPECT_NE(replay->first(sip::HeaderId::WwwAuthenticate).find("stale=true"),
            std::string_view::npos);
}

}  // namespace
}  // namespace tandem::registrar

namespace tandem::registrar {
namespace {

// RFC 8898 bearer tokens: a JWT HS256 signed with the site's secret, as
// "Authorization: Bearer <jwt>" (SIP.js, RFC 8898) or the bare token
// (JsSIP's authorization_jwt sends the string it was given).
TEST_F(RegistrarTest, BearerTokensSignedWithTheSharedSecretAuthenticate) {
  const std::string contact = "Contact: <sip:alice@127.0.0.9:5070>\r\n";
  const auto token = [](const std::string& secret, const std::string& sub, std::int64_t ttl) {
    core::JwtClaims claims;
    claims.subject = sub;
    claims.expiresAt = core::unixNow() + ttl;
    return core::mintJwt(secret, claims);
  };
  // Without a secret configured, tokens are not credentials.
  EXPECT_EQ(send(contact + "Authorization: Bearer " + token("s3cret", "alice", 600) + "\r\n", 1)
                ->status(),
            401);

  auth_.setJwtSecret("s3cret");
  auto ok = send(contact + "Authorization: Bearer " + token("s3cret", "alice", 600) + "\r\n", 2);
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(registrar_.lookup("alice@example.test").size(), 1u);
  EXPECT_EQ(
      send(contact + "Authorization: " + token("s3cret", "alice@example.test", 600) + "\r\n", 3)
          ->status(),
      200);

  // Expired, signed with another secret, or for a user in another realm: a
  // challenge, whose Bearer entry comes after the digest ones.
  for (const auto& bad : {token("s3cret", "alice", -120), token("other", "alice", 600),
                          token("s3cret", "alice@elsewhere.test", 600), std::string("a.b.c")}) {
    auto challenge = send(contact + "Authorization: Bearer " + bad + "\r\n", 4);
    ASSERT_EQ(challenge->status(), 401) << bad;
    std::vector<std::string_view> schemes;  // whole header lines (values() splits at commas)
    for (const auto& h : challenge->headers())
      if (h.id == sip::HeaderId::WwwAuthenticate) schemes.push_back(h.value);
    ASSERT_EQ(schemes.size(), 3u);
    EXPECT_TRUE(schemes[0].starts_with("Digest")) << schemes[0];
    EXPECT_EQ(schemes[2], "Bearer realm=\"example.test\"");
  }
  // A valid token for bob does not register alice.
  EXPECT_EQ(
      send(contact + "Authorization: Bearer " + token("s3cret", "bob", 600) + "\r\n", 5)->status(),
      403);
}

// A connection on which a REGISTER authenticated vouches for later requests
// on it (a browser logged in with a token cannot answer a digest challenge),
// until it closes; other connections do not share it.
TEST_F(RegistrarTest, AnAuthenticatedConnectionVouchesForItsLaterRequests) {
  sip::Flow ws;
  ws.transport = sip::Transport::Ws;
  ws.remote = testkit::endpoint("127.0.0.30", 40000);
  ws.connection = 7;
  from_ = ws;
  const std::string contact = "Contact: <sip:x1@abc.invalid;transport=ws>\r\n";
  int cseq = 1;
  ASSERT_EQ(registerWith(contact, cseq)->status(), 200);
  EXPECT_EQ(auth_.connectionUser(7) ? *auth_.connectionUser(7) : "", "alice");
  EXPECT_EQ(send(contact, cseq++)->status(), 200);  // a refresh without credentials
  // bob's REGISTER on alice's connection is not vouched for.
  store_.addUser("bob", "example.test", "bobpw");
  EXPECT_EQ(send(contact, cseq++, "bob")->status(), 401);

  from_.connection = 8;
  EXPECT_EQ(send(contact, cseq++)->status(), 401);
  from_.connection = 7;
  registrar_.onConnectionClosed(7);
  EXPECT_EQ(auth_.connectionUser(7), nullptr);
  EXPECT_EQ(send(contact, cseq++)->status(), 401);
}

TEST(ParseReceived, ReadsWhatTheRegistrarWritesAndRejectsTheRest) {
  const auto v4 = parseReceived("udp:127.0.0.9:5070");
  EXPECT_EQ(v4.transport, sip::Transport::Udp);
  EXPECT_EQ(v4.remote, testkit::endpoint("127.0.0.9", 5070));
  const auto v6 = parseReceived("tls:[::1]:5061");
  EXPECT_EQ(v6.transport, sip::Transport::Tls);
  EXPECT_EQ(v6.remote, testkit::endpoint("::1", 5061));
  for (const char* bad : {"", "udp", "udp:127.0.0.9", "sctp:127.0.0.9:5060", "udp:host:5060",
                          "udp:127.0.0.9:0", "udp:127.0.0.9:99999", "udp:127.0.0.9:50x"}) {
    EXPECT_EQ(parseReceived(bad).remote.port, 0) << bad;
  }
}

TEST_F(RegistrarTest, LoadedBindingsKnowWhereTheyRegisteredFrom) {
  int cseq = 1;
  ASSERT_EQ(registerWith("Contact: <sip:alice@127.0.0.9>\r\n", cseq)->status(), 200);
  Registrar again({"example.test", 60, 3600, 3600}, transactions_, auth_, store_,
                  [this] { return now_; });
  again.load();
  const auto found = again.lookup("alice@example.test");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->source.remote, testkit::endpoint("127.0.0.9", 5070));
  EXPECT_EQ(found[0]->source.transport, sip::Transport::Udp);
}

}  // namespace
}  // namespace tandem::registrar
