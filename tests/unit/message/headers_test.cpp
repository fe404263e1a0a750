#include "sip/message/headers.hpp"

#include <gtest/gtest.h>

namespace tandem::sip {
namespace {

TEST(HeaderNames, LongAndCompactForms) {
  EXPECT_EQ(headerIdFromName("Via"), HeaderId::Via);
  EXPECT_EQ(headerIdFromName("vIA"), HeaderId::Via);
  EXPECT_EQ(headerIdFromName("v"), HeaderId::Via);
  EXPECT_EQ(headerIdFromName("V"), HeaderId::Via);
  EXPECT_EQ(headerIdFromName("i"), HeaderId::CallId);
  EXPECT_EQ(headerIdFromName("call-id"), HeaderId::CallId);
  EXPECT_EQ(headerIdFromName("m"), HeaderId::Contact);
  EXPECT_EQ(headerIdFromName("e"), HeaderId::ContentEncoding);
  EXPECT_EQ(headerIdFromName("l"), HeaderId::ContentLength);
  EXPECT_EQ(headerIdFromName("c"), HeaderId::ContentType);
  EXPECT_EQ(headerIdFromName("f"), HeaderId::From);
  EXPECT_EQ(headerIdFromName("s"), HeaderId::Subject);
  EXPECT_EQ(headerIdFromName("k"), HeaderId::Supported);
  EXPECT_EQ(headerIdFromName("t"), HeaderId::To);
  EXPECT_EQ(headerIdFromName("o"), HeaderId::Event);
  EXPECT_EQ(headerIdFromName("r"), HeaderId::ReferTo);
  EXPECT_EQ(headerIdFromName("u"), HeaderId::AllowEvents);
  EXPECT_EQ(headerIdFromName("x"), HeaderId::SessionExpires);
  EXPECT_EQ(headerIdFromName("b"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName(""), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("C%6Fntact"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("Contacts"), HeaderId::Other);
  EXPECT_EQ(headerIdFromName("X-Custom"), HeaderId::Other);
}

TEST(HeaderNames, EveryIdRoundTrips) {
  for (int i = 1; i <= static_cast<int>(HeaderId::Warning); ++i) {
    auto id = static_cast<HeaderId>(i);
    std::string_view name = headerName(id);
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_EQ(headerIdFromName(name), id) << name;
    std::string lower(name);
    for (char& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(headerIdFromName(lower), id) << lower;
  }
  EXPECT_EQ(headerName(HeaderId::CallId), "Call-ID");
  EXPECT_EQ(headerName(HeaderId::WwwAuthenticate), "WWW-Authenticate");
}

TEST(Via, Basic) {
  auto v = Via::parse("SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;rport");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->protocolName, "SIP");
  EXPECT_EQ(v->protocolVersion, "2.0");
  EXPECT_EQ(v->transport, "UDP");
  EXPECT_EQ(v->host, "pc33.atlanta.com");
  EXPECT_EQ(v->port, 5066);
  EXPECT_EQ(v->branch(), "z9hG4bK776asdhds");
  EXPECT_EQ(v->param("rport"), "");
  EXPECT_TRUE(v->hasRfc3261Branch());
}

TEST(Via, LwsEverywhereAllowed) {
  auto v = Via::parse("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->transport, "UDP");
  EXPECT_EQ(v->host, "192.168.255.111");
  EXPECT_EQ(v->branch(), "z9hG4bK30239");
  auto w = Via::parse("SIP/2.0/TCP host : 5060 ;received=192.0.2.1");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->port, 5060);
  EXPECT_EQ(w->param("received"), "192.0.2.1");
}

TEST(Via, Ipv6AndWebSocket) {
  auto v = Via::parse("SIP/2.0/WSS [2001:db8::9]:443;branch=z9hG4bKx;received=2001:db8::1");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->transport, "WSS");
  EXPECT_EQ(v->host, "[2001:db8::9]");
  EXPECT_EQ(v->port, 443);
  EXPECT_EQ(v->param("received"), "2001:db8::1");
  auto w = Via::parse("SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKabc;rport");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->host, "df7jal23ls0d.invalid");
}

TEST(Via, Rejects) {
  for (std::string_view bad :
       {"", "SIP/2.0/UDP", "SIP/2.0 host", "SIP/2.0/UDP host;;", "SIP/2.0/UDPhost",
        "SIP/2.0/UDP host;branch=", "SIP/2.0/UDP host:0", "SIP/2.0/UDP host:99999",
        "SIP/2.0/UDP host junk", "SIP/2.0/UDP [::1", "SIP/2.0/UDP host;branch=\"unterminated", ";",
        "SIP/2.0/UDP 192.0.2.15;;"}) {
    EXPECT_FALSE(Via::parse(bad)) << bad;
  }
}

TEST(NameAddr, Forms) {
  auto a = NameAddr::parse("\"Bob \\\"B\\\" Smith\" <sip:bob@biloxi.com>;tag=a6c85cf");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->displayName, "\"Bob \\\"B\\\" Smith\"");
  EXPECT_EQ(unquote(a->displayName), "Bob \"B\" Smith");
  EXPECT_EQ(a->uri.user, "bob");
  EXPECT_TRUE(a->bracketed);
  EXPECT_EQ(a->tag(), "a6c85cf");

