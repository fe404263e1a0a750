// The gateway's SIP user agent, driven message by message with virtual time:
// what it sends for each event, its 2xx retransmission and ACKs, CANCEL,
// forked answers, session timers (RFC 4028) and refusals.
#include "sip/dialog/user_agent.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace tandem::sip {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kOffer =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
constexpr std::string_view kAnswer =
    "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n";
constexpr std::string_view kNewOffer =
    "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=sendonly\r\n";

struct Event {
  std::string what;
  CallRef call = 0;
  int status = 0;
  std::string text;  // sdp, cause, body
  bool byRemote = false;
  std::uint64_t offer = 0;
};

class Recorder final : public UaObserver {
 public:
  std::vector<Event> events;
  void onRegistration(int status) override {
    events.push_back({"registration", 0, status, {}, false, 0});
  }
  void onIncomingCall(CallRef call, const Message& invite) override {
    events.push_back({"incoming", call, 0, std::string(invite.body()), false, 0});
  }
  void onProgress(CallRef call, int status, std::string_view, std::string_view sdp) override {
    events.push_back({"progress", call, status, std::string(sdp), false, 0});
  }
  void onAnswered(CallRef call, std::string_view sdp) override {
    events.push_back({"answered", call, 0, std::string(sdp), false, 0});
  }
  void onOffer(CallRef call, std::uint64_t offer, std::string_view sdp) override {
    events.push_back({"offer", call, 0, std::string(sdp), false, offer});
  }
  void onRenegotiated(CallRef call, std::string_view sdp) override {
    events.push_back({"renegotiated", call, 0, std::string(sdp), false, 0});
  }
  void onInfo(CallRef call, std::string_view, std::string_view body) override {
    events.push_back({"info", call, 0, std::string(body), false, 0});
  }
  void onEnded(CallRef call, EndCause cause, int status, std::string_view, bool byRemote) override {
    events.push_back({"ended", call, status, std::string(endCauseName(cause)), byRemote, 0});
  }
  void onMessage(const Message& m) override {
    events.push_back({"message", 0, 0, std::string(m.body()), false, 0});
  }
  int count(std::string_view what) const {
    int n = 0;
    for (const auto& e : events)
      n += e.what == what;
    return n;
  }
  const Event* last(std::string_view what) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->what == what) return &*it;
    return nullptr;
  }
};

class UserAgentTest : public ::testing::Test {
 protected:
  UserAgentTest() {
    UaConfig config;
    config.domain = "a.test";
    config.user = "alice";
    config.host = "abc.invalid";
    config.sessionExpires = 1800;
    config.minSessionExpires = 90;
    config.ringTimeout = 60s;
    ua = std::make_unique<UserAgent>(
        config, timers, [this](std::string text) { sent.push_back(std::move(text)); }, observer);
  }

  std::unique_ptr<Message> parsed(std::size_t i) const {
    auto r = Message::parse(sent.at(i));
    EXPECT_TRUE(r.ok()) << r.error << "\n" << sent.at(i);
    return std::move(r.message);
  }
  std::unique_ptr<Message> lastSent() const { return parsed(sent.size() - 1); }

  // A response to `request` as the far side (through the proxy) sends it.
  std::string respond(const Message& request, int status, std::string_view toTag = "bobtag",
                      std::string headers = {}, std::string_view body = {}) {
    auto r = makeResponse(request, status, {}, toTag);
    if (status >= 200 && status < 300 && request.method() == Method::Invite) {
      r->appendHeader(HeaderId::RecordRoute, "<sip:proxy2@127.0.0.1:5060;lr>");
      r->appendHeader(HeaderId::RecordRoute, "<sip:ft-w1-x@127.0.0.1:8080;transport=ws;lr>");
      r->appendHeader(HeaderId::Contact, "<sip:bob@10.0.0.2:5062>");
    }
    std::string_view lines = headers;
    while (!lines.empty()) {
      const auto eol = lines.find("\r\n");
      const auto line = lines.substr(0, eol);
      const auto colon = line.find(':');
      const auto id = headerIdFromName(line.substr(0, colon));
      std::string value(line.substr(colon + 2));
      if (id == HeaderId::Other) {
        r->appendHeader(std::string(line.substr(0, colon)), value);
      } else {
        r->appendHeader(id, value);
      }
      lines.remove_prefix(eol == std::string_view::npos ? lines.size() : eol + 2);
    }
    if (!body.empty()) r->setBody(std::string(body), "application/sdp");
    return r->serialize();
  }

