#include "sip/message/message.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tandem::sip {
namespace {

constexpr std::string_view kInvite =
    "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.com>\r\n"
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

std::unique_ptr<Message> mustParse(std::string_view text) {
  ParseResult r = Message::parse(std::string(text));
  EXPECT_TRUE(r.ok()) << r.error << "\n" << text;
  return std::move(r.message);
}

std::string replaceAll(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

std::string errorOf(std::string text) {
  return Message::parse(std::move(text)).error;
}

TEST(MessageParse, Request) {
  auto m = mustParse(kInvite);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->isRequest());
  EXPECT_EQ(m->method(), Method::Invite);
  EXPECT_EQ(m->methodText(), "INVITE");
  EXPECT_EQ(m->requestUriText(), "sip:bob@biloxi.com");
  EXPECT_EQ(m->requestUri().user, "bob");
  EXPECT_EQ(m->version(), "SIP/2.0");
  EXPECT_EQ(m->headers().size(), 9u);
  EXPECT_EQ(m->callId(), "a84b4c76e66710@pc33.atlanta.com");
  EXPECT_EQ(m->maxForwards(), 70);
  EXPECT_EQ(m->cseq()->number, 314159u);
  EXPECT_EQ(m->cseqMethod(), Method::Invite);
  EXPECT_EQ(m->from()->tag(), "1928301774");
  EXPECT_EQ(m->to()->displayName, "Bob");
  EXPECT_EQ(m->topVia()->branch(), "z9hG4bK776asdhds");
  EXPECT_EQ(m->body(), "v=0\n");
  EXPECT_EQ(m->find("content-type")->value, "application/sdp");
  EXPECT_EQ(m->find("X-Nope"), nullptr);
  EXPECT_EQ(m->first(HeaderId::Route), "");
}

TEST(MessageParse, TopViaTransportReadsTheFirstViaOnly) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds", "UDP"},
      {"v: SIP/2.0/ws df7jal23ls0d.invalid;branch=z9hG4bK776asdhds", "ws"},
      {"Via: SIP / 2.0 / WSS a.invalid;branch=z9hG4bK776asdhds", "WSS"},
      {"Via: SIP/2.0/\r\n TCP a.example;branch=z9hG4bK776asdhds", "TCP"},
      {"Via: SIP/2.0/TLS a.example;branch=z9hG4bK1, SIP/2.0/UDP b.example;branch=z9hG4bK2", "TLS"},
  };
  for (const auto& [via, transport] : cases) {
    const auto text = replaceAll(std::string(kInvite),
                                 "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds", via);
    const auto m = mustParse(text);
    ASSERT_NE(m, nullptr) << via;
    EXPECT_EQ(m->topViaTransport(), transport) << via;
    EXPECT_EQ(m->topViaTransport(), m->topVia()->transport) << via;
  }
}

