// Every RFC 4475 torture message, with the verdict the parser gives it.
//
// Verdicts follow the RFC text: §3.1.1 messages are valid; §3.1.2 ones are
// invalid. Of §3.3, the messages RFC 4475 says must be answered 400 because
// they are malformed (insuf: missing headers; multi01: repeated single-value
// headers; mcl01: two Content-Lengths) are parse errors, the others are valid
// messages whose oddity a later layer handles (416 for an unknown Request-URI
// scheme, 420 for unknown Require, 483 for Max-Forwards 0, ...). badbranch
// (§3.2.1) parses; the transaction layer falls back to RFC 2543 matching.
//
// "400-able": the parser still returns the message, and its top Via and
// Call-ID read, so the caller can send makeResponse(msg, 400, error).
//
// | file       | verdict | error                            | 400-able |
// |------------|---------|----------------------------------|----------|
// | wsinv      | ok      |                                  |          |
// | intmeth    | ok      |                                  |          |
// | esc01      | ok      |                                  |          |
// | escnull    | ok      |                                  |          |
// | esc02      | ok      |                                  |          |
// | lwsdisp    | ok      |                                  |          |
// | longreq    | ok      |                                  |          |
// | dblreq     | ok      | (second request ignored, UDP)    |          |
// | semiuri    | ok      |                                  |          |
// | transports | ok      |                                  |          |
// | mpart01    | ok      |                                  |          |
// | unreason   | ok      |                                  |          |
// | noreason   | ok      |                                  |          |
// | badinv01   | error   | Bad Via header                   | no (Via) |
// | clerr      | error   | Content-Length exceeds body      | yes      |
// | ncl        | error   | Bad Content-Length               | yes      |
// | scalar02   | error   | Bad CSeq header                  | yes      |
// | scalarlg   | error   | Bad CSeq header (response)       | no       |
// | quotbal    | error   | Bad To header                    | yes      |
// | ltgtruri   | error   | Invalid Request-URI              | yes      |
// | lwsruri    | error   | Invalid Request-URI              | yes      |
// | lwsstart   | error   | Invalid Request-Line             | yes      |
// | trws       | error   | Invalid Request-Line             | yes      |
// | escruri    | error   | Invalid Request-URI              | yes      |
// | baddate    | error   | Bad Date header                  | yes      |
// | regbadct   | error   | Bad Contact header               | yes      |
// | badaspec   | error   | Bad To header                    | yes      |
// | baddn      | error   | Bad From header                  | yes      |
// | badvers    | error   | Unknown SIP version              | yes      |
// | mismatch01 | error   | CSeq method mismatch             | yes      |
// | mismatch02 | error   | CSeq method mismatch             | yes      |
// | bigcode    | error   | Bad status code (response)       | no       |
// | badbranch  | ok      |                                  |          |
// | insuf      | error   | Missing Call-ID                  | no       |
// | unkscm     | ok      | (scheme Other: 416 later)        |          |
// | novelsc    | ok      | (scheme Other: 416 later)        |          |
// | unksm2     | ok      |                                  |          |
// | bext01     | ok      | (420 later)                      |          |
// | invut      | ok      | (415 later)                      |          |
// | regaut01   | ok      | (401 later)                      |          |
// | multi01    | error   | Multiple Call-ID headers         | yes      |
// | mcl01      | error   | Multiple Content-Length headers  | yes      |
// | bcast      | ok      |                                  |          |
// | zeromf     | ok      | (483 later)                      |          |
// | cparam01   | ok      |                                  |          |
// | cparam02   | ok      |                                  |          |
// | regescrt   | ok      |                                  |          |
// | sdp01      | ok      | (406 later)                      |          |
// | inv2543    | ok      |                                  |          |
// | test       | error   | Invalid Request-Line (not 4475)  | no msg   |