  // An INVITE from bob to alice as the proxy delivers it.
  static std::string incomingInvite(std::string headers = {}, std::string_view body = kOffer,
                                    std::string_view branch = "z9hG4bKin1") {
    return fmt::format(
        "INVITE sip:alice@abc.invalid;transport=ws SIP/2.0\r\n"
        "Via: SIP/2.0/WS 127.0.0.1:8080;branch=z9hG4bKproxy1\r\n"
        "Via: SIP/2.0/UDP 10.0.0.2:5062;branch={}\r\n"
        "Record-Route: <sip:ft-w1-x@127.0.0.1:8080;transport=ws;lr>, <sip:p@127.0.0.1;lr>\r\n"
        "From: \"Bob\" <sip:bob@a.test>;tag=bobtag\r\nTo: <sip:alice@a.test>\r\n"
        "Call-ID: in-call-1\r\nCSeq: 10 INVITE\r\nContact: <sip:bob@10.0.0.2:5062>\r\n"
        "Max-Forwards: 69\r\n{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
        branch, headers, body.size(), body);
  }

  // An in-dialog request from bob for the call set up by incomingInvite()
  // and answered (our tag read from the 200).
  std::string fromBob(std::string_view method, int cseq, std::string headers = {},
                      std::string_view body = {}) {
    return fmt::format(
        "{} sip:alice@abc.invalid;transport=ws SIP/2.0\r\n"
        "Via: SIP/2.0/WS 127.0.0.1:8080;branch=z9hG4bKp{}{}\r\n"
        "From: \"Bob\" <sip:bob@a.test>;tag=bobtag\r\nTo: <sip:alice@a.test>;tag={}\r\n"
        "Call-ID: in-call-1\r\nCSeq: {} {}\r\nContact: <sip:bob@10.0.0.2:5062>\r\n"
        "Max-Forwards: 69\r\n{}{}Content-Length: {}\r\n\r\n{}",
        method, method, cseq, ourTag, cseq, method, headers,
        body.empty() ? "" : "Content-Type: application/sdp\r\n", body.size(), body);
  }

  // Sets up an answered incoming call (200 sent); returns its ref.
  CallRef answeredIncoming(std::string headers = {}) {
    ua->receive(incomingInvite(std::move(headers)));
    const CallRef call = observer.last("incoming")->call;
    EXPECT_TRUE(ua->answer(call, std::string(kAnswer)));
    auto ok = lastSent();
    EXPECT_EQ(ok->status(), 200);
    ourTag = std::string(ok->to()->tag());
    return call;
  }

  // Places a call and has it answered; returns its ref and the INVITE.
  CallRef answeredOutgoing(std::string okHeaders = {}) {
    const CallRef call = ua->call("bob", std::string(kOffer));
    auto invite = lastSent();
    ua->receive(respond(*invite, 200, "bobtag", std::move(okHeaders), kAnswer));
    return call;
  }

  core::FakeTimerService timers;
  std::vector<std::string> sent;
  Recorder observer;
  std::unique_ptr<UserAgent> ua;
  std::string ourTag;
};

TEST_F(UserAgentTest, OutgoingCallSendsAnInviteFromTheUserOverTheChannel) {
  const CallRef call = ua->call("bob", std::string(kOffer));
  ASSERT_NE(call, 0u);
  auto invite = lastSent();
  EXPECT_EQ(invite->method(), Method::Invite);
  EXPECT_EQ(invite->requestUriText(), "sip:bob@a.test");
  EXPECT_EQ(invite->topVia()->transport, "WS");
  EXPECT_EQ(invite->topVia()->host, "abc.invalid");
  EXPECT_TRUE(invite->topVia()->hasRfc3261Branch());
  EXPECT_EQ(invite->from()->uri.text, "sip:alice@a.test");
  EXPECT_FALSE(invite->from()->tag().empty());
  EXPECT_EQ(invite->first(HeaderId::Contact), "<sip:alice@abc.invalid;transport=ws>");
  EXPECT_EQ(invite->first(HeaderId::SessionExpires), "1800");
  EXPECT_EQ(invite->body(), kOffer);
}