TEST(MessageParse, Response) {
  auto m = mustParse(
      "SIP/2.0 180 Ringing\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
      "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Content-Length: 0\r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->isResponse());
  EXPECT_EQ(m->status(), 180);
  EXPECT_EQ(m->reason(), "Ringing");
  EXPECT_EQ(m->cseqMethod(), Method::Invite);
  EXPECT_EQ(m->maxForwards(), -1);
}

TEST(MessageParse, CompactFormsAndFolding) {
  auto m = mustParse(
      "OPTIONS sip:carol@chicago.com SIP/2.0\r\n"
      "v: SIP/2.0/TCP a.example.com;branch=z9hG4bK1,\r\n"
      "   SIP/2.0/TCP b.example.com;branch=z9hG4bK2\r\n"
      "t: sip:carol@chicago.com\r\n"
      "f: <sip:x@y>;tag=1\r\n"
      "i: abc\r\n"
      "CSeq: 1\r\n\tOPTIONS\r\n"
      "k: path, outbound\r\n"
      "l: 0\r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->values(HeaderId::Via).size(), 2u);
  EXPECT_EQ(m->find(HeaderId::Via)->name, "v");
  EXPECT_EQ(m->callId(), "abc");
  EXPECT_EQ(m->cseq()->method, "OPTIONS");
  auto sup = m->values(HeaderId::Supported);
  ASSERT_EQ(sup.size(), 2u);
  EXPECT_EQ(sup[1], "outbound");
  // Views keep the folding as received.
  EXPECT_NE(m->first(HeaderId::Via).find("\r\n   "), std::string_view::npos);
}

TEST(MessageParse, LeniencyThatIsSafe) {
  // Leading CRLFs (RFC 3261 §7.5), bare LF line ends, no Content-Length (body
  // runs to the end), lowercase version.
  std::string text = "\r\n\r\n" + replaceAll(std::string(kInvite), "\r\n", "\n");
  text = replaceAll(text, "Content-Length: 4\n", "");
  text = replaceAll(text, "SIP/2.0\n", "sip/2.0\n");
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body(), "v=0\n");
  EXPECT_EQ(m->method(), Method::Invite);
}

TEST(MessageParse, ContentLength) {
  EXPECT_EQ(errorOf(replaceAll(std::string(kInvite), "Content-Length: 4", "Content-Length: 5")),
            "Content-Length exceeds body");
  EXPECT_EQ(errorOf(replaceAll(std::string(kInvite), "Content-Length: 4", "Content-Length: x")),
            "Bad Content-Length");
  EXPECT_EQ(
      errorOf(replaceAll(std::string(kInvite), "Content-Length: 4", "Content-Length: 99999999999")),
      "Bad Content-Length");
  // Extra bytes after the body are ignored (datagram rule).
  auto r =
      Message::parse(replaceAll(std::string(kInvite), "Content-Length: 4", "Content-Length: 2"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.message->body(), "v=");
}

TEST(MessageParse, MandatoryHeaders) {
  const std::string base(kInvite);
  EXPECT_EQ(errorOf(replaceAll(base, "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n", "")),
            "Missing Call-ID");
  EXPECT_EQ(errorOf(replaceAll(base, "CSeq: 314159 INVITE\r\n", "")), "Missing CSeq");
  EXPECT_EQ(errorOf(replaceAll(base, "To: Bob <sip:bob@biloxi.com>\r\n", "")), "Missing To");
  EXPECT_EQ(errorOf(replaceAll(base, "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n", "")),
            "Missing From");
  EXPECT_EQ(errorOf(replaceAll(
                base, "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n", "")),
            "Missing Via");
  // Max-Forwards is optional at parse time; the proxy checks it.
  EXPECT_EQ(errorOf(replaceAll(base, "Max-Forwards: 70\r\n", "")), "");
  EXPECT_EQ(errorOf(replaceAll(base, "Max-Forwards: 70", "Max-Forwards: seventy")),
            "Max-Forwards not a number");
  EXPECT_EQ(errorOf(replaceAll(base, "Max-Forwards: 70", "Max-Forwards: 256")),
            "Max-Forwards too large");
  EXPECT_EQ(errorOf(replaceAll(base, "CSeq: 314159 INVITE", "CSeq: 2147483648 INVITE")),
            "Bad CSeq header");
  EXPECT_EQ(errorOf(replaceAll(base, "CSeq: 314159 INVITE", "CSeq: 1 ACK")),
            "CSeq method mismatch");
  EXPECT_EQ(errorOf(replaceAll(base, "Call-ID: a84b4c76e66710@pc33.atlanta.com", "Call-ID: a b")),
            "Bad Call-ID");
  EXPECT_EQ(errorOf(replaceAll(base, "SIP/2.0\r\nVia", "SIP/3.0\r\nVia")), "Unknown SIP version");
  EXPECT_EQ(errorOf(replaceAll(base, "INVITE sip", "INV<TE sip")), "Invalid method");
  EXPECT_EQ(errorOf(replaceAll(base, "Contact: <sip:alice@pc33.atlanta.com>", "Contact: *")), "");
}

TEST(MessageParse, StartLineErrors) {
  EXPECT_EQ(errorOf(""), "Empty message");
  EXPECT_EQ(errorOf("\r\n\r\n"), "Empty message");
  EXPECT_EQ(errorOf("INVITE sip:a@b SIP/2.0"), "Missing CRLF after start line");
  EXPECT_EQ(errorOf("INVITE\r\n\r\n"), "Invalid Request-Line");
  EXPECT_EQ(errorOf("SIP/2.0\r\n\r\n"), "Invalid Status-Line");
  EXPECT_EQ(errorOf("SIP/2.0 20 OK\r\n\r\n"), "Bad status code");
  EXPECT_EQ(errorOf("SIP/2.0 099 OK\r\n\r\n"), "Bad status code");
  EXPECT_EQ(errorOf("SIP/2.0 700 OK\r\n\r\n"), "Bad status code");
  EXPECT_EQ(errorOf("SIP/2.1 200 OK\r\n\r\n"), "Unknown SIP version");
  EXPECT_EQ(errorOf("INVITE sip:a@b SIP/2.0\r\n bad\r\n\r\n"), "Malformed header line");
  EXPECT_EQ(errorOf("INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n"), "Malformed header line");
  EXPECT_EQ(errorOf("INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n"), "Malformed header name");
  EXPECT_EQ(errorOf("INVITE sip:a@b SIP/2.0\r\nVia: x"), "Truncated header line");
}

TEST(MessageParse, Limits) {
  std::string many = "OPTIONS sip:a@b SIP/2.0\r\n";
  for (int i = 0; i < 300; ++i)
    many += "X-H: " + std::to_string(i) + "\r\n";
  many += "\r\n";
  EXPECT_EQ(errorOf(many), "Too many headers");

  std::string longLine =
      "OPTIONS sip:a@b SIP/2.0\r\nX-Long: " + std::string(40000, 'a') + "\r\n\r\n";
  EXPECT_EQ(errorOf(longLine), "Header line too long");

  std::string longFolded = "OPTIONS sip:a@b SIP/2.0\r\nX-Long: a";
  for (int i = 0; i < 20000; ++i)
    longFolded += "\r\n b";
  longFolded += "\r\n\r\n";
  EXPECT_EQ(errorOf(longFolded), "Header line too long");

  std::string longStart = "OPTIONS sip:" + std::string(9000, 'a') + "@b SIP/2.0\r\n\r\n";
  EXPECT_EQ(errorOf(longStart), "Start line too long");
}

TEST(MessageParse, ErrorKeepsMessageForA400) {
  ParseResult r =
      Message::parse(replaceAll(std::string(kInvite), "CSeq: 314159 INVITE", "CSeq: 314159 BYE"));
  EXPECT_FALSE(r.ok());
  ASSERT_NE(r.message, nullptr);
  auto resp = makeResponse(*r.message, 400, r.error);
  EXPECT_EQ(resp->reason(), "CSeq method mismatch");
  EXPECT_EQ(resp->first(HeaderId::CSeq), "314159 BYE");
}

TEST(MessageParse, NeverCrashesOnMutations) {
  // A cheap in-test fuzz: random byte edits of a valid message. The libFuzzer
  // target does this properly; this keeps the property in every unit run.
  std::mt19937 rng(4475);
  const std::string base(kInvite);
  for (int i = 0; i < 10000; ++i) {
    std::string s = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      std::size_t pos = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          s.insert(pos, 1, "\r\n :;,<>\"\\@[]%="[rng() % 16]);
          break;
        default:
          if (pos < s.size()) s.erase(pos, 1 + rng() % 8);
      }
    }
    ParseResult r = Message::parse(s);
    if (r.message) {
      (void)r.message->serialize();
      (void)r.message->topVia();
      (void)r.message->from();
      (void)r.message->values(HeaderId::Via);
      auto resp = makeResponse(*r.message, 400, r.error, "tag");
      (void)resp->serialize();
    }
  }
}