  auto b = NameAddr::parse("Bob Smith <sip:bob@biloxi.com;transport=tcp>;expires=60;q=0.5");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->displayName, "Bob Smith");
  EXPECT_EQ(b->uri.param("transport"), "tcp");
  EXPECT_EQ(b->param("expires"), "60");
  EXPECT_EQ(b->param("q"), "0.5");
  EXPECT_EQ(b->tag(), "");

  auto c = NameAddr::parse("sip:bob@biloxi.com;tag=1");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->bracketed);
  EXPECT_TRUE(c->displayName.empty());
  EXPECT_TRUE(c->uri.params.empty());
  EXPECT_EQ(c->tag(), "1");

  auto d = NameAddr::parse("<tel:+15551234>;tag=x");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->uri.scheme, UriScheme::Tel);

  auto e = NameAddr::parse("<sip:a@b>;+sip.instance=\"<urn:uuid:1234>\";reg-id=1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param("+sip.instance"), "\"<urn:uuid:1234>\"");
}

TEST(NameAddr, Utf8DisplayNameUnquoted) {
  auto a = NameAddr::parse("J\xC3\xB6rg M\xC3\xBCller <sip:joerg@example.de>;tag=9");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->displayName, "J\xC3\xB6rg M\xC3\xBCller");
  EXPECT_EQ(a->tag(), "9");
}

TEST(NameAddr, Rejects) {
  for (std::string_view bad :
       {"", "\"unterminated <sip:a@b>", "<sip:a@b", "< sip:a@b >", "Bell, Alexander <sip:a@b>",
        "sip:a@b?x=y", "\"x\" sip:a@b", "<sip:a@b>;;", "<sip:a@b> junk", "<sip:a@b>;tag=", "<>",
        "<sip:a b@c>"}) {
    EXPECT_FALSE(NameAddr::parse(bad)) << bad;
  }
}

TEST(CSeq, Parse) {
  auto c = CSeq::parse("4711 INVITE");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->number, 4711u);
  EXPECT_EQ(c->method, "INVITE");
  auto folded = CSeq::parse("0009\r\n  INVITE");
  ASSERT_TRUE(folded);
  EXPECT_EQ(folded->number, 9u);
  EXPECT_TRUE(CSeq::parse("2147483647 ACK"));
  EXPECT_FALSE(CSeq::parse("2147483648 ACK"));  // RFC 3261 §8.1.1.5: < 2**31
  EXPECT_FALSE(CSeq::parse("36893488147419103232 REGISTER"));
  EXPECT_FALSE(CSeq::parse("-1 INVITE"));
  EXPECT_FALSE(CSeq::parse("1INVITE"));
  EXPECT_FALSE(CSeq::parse("1 "));
  EXPECT_FALSE(CSeq::parse("INVITE"));
  EXPECT_FALSE(CSeq::parse("1 INVITE x"));
}