TEST_F(UserAgentTest, TargetsAreUsersAddressesOrSipUris) {
  EXPECT_EQ(ua->targetUri("bob"), "sip:bob@a.test");
  EXPECT_EQ(ua->targetUri("bob@b.test"), "sip:bob@b.test");
  EXPECT_EQ(ua->targetUri("sips:bob@b.test"), "sips:bob@b.test");
  EXPECT_FALSE(ua->targetUri(""));
  EXPECT_FALSE(ua->targetUri("tel:+123"));
  EXPECT_FALSE(ua->targetUri("bob@"));
  EXPECT_FALSE(ua->targetUri("sip:bob@b.test?Subject=x"));
  EXPECT_EQ(ua->call("bad target with spaces@", std::string(kOffer)), 0u);
}

TEST_F(UserAgentTest, AnsweredCallIsAckedAlongTheReversedRecordRoute) {
  const CallRef call = ua->call("bob", std::string(kOffer));
  auto invite = lastSent();
  ua->receive(respond(*invite, 180));
  ASSERT_NE(observer.last("progress"), nullptr);
  EXPECT_EQ(observer.last("progress")->status, 180);
  ua->receive(respond(*invite, 200, "bobtag", {}, kAnswer));
  ASSERT_NE(observer.last("answered"), nullptr);
  EXPECT_EQ(observer.last("answered")->text, kAnswer);
  auto ack = lastSent();
  EXPECT_EQ(ack->method(), Method::Ack);
  EXPECT_EQ(ack->requestUriText(), "sip:bob@10.0.0.2:5062");
  const auto routes = ack->values(HeaderId::Route);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0], "<sip:ft-w1-x@127.0.0.1:8080;transport=ws;lr>");
  EXPECT_EQ(routes[1], "<sip:proxy2@127.0.0.1:5060;lr>");
  EXPECT_EQ(ack->cseq()->number, 1u);
  EXPECT_EQ(ack->to()->tag(), "bobtag");

  // A retransmitted 2xx gets the same ACK again; the observer hears nothing new.
  const auto before = sent.size();
  ua->receive(respond(*invite, 200, "bobtag", {}, kAnswer));
  ASSERT_EQ(sent.size(), before + 1);
  EXPECT_EQ(sent.back(), sent[before - 1]);
  EXPECT_EQ(observer.count("answered"), 1);
  EXPECT_TRUE(ua->hasCall(call));
}

TEST_F(UserAgentTest, ASecondForkThatAnswersIsAckedAndHungUp) {
  const CallRef call = ua->call("bob", std::string(kOffer));
  auto invite = lastSent();
  ua->receive(respond(*invite, 200, "fork1", {}, kAnswer));
  const auto before = sent.size();
  ua->receive(respond(*invite, 200, "fork2", {}, kAnswer));
  ASSERT_EQ(sent.size(), before + 2);
  auto ack = parsed(before);
  auto bye = parsed(before + 1);
  EXPECT_EQ(ack->method(), Method::Ack);
  EXPECT_EQ(ack->to()->tag(), "fork2");
  EXPECT_EQ(bye->method(), Method::Bye);
  EXPECT_EQ(bye->to()->tag(), "fork2");
  EXPECT_EQ(observer.count("answered"), 1);
  EXPECT_TRUE(ua->hasCall(call));
}

TEST_F(UserAgentTest, AFailureIsAckedOnTheInviteBranchAndEndsTheCall) {
  const CallRef call = ua->call("bob", std::string(kOffer));
  auto invite = lastSent();
  ua->receive(respond(*invite, 486));
  auto ack = lastSent();
  EXPECT_EQ(ack->method(), Method::Ack);
  EXPECT_EQ(ack->topVia()->branch(), invite->topVia()->branch());
  EXPECT_EQ(ack->to()->tag(), "bobtag");
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->text, "busy");
  EXPECT_EQ(observer.last("ended")->status, 486);
  EXPECT_TRUE(observer.last("ended")->byRemote);
  EXPECT_FALSE(ua->hasCall(call));
}