TEST(MessageMove, ViewsSurviveMoves) {
  // Short messages sit in std::string's inline buffer: the message must keep
  // its bytes where moves cannot relocate them.
  std::vector<Message> v;
  for (int i = 0; i < 20; ++i) {
    ParseResult r = Message::parse(std::string(kInvite));
    ASSERT_TRUE(r.ok());
    v.push_back(std::move(*r.message));
  }
  Message moved = std::move(v.back());
  Message assigned = std::move(v.front());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.callId(), "a84b4c76e66710@pc33.atlanta.com");
  EXPECT_EQ(assigned.requestUri().host, "biloxi.com");
  EXPECT_EQ(assigned.body(), "v=0\n");
  for (const Message& m : v) {
    if (!m.headers().empty()) {
      EXPECT_EQ(m.topVia()->host, "pc33.atlanta.com");
    }
  }
}

TEST(MessageMove, ShortMessageViewsSurviveMoves) {
  // A message short enough for std::string's inline buffer: split succeeds (no
  // headers), validation fails, and the views must still survive moves.
  for (std::string text : {std::string("A B C\n"), std::string("SIP/2.0 200 OK\r\n")}) {
    ParseResult r = Message::parse(text);
    ASSERT_TRUE(r.message) << text;
    EXPECT_FALSE(r.ok());
    std::string_view version = r.message->version();
    Message moved = std::move(*r.message);
    std::vector<Message> v;
    v.push_back(std::move(moved));
    v.emplace_back(std::move(v.front()));
    EXPECT_EQ(v.back().version(), version.size() == 1 ? "C" : "SIP/2.0");
    EXPECT_EQ(v.back().version().data(), version.data());
    auto copy = v.back().clone();
    Message movedCopy = std::move(*copy);
    EXPECT_EQ(movedCopy.version(), v.back().version());
    EXPECT_NE(movedCopy.version().data(), version.data());
  }
}