TEST(AuthParams, Digest) {
  auto a = AuthParams::parse(
      "Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\","
      "\r\n uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\","
      " response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->scheme, "Digest");
  EXPECT_EQ(a->params.size(), 9u);
  EXPECT_EQ(a->get("username"), "bob");
  EXPECT_EQ(a->get("REALM"), "biloxi.com");
  EXPECT_EQ(a->get("qop"), "auth");
  EXPECT_EQ(a->get("nc"), "00000001");
  EXPECT_EQ(a->get("algorithm"), "MD5");
  EXPECT_EQ(a->get("opaque"), std::nullopt);
  EXPECT_EQ(*findParam(a->params, "realm"), "\"biloxi.com\"");
}

TEST(AuthParams, ChallengeWithEscapes) {
  auto a = AuthParams::parse("Digest realm=\"a \\\"b\\\" c\", qop=\"auth,auth-int\", stale=FALSE");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->get("realm"), "a \"b\" c");
  EXPECT_EQ(a->get("qop"), "auth,auth-int");
  EXPECT_EQ(a->get("stale"), "FALSE");
}

TEST(AuthParams, BearerAndOthers) {
  auto b = AuthParams::parse("Bearer eyJhbGciOi.JIUzI1NiJ9-_~+/abc==");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->scheme, "Bearer");
  EXPECT_EQ(b->token68, "eyJhbGciOi.JIUzI1NiJ9-_~+/abc==");
  EXPECT_TRUE(b->params.empty());
  auto s = AuthParams::parse("Basic");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->scheme, "Basic");
  EXPECT_FALSE(AuthParams::parse(""));
  EXPECT_FALSE(AuthParams::parse("Digest realm=\"x"));
  EXPECT_FALSE(AuthParams::parse("Digest =x"));
  EXPECT_FALSE(AuthParams::parse("Digest realm=\"x\" junk"));
  // A lone word is a token68 (RFC 7235 §2.1), not a malformed parameter.
  EXPECT_EQ(AuthParams::parse("Digest realm")->token68, "realm");
  EXPECT_FALSE(AuthParams::parse("Digest a=b c=d"));
}

TEST(SplitCommaList, TopLevelOnly) {
  auto v = splitCommaList(" <sip:a@b;x=1,2>, \"Doe, John\" <sip:c@d> ,sip:e@f ");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "<sip:a@b;x=1,2>");
  EXPECT_EQ(v[1], "\"Doe, John\" <sip:c@d>");
  EXPECT_EQ(v[2], "sip:e@f");
  EXPECT_TRUE(splitCommaList("").empty());
  EXPECT_TRUE(splitCommaList("  \r\n ").empty());
  EXPECT_EQ(splitCommaList("a,,b").size(), 3u);
  auto q = splitCommaList("\"a\\\",b\", c");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0], "\"a\\\",b\"");
  auto folded = splitCommaList("application/sdp,\r\n        multipart/mixed");
  ASSERT_EQ(folded.size(), 2u);
  EXPECT_EQ(folded[1], "multipart/mixed");
}

TEST(Unquote, Cases) {
  EXPECT_EQ(unquote("\"abc\""), "abc");
  EXPECT_EQ(unquote("\"a\\\\b\\\"c\""), "a\\b\"c");
  EXPECT_EQ(unquote("token"), "token");
  EXPECT_EQ(unquote("\""), "\"");
  EXPECT_EQ(unquote("\"\""), "");
}

}  // namespace
}  // namespace tandem::sip