TEST_F(UserAgentTest, HangingUpBeforeTheAnswerCancelsAndA2xxThatCrossesIsByed) {
  const CallRef call = ua->call("bob", std::string(kOffer));
  auto invite = lastSent();
  ua->receive(respond(*invite, 180));
  ASSERT_TRUE(ua->hangup(call));
  auto cancel = lastSent();
  EXPECT_EQ(cancel->method(), Method::Cancel);
  EXPECT_EQ(cancel->topVia()->branch(), invite->topVia()->branch());
  EXPECT_EQ(cancel->cseq()->number, invite->cseq()->number);
  EXPECT_EQ(observer.count("ended"), 1);
  EXPECT_FALSE(observer.last("ended")->byRemote);
  // The callee answered before the CANCEL got there: ACK, then BYE.
  ua->receive(respond(*invite, 200, "bobtag", {}, kAnswer));
  auto bye = lastSent();
  EXPECT_EQ(bye->method(), Method::Bye);
  EXPECT_EQ(parsed(sent.size() - 2)->method(), Method::Ack);
  EXPECT_EQ(observer.count("ended"), 1);
  EXPECT_EQ(observer.count("answered"), 0);
}

TEST_F(UserAgentTest, AnUnansweredCallIsCancelledAtTheRingTimeout) {
  const CallRef call = ua->call("bob", std::string(kOffer));
  auto invite = lastSent();
  ua->receive(respond(*invite, 180));
  timers.advance(59s);
  EXPECT_EQ(observer.count("ended"), 0);
  timers.advance(1s);
  EXPECT_EQ(lastSent()->method(), Method::Cancel);
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->text, "timeout");
  // The 487 that follows is ACKed and reported no more.
  ua->receive(respond(*invite, 487));
  EXPECT_EQ(lastSent()->method(), Method::Ack);
  EXPECT_EQ(observer.count("ended"), 1);
  timers.advance(40s);
  EXPECT_FALSE(ua->hasCall(call));
}

TEST_F(UserAgentTest, IncomingCallRingsAndItsAnswerIsRetransmittedUntilAck) {
  ua->receive(incomingInvite());
  auto ringing = lastSent();
  EXPECT_EQ(ringing->status(), 180);
  EXPECT_FALSE(ringing->to()->tag().empty());
  ASSERT_NE(observer.last("incoming"), nullptr);
  const CallRef call = observer.last("incoming")->call;
  ASSERT_TRUE(ua->answer(call, std::string(kAnswer)));
  auto ok = lastSent();
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->to()->tag(), ringing->to()->tag());
  EXPECT_EQ(ok->body(), kAnswer);
  EXPECT_EQ(ok->first(HeaderId::Contact), "<sip:alice@abc.invalid;transport=ws>");
  // §12.1.1: the Record-Route of the INVITE, in order, in the 180 and the 200.
  const std::vector<std::string_view> rr{"<sip:ft-w1-x@127.0.0.1:8080;transport=ws;lr>",
                                         "<sip:p@127.0.0.1;lr>"};
  EXPECT_EQ(ok->values(HeaderId::RecordRoute), rr);
  EXPECT_EQ(ringing->values(HeaderId::RecordRoute), rr);
  ourTag = std::string(ok->to()->tag());
  const auto okText = sent.back();
  // T1 = 500 ms: again at 0.5 s, then 1 s later, then 2 s later.
  timers.advance(499ms);
  EXPECT_EQ(sent.back(), okText);
  const auto n = sent.size();
  timers.advance(1ms);
  EXPECT_EQ(sent.size(), n + 1);
  EXPECT_EQ(sent.back(), okText);
  timers.advance(1000ms);
  EXPECT_EQ(sent.size(), n + 2);
  ua->receive(fromBob("ACK", 10));
  timers.advance(10s);
  EXPECT_EQ(sent.size(), n + 2);
  EXPECT_TRUE(ua->hasCall(call));
}

TEST_F(UserAgentTest, AnAnswerNeverAckedEndsTheCallWithBye) {
  const CallRef call = answeredIncoming();
  timers.advance(31s);
  EXPECT_EQ(observer.count("ended"), 0);
  timers.advance(2s);
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->text, "timeout");
  EXPECT_EQ(lastSent()->method(), Method::Bye);
  EXPECT_FALSE(ua->hasCall(call));
}