TEST(MessageMove, ResponseViewsSurviveMoves) {
  auto req = mustParse(kInvite);
  auto resp = makeResponse(*req, 200, "A", "t");
  std::string_view reason = resp->reason();
  Message moved = std::move(*resp);
  EXPECT_EQ(moved.reason(), "A");
  EXPECT_EQ(moved.reason().data(), reason.data());
  EXPECT_NE(moved.first(HeaderId::To).find(";tag=t"), std::string_view::npos);
}

TEST(MessageParse, HeaderNamesAnyCaseAndCompact) {
  std::string text(kInvite);
  text = replaceAll(text, "Call-ID:", "cALL-iD :");
  text = replaceAll(text, "Max-Forwards:", "MAX-FORWARDS\t:");
  text = replaceAll(text, "Content-Type:", "c:");
  auto m = mustParse(text);
  EXPECT_EQ(m->callId(), "a84b4c76e66710@pc33.atlanta.com");
  EXPECT_EQ(m->maxForwards(), 70);
  EXPECT_EQ(m->first(HeaderId::ContentType), "application/sdp");
  EXPECT_EQ(m->find(HeaderId::ContentType)->name, "c");
  EXPECT_EQ(m->find(HeaderId::CallId)->name, "cALL-iD");
  // Names that only look like known ones stay Other.
  EXPECT_EQ(headerIdFromName("Call\rID"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("Call_ID"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("Vias"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("X-Via"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("PROXY-AUTHORIZATION"), HeaderId::ProxyAuthorization);
  EXPECT_EQ(headerIdFromName("authentication-info"), HeaderId::AuthenticationInfo);
  EXPECT_EQ(headerIdFromName("b"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName(""), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("Content-Lengt"), HeaderId::Other);
  for (HeaderId id = HeaderId::Accept; id <= HeaderId::Warning;
       id = static_cast<HeaderId>(static_cast<int>(id) + 1)) {
    EXPECT_EQ(headerIdFromName(headerName(id)), id) << headerName(id);
  }
}

TEST(MessageParse, HeaderLineErrors) {
  std::string text(kInvite);
  EXPECT_EQ(errorOf(replaceAll(text, "Max-Forwards: 70", "Max\rForwards: 70")),
            "Malformed header name");
  EXPECT_EQ(errorOf(replaceAll(text, "Max-Forwards: 70", "Max-Forwards 70")),
            "Malformed header line");
  EXPECT_EQ(errorOf(replaceAll(text, "Max-Forwards: 70", ": 70")), "Malformed header name");
  EXPECT_EQ(errorOf(replaceAll(text, "Max-Forwards: 70", "Max-Forwards\r\n : 70")),
            "Malformed header name");
  EXPECT_EQ(errorOf("INVITE sip:a@b SIP/2.0\r\nVia: x"), "Truncated header line");
  EXPECT_EQ(errorOf("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n y"), "Truncated header line");
  // A folded value keeps its fold; the line ends at the LF without WSP.
  auto f = mustParse(replaceAll(text, "CSeq: 314159 INVITE", "CSeq: 314159\r\n INVITE"));
  EXPECT_EQ(f->first(HeaderId::CSeq), "314159\r\n INVITE");
  EXPECT_EQ(f->cseq()->number, 314159u);
}

TEST(MessageEdit, ProxyForwarding) {
  auto m = mustParse(
      "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
      "Max-Forwards: 70\r\n"
      "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
      "Route: <sip:p3.example.com;lr>\r\n"
      "To: <sip:bob@biloxi.com>\r\n"
      "f: <sip:alice@atlanta.com>;tag=1\r\n"
      "Call-ID: c1\r\n"
      "CSeq: 1 INVITE\r\n"
      "l: 0\r\n\r\n");
  ASSERT_TRUE(m);
  m->removeFirstValue(HeaderId::Route);
  EXPECT_EQ(m->first(HeaderId::Route), "<sip:p2.example.com;lr>");
  m->removeFirstValue(HeaderId::Route);
  EXPECT_EQ(m->first(HeaderId::Route), "<sip:p3.example.com;lr>");
  EXPECT_EQ(m->values(HeaderId::Route).size(), 1u);
  m->prependHeader(HeaderId::Via, "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp");
  m->setHeader(HeaderId::MaxForwards, "69");
  EXPECT_TRUE(m->setRequestUri("sip:bob@192.0.2.4:5060"));
  EXPECT_FALSE(m->setRequestUri("not a uri"));
  EXPECT_TRUE(m->setRequestUri("sip:bob@192.0.2.4:5060"));
  m->appendHeader("X-Trace", "1");
  m->appendHeader(HeaderId::RecordRoute, "<sip:proxy.example.com;lr>");

  std::string wire = m->serialize();
  EXPECT_EQ(wire,
            "INVITE sip:bob@192.0.2.4:5060 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n"
            "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
            "Max-Forwards: 69\r\n"
            "Route: <sip:p3.example.com;lr>\r\n"
            "To: <sip:bob@biloxi.com>\r\n"
            "f: <sip:alice@atlanta.com>;tag=1\r\n"
            "Call-ID: c1\r\n"
            "CSeq: 1 INVITE\r\n"
            "Content-Length: 0\r\n"
            "X-Trace: 1\r\n"
            "Record-Route: <sip:proxy.example.com;lr>\r\n"
            "\r\n");
  auto again = mustParse(wire);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->topVia()->host, "proxy.example.com");
  EXPECT_EQ(again->requestUri().port, 5060);

  m->removeFirstValue(HeaderId::Via);
  EXPECT_EQ(m->topVia()->host, "a.example.com");
  m->removeAll(HeaderId::Route);
  EXPECT_FALSE(m->has(HeaderId::Route));
  m->removeFirstValue(HeaderId::Route);  // absent: no-op
  m->appendHeader(HeaderId::Route, "<sip:x.example.com;lr> , ");
  m->removeFirstValue(HeaderId::Route);  // nothing left but a comma: line goes
  EXPECT_FALSE(m->has(HeaderId::Route));
}

TEST(MessageEdit, BodyAndContentLength) {
  auto m = mustParse(kInvite);
  ASSERT_TRUE(m);
  m->setBody("hello world", "text/plain");
  EXPECT_EQ(m->body(), "hello world");
  EXPECT_EQ(m->first(HeaderId::ContentType), "text/plain");
  std::string wire = m->serialize();
  EXPECT_NE(wire.find("Content-Length: 11\r\n"), std::string::npos);
  EXPECT_EQ(wire.find("Content-Length: 4"), std::string::npos);
  EXPECT_EQ(wire.substr(wire.size() - 15), "\r\n\r\nhello world");
  auto again = mustParse(wire);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body(), "hello world");

  m->setBody("");
  EXPECT_FALSE(m->has(HeaderId::ContentType));
  EXPECT_NE(m->serialize().find("Content-Length: 0\r\n\r\n"), std::string::npos);
}

TEST(MessageEdit, SerializeAddsMissingContentLength) {
  std::string text(kInvite);
  text = replaceAll(text, "Content-Length: 4\r\n", "");
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  std::string wire = m->serialize();
  EXPECT_NE(wire.find("Content-Length: 4\r\n\r\nv=0\n"), std::string::npos);
}

TEST(MessageEdit, SetStatus) {
  auto req = mustParse(kInvite);
  auto resp = makeResponse(*req, 180);
  resp->setStatus(183, "");
  EXPECT_EQ(resp->reason(), "Session Progress");
  resp->setStatus(199, "Custom");
  EXPECT_EQ(resp->status(), 199);
  EXPECT_EQ(resp->serialize().substr(0, 22), "SIP/2.0 199 Custom\r\nVi");
}

TEST(MessageClone, IndependentDeepCopy) {
  auto m = mustParse(kInvite);
  ASSERT_TRUE(m);
  m->prependHeader(HeaderId::Via, "SIP/2.0/TCP p.example.com;branch=z9hG4bKc");
  m->setRequestUri("sip:bob@[2001:db8::1];transport=tcp");
  std::string before = m->serialize();
  auto c = m->clone();
  EXPECT_EQ(c->serialize(), before);
  EXPECT_EQ(c->requestUri().host, "[2001:db8::1]");
  EXPECT_EQ(c->requestUri().param("transport"), "tcp");
  // Views of the clone point into the clone's own storage.
  const char* mBegin = m->headers().front().value.data();
  EXPECT_NE(c->headers().front().value.data(), mBegin);
  m.reset();
  EXPECT_EQ(c->serialize(), before);
  EXPECT_EQ(c->topVia()->host, "p.example.com");
  EXPECT_EQ(c->requestUri().host, "[2001:db8::1]");
  c->removeFirstValue(HeaderId::Via);
  EXPECT_EQ(c->topVia()->host, "pc33.atlanta.com");
}

TEST(MakeResponse, CopiesPerRfc3261) {
  auto req = mustParse(
      "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1, SIP/2.0/UDP "
      "a.example.com;branch=z9hG4bK0\r\n"
      "Via: SIP/2.0/UDP z.example.com;branch=z9hG4bKz\r\n"
      "t: <sip:bob@biloxi.com>\r\n"
      "From: <sip:alice@atlanta.com>;tag=1\r\n"
      "Call-ID: c1\r\n"
      "CSeq: 7 INVITE\r\n"
      "Timestamp: 54\r\n"
      "Record-Route: <sip:p1.example.com;lr>\r\n"
      "Content-Type: application/sdp\r\n"
      "Content-Length: 0\r\n\r\n");
  ASSERT_TRUE(req);
  auto trying = makeResponse(*req, 100);
  EXPECT_EQ(trying->reason(), "Trying");
  EXPECT_EQ(trying->first(HeaderId::Timestamp), "54");
  EXPECT_EQ(trying->to()->tag(), "");
  EXPECT_EQ(trying->serialize(),
            "SIP/2.0 100 Trying\r\n"
            "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1, SIP/2.0/UDP "
            "a.example.com;branch=z9hG4bK0\r\n"
            "Via: SIP/2.0/UDP z.example.com;branch=z9hG4bKz\r\n"
            "To: <sip:bob@biloxi.com>\r\n"
            "From: <sip:alice@atlanta.com>;tag=1\r\n"
            "Call-ID: c1\r\n"
            "CSeq: 7 INVITE\r\n"
            "Timestamp: 54\r\n"
            "Content-Length: 0\r\n"
            "\r\n");

  auto ok = makeResponse(*req, 200, {}, "as83kd");
  EXPECT_EQ(ok->reason(), "OK");
  EXPECT_FALSE(ok->has(HeaderId::Timestamp));
  EXPECT_FALSE(ok->has(HeaderId::RecordRoute));
  EXPECT_EQ(ok->to()->tag(), "as83kd");
  EXPECT_EQ(ok->cseqMethod(), Method::Invite);
  auto parsed = mustParse(ok->serialize());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->status(), 200);
  EXPECT_EQ(parsed->values(HeaderId::Via).size(), 3u);

  // A To that already has a tag keeps it.
  auto again = makeResponse(*parsed, 486, "Busy Here", "other");
  EXPECT_EQ(again->to()->tag(), "as83kd");
  auto custom = makeResponse(*req, 603, "Go away");
  EXPECT_EQ(custom->reason(), "Go away");

  // The response owns its text.
  req.reset();
  EXPECT_EQ(ok->callId(), "c1");
  EXPECT_EQ(custom->reason(), "Go away");
}

// toTag() is parsed once (by parse(), by makeResponse()) and follows edits of To.
TEST(MessageToTag, ParsedOnceAndKeptInStepWithTo) {
  auto req = mustParse(kInvite);
  EXPECT_EQ(req->toTag(), "");
  auto ok = makeResponse(*req, 200, {}, "b-1");
  EXPECT_EQ(ok->toTag(), "b-1");
  EXPECT_EQ(ok->to()->tag(), "b-1");
  // A tag already there is kept, and the response's view is into its own text.
  auto tagged = mustParse(ok->serialize());
  EXPECT_EQ(tagged->toTag(), "b-1");
  auto busy = makeResponse(*tagged, 486, {}, "other");
  tagged.reset();
  EXPECT_EQ(busy->toTag(), "b-1");
  EXPECT_EQ(busy->to()->tag(), "b-1");
  // Compact form, case, whitespace: the same tag as NameAddr::parse sees.
  auto compact = mustParse(replaceAll(std::string(kInvite), "To: Bob <sip:bob@biloxi.com>",
                                      "t: <sip:bob@biloxi.com;tag=uri-param> ; TAG = x9 ;tag=y"));
  EXPECT_EQ(compact->toTag(), "x9");
  EXPECT_EQ(compact->toTag(), compact->to()->tag());
  // Edits of To are seen.
  req->setHeader(HeaderId::To, "<sip:bob@biloxi.com>;tag=set");
  EXPECT_EQ(req->toTag(), "set");
  req->removeAll(HeaderId::To);
  EXPECT_EQ(req->toTag(), "");
  req->appendHeader("To", "<sip:bob@biloxi.com>;tag=by-name");
  EXPECT_EQ(req->toTag(), "by-name");
  // A clone views its own copy.
  auto copy = req->clone();
  req.reset();
  EXPECT_EQ(copy->toTag(), "by-name");
}

// A To that does not parse gets no tag from makeResponse (as before the cache).
TEST(MessageToTag, MalformedToGetsNoTag) {
  auto r = Message::parse(
      replaceAll(std::string(kInvite), "To: Bob <sip:bob@biloxi.com>", "To: <sip:bob@biloxi.com"));
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.error, "Bad To header");
  EXPECT_EQ(r.message->toTag(), "");
  auto bad = makeResponse(*r.message, 400, r.error, "t1");
  EXPECT_EQ(bad->first(HeaderId::To), "<sip:bob@biloxi.com");
  EXPECT_EQ(bad->toTag(), "");
}

// The top Via parsed while validating is kept whole (parameters too), and
// follows edits of Via, hand-overs and clones.
TEST(MessageTopVia, ParsedOnceAndKeptInStepWithVia) {
  auto req = mustParse(replaceAll(
      std::string(kInvite), "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n",
      "v: SIP/2.0/TCP [2001:db8::1]:5070 ; branch=z9hG4bKtop;rport, SIP/2.0/UDP b.example\r\n"
      "Via: SIP/2.0/UDP c.example;branch=z9hG4bKthird\r\n"));
  const Via* top = req->topViaParsed();
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->transport, "TCP");
  EXPECT_EQ(top->host, "[2001:db8::1]");
  EXPECT_EQ(top->port, 5070);
  EXPECT_EQ(top->branch(), "z9hG4bKtop");
  EXPECT_TRUE(top->param("rport").has_value());
  EXPECT_EQ(req->topViaParsed(), top);  // kept, not parsed again
  // What Via::parse of the first value gives.
  const auto fresh = Via::parse("SIP/2.0/TCP [2001:db8::1]:5070 ; branch=z9hG4bKtop;rport");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(top->params.size(), fresh->params.size());
  EXPECT_EQ(top->host, fresh->host);

  // An edit of Via is seen.
  req->prependHeader(HeaderId::Via, "SIP/2.0/UDP proxy.example;branch=z9hG4bKproxy");
  ASSERT_NE(req->topViaParsed(), nullptr);
  EXPECT_EQ(req->topViaParsed()->branch(), "z9hG4bKproxy");
  req->removeFirstValue(HeaderId::Via);
  ASSERT_NE(req->topViaParsed(), nullptr);
  EXPECT_EQ(req->topViaParsed()->branch(), "z9hG4bKtop");

  // Taken: the caller owns that parse, the message parses again on demand.
  auto taken = req->takeTopVia();
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->branch(), "z9hG4bKtop");
  ASSERT_NE(req->topViaParsed(), nullptr);
  EXPECT_EQ(req->topViaParsed()->branch(), "z9hG4bKtop");
  EXPECT_EQ(req->topVia()->host, "[2001:db8::1]");

  // A clone views its own copy.
  auto copy = req->clone();
  req.reset();
  ASSERT_NE(copy->topViaParsed(), nullptr);
  EXPECT_EQ(copy->topViaParsed()->branch(), "z9hG4bKtop");
  copy->removeAll(HeaderId::Via);
  EXPECT_EQ(copy->topViaParsed(), nullptr);
  EXPECT_FALSE(copy->takeTopVia());
}