#include "sip/message/message.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace tandem::sip {
namespace {

std::string readData(const std::string& name) {
  std::ifstream in(std::string(TANDEM_TEST_DATA_DIR) + "/rfc4475/" + name + ".dat",
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Case {
  const char* file;
  bool ok;
  const char* error;  // exact expected error when !ok
  bool answerable;    // message returned with a readable top Via and Call-ID
};

const Case kCases[] = {
    {"wsinv", true, "", false},
    {"intmeth", true, "", false},
    {"esc01", true, "", false},
    {"escnull", true, "", false},
    {"esc02", true, "", false},
    {"lwsdisp", true, "", false},
    {"longreq", true, "", false},
    {"dblreq", true, "", false},
    {"semiuri", true, "", false},
    {"transports", true, "", false},
    {"mpart01", true, "", false},
    {"unreason", true, "", false},
    {"noreason", true, "", false},
    {"badinv01", false, "Bad Via header", false},
    {"clerr", false, "Content-Length exceeds body", true},
    {"ncl", false, "Bad Content-Length", true},
    {"scalar02", false, "Bad CSeq header", true},
    {"scalarlg", false, "Bad CSeq header", false},
    {"quotbal", false, "Bad To header", true},
    {"ltgtruri", false, "Invalid Request-URI", true},
    {"lwsruri", false, "Invalid Request-URI", true},
    {"lwsstart", false, "Invalid Request-Line", true},
    {"trws", false, "Invalid Request-Line", true},
    {"escruri", false, "Invalid Request-URI", true},
    {"baddate", false, "Bad Date header", true},
    {"regbadct", false, "Bad Contact header", true},
    {"badaspec", false, "Bad To header", true},
    {"baddn", false, "Bad From header", true},
    {"badvers", false, "Unknown SIP version", true},
    {"mismatch01", false, "CSeq method mismatch", true},
    {"mismatch02", false, "CSeq method mismatch", true},
    {"bigcode", false, "Bad status code", false},
    {"badbranch", true, "", false},
    {"insuf", false, "Missing Call-ID", false},
    {"unkscm", true, "", false},
    {"novelsc", true, "", false},
    {"unksm2", true, "", false},
    {"bext01", true, "", false},
    {"invut", true, "", false},
    {"regaut01", true, "", false},
    {"multi01", false, "Multiple Call-ID headers", true},
    {"mcl01", false, "Multiple Content-Length headers", true},
    {"bcast", true, "", false},
    {"zeromf", true, "", false},
    {"cparam01", true, "", false},
    {"cparam02", true, "", false},
    {"regescrt", true, "", false},
    {"sdp01", true, "", false},
    {"inv2543", true, "", false},
    {"test", false, "Invalid Request-Line", false},
};

class Rfc4475 : public ::testing::TestWithParam<Case> {};

TEST_P(Rfc4475, Verdict) {
  const Case& c = GetParam();
  ParseResult r = Message::parse(readData(c.file));
  if (c.ok) {
    ASSERT_TRUE(r.ok()) << c.file << ": " << r.error;
    // The quick read of the top Via's transport agrees with the full parse
    // (wsinv spreads "SIP / 2.0 / UDP" over folded lines).
    ASSERT_TRUE(r.message->topVia()) << c.file;
    EXPECT_EQ(r.message->topViaTransport(), r.message->topVia()->transport) << c.file;
    // Round trip: what we write parses to the same headers and body.
    std::string wire = r.message->serialize();
    ParseResult again = Message::parse(wire);
    ASSERT_TRUE(again.ok()) << c.file << ": " << again.error << "\n" << wire;
    EXPECT_EQ(again.message->headers().size(),
              r.message->headers().size() + (r.message->has(HeaderId::ContentLength) ? 0 : 1));
    EXPECT_EQ(again.message->body(), r.message->body());
    EXPECT_EQ(again.message->serialize(), wire);
    return;
  }
  EXPECT_FALSE(r.ok()) << c.file;
  EXPECT_EQ(r.error, c.error) << c.file;
  if (!c.answerable) return;
  ASSERT_NE(r.message, nullptr) << c.file;
  ASSERT_TRUE(r.message->isRequest()) << c.file;
  ASSERT_TRUE(r.message->topVia()) << c.file;
  ASSERT_FALSE(r.message->callId().empty()) << c.file;
  auto resp = makeResponse(*r.message, 400, r.error);
  EXPECT_EQ(resp->status(), 400);
  EXPECT_EQ(resp->reason(), c.error);
  EXPECT_EQ(resp->callId(), r.message->callId());
  std::string wire = resp->serialize();
  EXPECT_EQ(wire.rfind(std::string("SIP/2.0 400 ") + c.error + "\r\n", 0), 0u) << wire;
}

INSTANTIATE_TEST_SUITE_P(AllFiles, Rfc4475, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.file);
                         });

ParseResult parseFile(const char* name) {
  return Message::parse(readData(name));
}

TEST(Rfc4475Detail, Wsinv) {
  auto r = parseFile("wsinv");
  ASSERT_TRUE(r.ok()) << r.error;
  const Message& m = *r.message;
  EXPECT_EQ(m.method(), Method::Invite);
  EXPECT_EQ(m.requestUri().host, "chair-dnrc.example.com");
  EXPECT_TRUE(m.requestUri().param("unknownparam"));
  auto to = m.to();
  ASSERT_TRUE(to);
  EXPECT_EQ(to->tag(), "1918181833n");
  EXPECT_FALSE(to->bracketed);
  auto from = m.from();
  ASSERT_TRUE(from);
  EXPECT_EQ(from->displayName, R"("J Rosenberg \\\"")");
  EXPECT_EQ(unquote(from->displayName), R"(J Rosenberg \")");
  EXPECT_EQ(from->tag(), "98asjd8");
  EXPECT_EQ(m.maxForwards(), 68);
  auto cseq = m.cseq();
  ASSERT_TRUE(cseq);
  EXPECT_EQ(cseq->number, 9u);
  EXPECT_EQ(cseq->method, "INVITE");
  auto vias = m.values(HeaderId::Via);
  ASSERT_EQ(vias.size(), 3u);
  auto top = m.topVia();
  ASSERT_TRUE(top);
  EXPECT_EQ(top->transport, "UDP");
  EXPECT_EQ(top->host, "192.0.2.2");
  EXPECT_EQ(top->branch(), "390skdjuw");
  auto v2 = Via::parse(vias[1]);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->transport, "TCP");
  EXPECT_EQ(v2->host, "spindle.example.com");
  EXPECT_EQ(v2->branch(), "z9hG4bK9ikj8");
  auto v3 = Via::parse(vias[2]);
  ASSERT_TRUE(v3);
  EXPECT_EQ(v3->branch(), "z9hG4bK30239");
  EXPECT_TRUE(m.has(HeaderId::Subject));
  EXPECT_EQ(m.first(HeaderId::Subject), "");
  const Header* nf = m.find("newfangledheader");
  ASSERT_NE(nf, nullptr);
  EXPECT_EQ(nf->value.substr(0, 16), "newfangled value");
  EXPECT_NE(nf->value.find("continued newfangled value"), std::string_view::npos);
  auto contact = NameAddr::parse(m.first(HeaderId::Contact));
  ASSERT_TRUE(contact);
  EXPECT_EQ(contact->param("newparam"), "newvalue");
  EXPECT_EQ(contact->param("secondparam"), "");
  EXPECT_EQ(contact->param("q"), "0.33");
  auto route = NameAddr::parse(m.first(HeaderId::Route));
  ASSERT_TRUE(route);
  EXPECT_EQ(route->uri.host, "services.example.com");
  EXPECT_EQ(route->uri.param("lr"), "");
  EXPECT_EQ(m.body().size(), 150u);
}