TEST_F(UserAgentTest, CancelOfARingingCallGets200And487) {
  ua->receive(incomingInvite());
  const CallRef call = observer.last("incoming")->call;
  ua->receive(
      "CANCEL sip:alice@abc.invalid;transport=ws SIP/2.0\r\n"
      "Via: SIP/2.0/WS 127.0.0.1:8080;branch=z9hG4bKproxy1\r\n"
      "From: \"Bob\" <sip:bob@a.test>;tag=bobtag\r\nTo: <sip:alice@a.test>\r\n"
      "Call-ID: in-call-1\r\nCSeq: 10 CANCEL\r\nMax-Forwards: 69\r\n"
      "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\nContent-Length: 0\r\n\r\n");
  ASSERT_GE(sent.size(), 2u);
  EXPECT_EQ(parsed(sent.size() - 2)->status(), 200);
  EXPECT_EQ(parsed(sent.size() - 2)->cseqMethod(), Method::Cancel);
  EXPECT_EQ(lastSent()->status(), 487);
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->text, "answered_elsewhere");
  EXPECT_FALSE(ua->answer(call, std::string(kAnswer)));
}

TEST_F(UserAgentTest, AnUnknownCancelGets481) {
  ua->receive(
      "CANCEL sip:alice@abc.invalid SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKnone\r\n"
      "From: <sip:bob@a.test>;tag=x\r\nTo: <sip:alice@a.test>\r\nCall-ID: nope\r\n"
      "CSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(lastSent()->status(), 481);
}

TEST_F(UserAgentTest, ByeFromTheFarSideEndsTheCall) {
  const CallRef call = answeredIncoming();
  ua->receive(fromBob("ACK", 10));
  ua->receive(fromBob("BYE", 11));
  EXPECT_EQ(lastSent()->status(), 200);
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->text, "hangup");
  EXPECT_TRUE(observer.last("ended")->byRemote);
  EXPECT_FALSE(ua->hasCall(call));
}

TEST_F(UserAgentTest, ARequestOutOfOrderGets500) {
  answeredIncoming();
  ua->receive(fromBob("ACK", 10));
  ua->receive(fromBob("INFO", 12));
  EXPECT_EQ(lastSent()->status(), 200);
  ua->receive(fromBob("INFO", 11));
  EXPECT_EQ(lastSent()->status(), 500);
}

TEST_F(UserAgentTest, UnsupportedRequiredExtensionGets420AndANonSdpBody415) {
  ua->receive(incomingInvite("Require: 100rel\r\n"));
  EXPECT_EQ(lastSent()->status(), 420);
  EXPECT_EQ(lastSent()->first(HeaderId::Unsupported), "100rel");
  auto text = incomingInvite({}, "<xml/>", "z9hG4bKin2");
  text.replace(text.find("application/sdp"), 15, "application/xml");
  ua->receive(text);
  EXPECT_EQ(lastSent()->status(), 415);
  EXPECT_EQ(lastSent()->first(HeaderId::Accept), "application/sdp");
  EXPECT_EQ(observer.count("incoming"), 0);
}

// RFC 3261 §13.2.1: an INVITE without SDP; our 2xx offers, the ACK answers.
TEST_F(UserAgentTest, ALateOfferIsAnsweredInTheAck) {
  ua->receive(incomingInvite({}, {}));
  ASSERT_NE(observer.last("incoming"), nullptr);
  EXPECT_TRUE(observer.last("incoming")->text.empty());
  const CallRef call = observer.last("incoming")->call;
  EXPECT_FALSE(ua->progress(call, std::string(kOffer)));  // no early media without 100rel
  ASSERT_TRUE(ua->answer(call, std::string(kOffer)));
  auto ok = lastSent();
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->body(), kOffer);
  ourTag = std::string(ok->to()->tag());
  EXPECT_EQ(observer.count("answered"), 0);
  ua->receive(fromBob("ACK", 10, {}, kAnswer));
  ASSERT_NE(observer.last("answered"), nullptr);
  EXPECT_EQ(observer.last("answered")->call, call);
  EXPECT_EQ(observer.last("answered")->text, kAnswer);
  // A retransmitted ACK is not a second answer.
  ua->receive(fromBob("ACK", 10, {}, kAnswer));
  EXPECT_EQ(observer.count("answered"), 1);
  EXPECT_TRUE(ua->hasCall(call));
  EXPECT_EQ(observer.count("ended"), 0);
}