// A message refused for a bad Via keeps no parse of it.
TEST(MessageTopVia, MalformedViaGivesNone) {
  auto r = Message::parse(replaceAll(std::string(kInvite), "SIP/2.0/UDP pc33.atlanta.com;",
                                     "SIP/2.0/UDP pc33.atlanta.com:99999;"));
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.error, "Bad Via header");
  EXPECT_EQ(r.message->topViaParsed(), nullptr);
  // A bad second Via line: the top one is still readable (to route the 400).
  auto second = Message::parse(
      replaceAll(std::string(kInvite), "Max-Forwards: 70\r\n", "Via: bad\r\nMax-Forwards: 70\r\n"));
  ASSERT_TRUE(second.message);
  EXPECT_EQ(second.error, "Bad Via header");
  ASSERT_NE(second.message->topViaParsed(), nullptr);
  EXPECT_EQ(second.message->topViaParsed()->branch(), "z9hG4bK776asdhds");
}

TEST(ReasonPhrase, Table) {
  EXPECT_EQ(reasonPhrase(100), "Trying");
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(404), "Not Found");
  EXPECT_EQ(reasonPhrase(407), "Proxy Authentication Required");
  EXPECT_EQ(reasonPhrase(416), "Unsupported URI Scheme");
  EXPECT_EQ(reasonPhrase(481), "Call/Transaction Does Not Exist");
  EXPECT_EQ(reasonPhrase(483), "Too Many Hops");
  EXPECT_EQ(reasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(reasonPhrase(777), "Unknown");
}

TEST(Methods, Names) {
  for (int i = 1; i <= static_cast<int>(Method::Publish); ++i) {
    auto m = static_cast<Method>(i);
    EXPECT_EQ(methodFromName(methodName(m)), m);
  }
  EXPECT_EQ(methodFromName("invite"), Method::Unknown);
  EXPECT_EQ(methodFromName("FOO"), Method::Unknown);
  EXPECT_EQ(methodName(Method::Unknown), "");
}

}  // namespace
}  // namespace tandem::sip