TEST(Rfc4475Detail, Intmeth) {
  auto r = parseFile("intmeth");
  ASSERT_TRUE(r.ok()) << r.error;
  const Message& m = *r.message;
  EXPECT_EQ(m.method(), Method::Unknown);
  EXPECT_EQ(m.methodText(), "!interesting-Method0123456789_*+`.%indeed'~");
  EXPECT_EQ(m.requestUri().user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  EXPECT_EQ(m.requestUri().password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  EXPECT_EQ(m.requestUri().host, "example.com");
  auto to = m.to();
  ASSERT_TRUE(to);
  std::string dn = unquote(to->displayName);
  EXPECT_EQ(dn, std::string("BEL:\x07 NUL:\0 DEL:\x7F", 17));
  auto from = m.from();
  ASSERT_TRUE(from);
  EXPECT_EQ(from->displayName, "token1~` token2'+_ token3*%!.-");
  EXPECT_EQ(from->tag(), "_token~1'+`*%!-.");
  EXPECT_EQ(m.callId(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  EXPECT_EQ(m.maxForwards(), 255);
}

TEST(Rfc4475Detail, Escapes) {
  auto r = parseFile("esc01");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(unescape(r.message->requestUri().user), "sips:user@example.com");
  auto to = r.message->to();
  ASSERT_TRUE(to);
  EXPECT_EQ(unescape(to->uri.user), "user");
  EXPECT_EQ(r.message->first(HeaderId::ContentType), "application/sdp");  // "C:" compact
  auto contact = NameAddr::parse(r.message->first(HeaderId::Contact));
  ASSERT_TRUE(contact);
  EXPECT_TRUE(contact->uri.param("%6C%72"));
  EXPECT_EQ(unescape(*contact->uri.param("n%61me")), "value%41");

  auto n = parseFile("escnull");
  ASSERT_TRUE(n.ok()) << n.error;
  auto nto = n.message->to();
  ASSERT_TRUE(nto);
  EXPECT_EQ(unescape(nto->uri.user), std::string("null-\0-null", 11));
  EXPECT_EQ(n.message->values(HeaderId::Contact).size(), 2u);

  auto e2 = parseFile("esc02");
  ASSERT_TRUE(e2.ok()) << e2.error;
  EXPECT_EQ(e2.message->method(), Method::Unknown);             // RE%47IST%45R is not REGISTER
  EXPECT_EQ(e2.message->values(HeaderId::Contact).size(), 2u);  // C%6Fntact is not Contact
  EXPECT_NE(e2.message->find("C%6Fntact"), nullptr);
}

TEST(Rfc4475Detail, DisplayNameAndSemicolonUser) {
  auto r = parseFile("lwsdisp");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.message->from()->displayName, "caller");

  auto s = parseFile("semiuri");
  ASSERT_TRUE(s.ok()) << s.error;
  EXPECT_EQ(s.message->requestUri().user, "user;par=u%40example.net");
  EXPECT_EQ(s.message->requestUri().host, "example.com");
  EXPECT_TRUE(s.message->requestUri().params.empty());
  EXPECT_EQ(s.message->values(HeaderId::Accept).size(), 6u);
}

TEST(Rfc4475Detail, LongRequestAndTransports) {
  auto r = parseFile("longreq");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.message->values(HeaderId::Via).size(), 34u);
  EXPECT_EQ(r.message->topVia()->host, "sip33.example.com");
  EXPECT_EQ(r.message->to()->uri.port, 6000);

  auto t = parseFile("transports");
  ASSERT_TRUE(t.ok()) << t.error;
  auto vias = t.message->values(HeaderId::Via);
  ASSERT_EQ(vias.size(), 5u);
  EXPECT_EQ(Via::parse(vias[1])->transport, "SCTP");
  EXPECT_EQ(Via::parse(vias[3])->transport, "UNKNOWN");
}

TEST(Rfc4475Detail, TrailingDatagramBytesIgnored) {
  auto r = parseFile("dblreq");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.message->method(), Method::Register);
  EXPECT_TRUE(r.message->body().empty());
  EXPECT_EQ(r.message->callId(), "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
}

TEST(Rfc4475Detail, Responses) {
  auto u = parseFile("unreason");
  ASSERT_TRUE(u.ok()) << u.error;
  EXPECT_TRUE(u.message->isResponse());
  EXPECT_EQ(u.message->status(), 200);
  EXPECT_EQ(u.message->reason().substr(0, 14), "= 2**3 * 5**2 ");
  EXPECT_EQ(u.message->cseqMethod(), Method::Invite);

  auto n = parseFile("noreason");
  ASSERT_TRUE(n.ok()) << n.error;
  EXPECT_EQ(n.message->status(), 100);
  EXPECT_EQ(n.message->reason(), "");

  auto b = parseFile("bcast");
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_EQ(b.message->values(HeaderId::Via).size(), 2u);
}

TEST(Rfc4475Detail, Multipart) {
  auto r = parseFile("mpart01");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.message->method(), Method::Message);
  EXPECT_EQ(r.message->body().size(), 553u);
}

TEST(Rfc4475Detail, UnknownSchemes) {
  auto a = parseFile("unkscm");
  ASSERT_TRUE(a.ok()) << a.error;
  EXPECT_EQ(a.message->requestUri().scheme, UriScheme::Other);
  EXPECT_EQ(a.message->requestUri().schemeText, "nobodyKnowsThisScheme");

  auto b = parseFile("novelsc");
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_EQ(b.message->requestUri().scheme, UriScheme::Other);
  EXPECT_EQ(b.message->requestUri().schemeText, "soap.beep");

  auto c = parseFile("unksm2");
  ASSERT_TRUE(c.ok()) << c.error;
  EXPECT_EQ(c.message->to()->uri.scheme, UriScheme::Other);
  EXPECT_EQ(c.message->to()->uri.text, "isbn:2983792873");
  EXPECT_EQ(c.message->from()->uri.schemeText, "http");
  EXPECT_EQ(c.message->from()->tag(), "3234233");
}

TEST(Rfc4475Detail, ApplicationSemantics) {
  auto z = parseFile("zeromf");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z.message->maxForwards(), 0);

  auto a = parseFile("regaut01");
  ASSERT_TRUE(a.ok());
  auto auth = AuthParams::parse(a.message->first(HeaderId::Authorization));
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->scheme, "NoOneKnowsThisScheme");
  EXPECT_EQ(auth->get("opaque-data"), "here");

  auto c1 = parseFile("cparam01");
  ASSERT_TRUE(c1.ok());
  auto ct1 = NameAddr::parse(c1.message->first(HeaderId::Contact));
  ASSERT_TRUE(ct1);
  EXPECT_TRUE(ct1->param("unknownparam"));  // header parameter: not bracketed
  EXPECT_TRUE(ct1->uri.params.empty());

  auto c2 = parseFile("cparam02");
  ASSERT_TRUE(c2.ok());
  auto ct2 = NameAddr::parse(c2.message->first(HeaderId::Contact));
  ASSERT_TRUE(ct2);
  EXPECT_FALSE(ct2->param("unknownparam"));
  EXPECT_TRUE(ct2->uri.param("unknownparam"));

  auto e = parseFile("regescrt");
  ASSERT_TRUE(e.ok());
  auto ct3 = NameAddr::parse(e.message->first(HeaderId::Contact));
  ASSERT_TRUE(ct3);
  EXPECT_EQ(ct3->uri.headers, "Route=%3Csip:sip.example.com%3E");

  auto old = parseFile("inv2543");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.message->maxForwards(), -1);
  EXPECT_FALSE(old.message->topVia()->hasRfc3261Branch());

  auto bb = parseFile("badbranch");
  ASSERT_TRUE(bb.ok());
  EXPECT_EQ(bb.message->topVia()->branch(), "z9hG4bK");
  EXPECT_FALSE(bb.message->topVia()->hasRfc3261Branch());
}

}  // namespace
}  // namespace tandem::sip