// CSeq 0 is a valid sequence number (RFC 3261 §8.1.1.5): its ACK confirms
// the call and carries the answer like any other.
TEST_F(UserAgentTest, ALateOfferWithCseqZeroIsAnsweredInTheAck) {
  auto invite = incomingInvite({}, {});
  invite.replace(invite.find("CSeq: 10 "), 9, "CSeq: 0 ");
  ua->receive(invite);
  ASSERT_NE(observer.last("incoming"), nullptr);
  const CallRef call = observer.last("incoming")->call;
  ASSERT_TRUE(ua->answer(call, std::string(kOffer)));
  ourTag = std::string(lastSent()->to()->tag());
  ua->receive(fromBob("ACK", 0, {}, kAnswer));
  ASSERT_NE(observer.last("answered"), nullptr);
  EXPECT_EQ(observer.last("answered")->text, kAnswer);
}

TEST_F(UserAgentTest, ALateOfferWhoseAckHasNoAnswerIsEndedWithBye) {
  ua->receive(incomingInvite({}, {}));
  const CallRef call = observer.last("incoming")->call;
  ASSERT_TRUE(ua->answer(call, std::string(kOffer)));
  ourTag = std::string(lastSent()->to()->tag());
  ua->receive(fromBob("ACK", 10));
  EXPECT_EQ(lastSent()->method(), Method::Bye);
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->text, "rejected");
  EXPECT_EQ(observer.last("ended")->status, 488);
  EXPECT_EQ(observer.count("answered"), 0);
  EXPECT_FALSE(ua->hasCall(call));
}

TEST_F(UserAgentTest, AsUasWithTheCallerRefreshingTheSessionExpiresWithoutRefresh) {
  answeredIncoming("Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n");
  auto ok = lastSent();
  EXPECT_EQ(ok->first(HeaderId::SessionExpires), "90;refresher=uac");
  EXPECT_EQ(ok->first(HeaderId::Require), "timer");
  ua->receive(fromBob("ACK", 10));
  // A refresh (UPDATE without SDP) at 45 s restarts the interval.
  timers.advance(45s);
  ua->receive(fromBob("UPDATE", 11, "Session-Expires: 90;refresher=uac\r\nSupported: timer\r\n"));
  auto refreshed = lastSent();
  EXPECT_EQ(refreshed->status(), 200);
  EXPECT_EQ(refreshed->first(HeaderId::SessionExpires), "90;refresher=uac");
  // No further refresh: BYE at 90 - min(32, 90/3) = 60 s after it.
  timers.advance(59s);
  EXPECT_EQ(observer.count("ended"), 0);
  timers.advance(1s);
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->text, "session_expired");
  EXPECT_EQ(lastSent()->method(), Method::Bye);
}

TEST_F(UserAgentTest, AsUacRefresherItSendsUpdateAtHalfTheInterval) {
  answeredOutgoing("Session-Expires: 120;refresher=uac\r\nAllow: INVITE, ACK, BYE, UPDATE\r\n");
  const auto n = sent.size();
  timers.advance(59s);
  EXPECT_EQ(sent.size(), n);
  timers.advance(1s);
  ASSERT_EQ(sent.size(), n + 1);
  auto update = lastSent();
  EXPECT_EQ(update->method(), Method::Update);
  EXPECT_EQ(update->first(HeaderId::SessionExpires), "120;refresher=uac");
  EXPECT_TRUE(update->body().empty());
  ua->receive(respond(*update, 200, "bobtag", "Session-Expires: 120;refresher=uac\r\n"));
  timers.advance(60s);
  EXPECT_EQ(lastSent()->method(), Method::Update);
  EXPECT_EQ(observer.count("ended"), 0);
}

TEST_F(UserAgentTest, WithoutUpdateTheRefreshIsAReinviteRepeatingTheOffer) {
  answeredOutgoing("Session-Expires: 100;refresher=uac\r\nAllow: INVITE, ACK, BYE\r\n");
  timers.advance(50s);
  auto reinvite = lastSent();
  EXPECT_EQ(reinvite->method(), Method::Invite);
  EXPECT_EQ(reinvite->body(), kOffer);
  ua->receive(respond(*reinvite, 200, "bobtag", "Session-Expires: 100;refresher=uac\r\n", kAnswer));
  EXPECT_EQ(lastSent()->method(), Method::Ack);
  EXPECT_EQ(lastSent()->cseq()->number, reinvite->cseq()->number);
  EXPECT_EQ(observer.count("offer"), 0);
}

TEST_F(UserAgentTest, AReinviteRepeatingTheOfferIsAnsweredWithoutTheObserver) {
  const CallRef call = answeredIncoming();
  ua->receive(fromBob("ACK", 10));
  ua->receive(fromBob("INVITE", 11, {}, kOffer));
  auto ok = lastSent();
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->body(), kAnswer);
  EXPECT_EQ(observer.count("offer"), 0);
  ua->receive(fromBob("ACK", 11));

  // A new offer goes to the observer, whose answer goes in the 200.
  ua->receive(fromBob("INVITE", 12, {}, kNewOffer));
  ASSERT_NE(observer.last("offer"), nullptr);
  EXPECT_EQ(observer.last("offer")->text, kNewOffer);
  // A second offer while the first is open: 491 (RFC 3261 §14.2).
  ua->receive(fromBob("UPDATE", 13, {}, kNewOffer));
  EXPECT_EQ(lastSent()->status(), 491);
  ASSERT_TRUE(
      ua->answerOffer(call, observer.last("offer")->offer, 200, "v=0\r\no=- 2 3 IN IP4 x\r\n"));
  ok = lastSent();
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->cseq()->number, 12u);
  EXPECT_EQ(ok->body(), "v=0\r\no=- 2 3 IN IP4 x\r\n");
}

// A re-INVITE without an offer (§14.2): the 2xx offers the current local
// description, and the ACK's answer reaches the observer when it changes the
// session; one that repeats the previous answer, or no answer at all, leaves
// the session as it was.
TEST_F(UserAgentTest, AnOfferlessReinviteIsOfferedOurDescriptionAndItsAckAnswers) {
  const CallRef call = answeredIncoming();
  ua->receive(fromBob("ACK", 10));

  ua->receive(fromBob("INVITE", 11));
  auto ok = lastSent();
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->body(), kAnswer);               // what we answered last is now the offer
  ua->receive(fromBob("ACK", 11, {}, kOffer));  // the same version: a refresh
  EXPECT_EQ(observer.count("renegotiated"), 0);

  ua->receive(fromBob("INVITE", 12));
  ua->receive(fromBob("ACK", 12, {}, kNewOffer));
  ASSERT_NE(observer.last("renegotiated"), nullptr);
  EXPECT_EQ(observer.last("renegotiated")->call, call);
  EXPECT_EQ(observer.last("renegotiated")->text, kNewOffer);
  ua->receive(fromBob("ACK", 12, {}, kNewOffer));  // retransmitted: nothing new
  EXPECT_EQ(observer.count("renegotiated"), 1);

  ua->receive(fromBob("INVITE", 13));
  ua->receive(fromBob("ACK", 13));  // no answer at all: the session stays
  EXPECT_EQ(observer.count("renegotiated"), 1);
  EXPECT_TRUE(ua->hasCall(call));
  EXPECT_EQ(observer.count("ended"), 0);
  EXPECT_EQ(observer.count("offer"), 0);
}

TEST_F(UserAgentTest, OurReinviteReportsTheAnswer) {
  const CallRef call = answeredOutgoing();
  int status = 0;
  std::string body;
  ASSERT_TRUE(
      ua->reinvite(call, std::string(kNewOffer), [&](int s, std::string_view, std::string_view b) {
        status = s;
        body = std::string(b);
      }));
  auto reinvite = lastSent();
  EXPECT_EQ(reinvite->method(), Method::Invite);
  EXPECT_EQ(reinvite->cseq()->number, 2u);
  EXPECT_EQ(reinvite->to()->tag(), "bobtag");
  ua->receive(respond(*reinvite, 200, "bobtag", {}, kAnswer));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, kAnswer);
  EXPECT_EQ(lastSent()->method(), Method::Ack);
  EXPECT_EQ(lastSent()->cseq()->number, 2u);
}

TEST_F(UserAgentTest, A422IsRetriedOnceWithTheServersMinimum) {
  ua->call("bob", std::string(kOffer));
  auto invite = lastSent();
  ua->receive(respond(*invite, 422, "x", "Min-SE: 1900\r\n"));
  EXPECT_EQ(parsed(sent.size() - 2)->method(), Method::Ack);
  auto retry = lastSent();
  EXPECT_EQ(retry->method(), Method::Invite);
  EXPECT_EQ(retry->first(HeaderId::SessionExpires), "1900");
  EXPECT_EQ(retry->cseq()->number, 2u);
  EXPECT_NE(retry->topVia()->branch(), invite->topVia()->branch());
  EXPECT_EQ(observer.count("ended"), 0);
  ua->receive(respond(*retry, 422, "x", "Min-SE: 2000\r\n"));
  ASSERT_NE(observer.last("ended"), nullptr);
  EXPECT_EQ(observer.last("ended")->status, 422);
}

TEST_F(UserAgentTest, RegistersAndRefreshesAtHalfTheGrantedExpiry) {
  ua->registerBinding();
  auto reg = lastSent();
  EXPECT_EQ(reg->method(), Method::Register);
  EXPECT_EQ(reg->requestUriText(), "sip:a.test");
  EXPECT_EQ(reg->to()->uri.text, "sip:alice@a.test");
  ua->receive(
      respond(*reg, 200, "r", "Contact: <sip:alice@abc.invalid;transport=ws>;expires=300\r\n"));
  ASSERT_NE(observer.last("registration"), nullptr);
  EXPECT_EQ(observer.last("registration")->status, 200);
  const auto n = sent.size();
  timers.advance(149s);
  EXPECT_EQ(sent.size(), n);
  timers.advance(1s);
  EXPECT_EQ(lastSent()->method(), Method::Register);
  EXPECT_EQ(lastSent()->cseq()->number, reg->cseq()->number + 1);
  EXPECT_EQ(lastSent()->callId(), reg->callId());
}

TEST_F(UserAgentTest, ARequestWithNoAnswerTimesOutAs408) {
  int status = 0;
  ASSERT_TRUE(ua->message("bob", "text/plain", "hi",
                          [&](int s, std::string_view, std::string_view) { status = s; }));
  EXPECT_EQ(lastSent()->method(), Method::Message);
  timers.advance(32s);
  EXPECT_EQ(status, 408);
}

TEST_F(UserAgentTest, TerminateAllEndsEveryCallWithoutTellingTheObserver) {
  const CallRef out = ua->call("bob", std::string(kOffer));
  ua->receive(respond(*lastSent(), 180));
  const CallRef in = answeredIncoming();
  ua->receive(fromBob("ACK", 10));
  const auto n = sent.size();
  ua->terminateAll();
  ASSERT_EQ(sent.size(), n + 2);
  EXPECT_EQ(parsed(n)->method() == Method::Cancel || parsed(n + 1)->method() == Method::Cancel,
            true);
  EXPECT_EQ(parsed(n)->method() == Method::Bye || parsed(n + 1)->method() == Method::Bye, true);
  EXPECT_EQ(observer.count("ended"), 0);
  EXPECT_FALSE(ua->hasCall(out));
  EXPECT_FALSE(ua->hasCall(in));
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(SdpOrigin, FindsTheOriginLine) {
  EXPECT_EQ(sdpOrigin(kOffer), "o=- 1 1 IN IP4 127.0.0.1");
  EXPECT_EQ(sdpOrigin("v=0\no=x 1 2 IN IP4 h\n"), "o=x 1 2 IN IP4 h");
  EXPECT_EQ(sdpOrigin("v=0\r\n"), "");
}

TEST(EndCause, StatusesMapToTheirCauses) {
  EXPECT_EQ(causeForStatus(486), EndCause::Busy);
  EXPECT_EQ(causeForStatus(600), EndCause::Busy);
  EXPECT_EQ(causeForStatus(404), EndCause::NotFound);
  EXPECT_EQ(causeForStatus(480), EndCause::Unavailable);
  EXPECT_EQ(causeForStatus(603), EndCause::Declined);
  EXPECT_EQ(causeForStatus(408), EndCause::Timeout);
  EXPECT_EQ(causeForStatus(415), EndCause::Rejected);
  EXPECT_EQ(endCauseName(EndCause::NotFound), "not_found");
}

}  // namespace
}  // namespace tandem::sip
