#include "sip/message/uri.hpp"

#include <gtest/gtest.h>

namespace tandem::sip {
namespace {

Uri mustParse(std::string_view text) {
  auto u = Uri::parse(text);
  EXPECT_TRUE(u) << text;
  return u.value_or(Uri{});
}

TEST(Uri, SipParts) {
  Uri u =
      mustParse("sip:alice:secret@atlanta.com:5070;transport=tcp;lr?subject=hi&priority=urgent");
  EXPECT_EQ(u.scheme, UriScheme::Sip);
  EXPECT_EQ(u.schemeText, "sip");
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.port, 5070);
  ASSERT_EQ(u.params.size(), 2u);
  EXPECT_EQ(u.param("TRANSPORT"), "tcp");
  EXPECT_EQ(u.param("lr"), "");
  EXPECT_FALSE(u.param("maddr"));
  EXPECT_EQ(u.headers, "subject=hi&priority=urgent");
  EXPECT_TRUE(u.isSipOrSips());
  EXPECT_FALSE(u.hostIsIpv6());
  EXPECT_EQ(u.toString(),
            "sip:alice:secret@atlanta.com:5070;transport=tcp;lr?subject=hi&priority=urgent");
}

TEST(Uri, HostOnlyAndSchemeCase) {
  Uri u = mustParse("SIPS:example.com");
  EXPECT_EQ(u.scheme, UriScheme::Sips);
  EXPECT_EQ(u.schemeText, "SIPS");
  EXPECT_TRUE(u.user.empty());
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 0);
  EXPECT_EQ(u.toString(), "SIPS:example.com");
}

TEST(Uri, Ipv4AndIpv6) {
  Uri v4 = mustParse("sip:bob@192.0.2.4:5060");
  EXPECT_EQ(v4.host, "192.0.2.4");
  EXPECT_EQ(v4.port, 5060);

  Uri v6 = mustParse("sip:bob@[2001:db8::10]:5061;transport=tls");
  EXPECT_EQ(v6.host, "[2001:db8::10]");
  EXPECT_TRUE(v6.hostIsIpv6());
  EXPECT_EQ(v6.port, 5061);
  EXPECT_EQ(v6.param("transport"), "tls");

  EXPECT_TRUE(Uri::parse("sip:[::1]"));
  EXPECT_TRUE(Uri::parse("sip:[::]"));
  EXPECT_TRUE(Uri::parse("sip:[2001:db8:0:0:0:0:0:1]"));
  EXPECT_TRUE(Uri::parse("sip:[::ffff:192.0.2.1]"));
  EXPECT_TRUE(Uri::parse("sip:[fe80::1:2]:5060"));
  EXPECT_FALSE(Uri::parse("sip:[2001:db8::1"));
  EXPECT_FALSE(Uri::parse("sip:[2001:db8:::1]"));
  EXPECT_FALSE(Uri::parse("sip:[1::2::3]"));
  EXPECT_FALSE(Uri::parse("sip:[12345::1]"));
  EXPECT_FALSE(Uri::parse("sip:[1:2:3:4:5:6:7:8:9]"));
  EXPECT_FALSE(Uri::parse("sip:[g::1]"));
  EXPECT_FALSE(Uri::parse("sip:[]"));
  EXPECT_FALSE(Uri::parse("sip:2001:db8::1"));
}

TEST(Uri, Escapes) {
  Uri u = mustParse("sip:sips%3Auser%40example.com@example.net");
  EXPECT_EQ(u.user, "sips%3Auser%40example.com");
  EXPECT_EQ(unescape(u.user), "sips:user@example.com");
  EXPECT_EQ(u.host, "example.net");
  EXPECT_FALSE(Uri::parse("sip:a%4@example.com"));   // truncated escape
  EXPECT_FALSE(Uri::parse("sip:a%ZZ@example.com"));  // not hex
  EXPECT_EQ(unescape("%41%zz%4"), "A%zz%4");
  EXPECT_EQ(unescape("%00"), std::string(1, '\0'));
}

TEST(Uri, UserPartMayHoldSemicolonAndQuestionMark) {
  Uri u = mustParse("sip:user;par=u%40example.net@example.com;transport=udp");
  EXPECT_EQ(u.user, "user;par=u%40example.net");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.param("transport"), "udp");
  EXPECT_EQ(u.param("par"), std::nullopt);
}

TEST(Uri, Tel) {
  Uri t = mustParse("tel:+1-201-555-0123;ext=1234;phone-context=example.com");
  EXPECT_EQ(t.scheme, UriScheme::Tel);
  EXPECT_EQ(t.user, "+1-201-555-0123");
  EXPECT_TRUE(t.host.empty());
  EXPECT_EQ(t.param("ext"), "1234");
  EXPECT_EQ(t.toString(), "tel:+1-201-555-0123;ext=1234;phone-context=example.com");
  EXPECT_TRUE(Uri::parse("tel:7042;phone-context=example.com"));
  EXPECT_TRUE(Uri::parse("tel:*67#"));
  EXPECT_FALSE(Uri::parse("tel:"));
  EXPECT_FALSE(Uri::parse("tel:+"));
  EXPECT_FALSE(Uri::parse("tel:12 34"));
  EXPECT_FALSE(Uri::parse("tel:1+2"));
}

TEST(Uri, OtherSchemesAreOpaque) {
  Uri u = mustParse("soap.beep://192.0.2.103:3002");
  EXPECT_EQ(u.scheme, UriScheme::Other);
  EXPECT_EQ(u.schemeText, "soap.beep");
  EXPECT_TRUE(u.host.empty());
  EXPECT_EQ(u.toString(), "soap.beep://192.0.2.103:3002");
  EXPECT_TRUE(Uri::parse("urn:service:sos"));
  EXPECT_FALSE(Uri::parse("http:"));
  EXPECT_FALSE(Uri::parse("mailto:a b"));
  EXPECT_FALSE(Uri::parse("<sip:a@b>"));
}

TEST(Uri, Rejects) {
  for (std::string_view bad : {"",
                               "sip",
                               "sip:",
                               ":foo",
                               "1sip:host",
                               "sip:@example.com",
                               "sip:user@",
                               "sip:user@host:",
                               "sip:user@host:65536",
                               "sip:user@host:5x",
                               "sip:host;",
                               "sip:host;=v",
                               "sip:host;p=",
                               "sip:host?",
                               "sip:host?a",
                               "sip:host?=b",
                               "sip:us er@host",
                               "sip:user@ho st",
                               "sip:user@-host",
                               "sip:user@host..com",
                               "sip:user@host;lr ",
                               "sip:user@host>",
                               "sip:a@b@c",
                               "sip:user@host:5060:5060",
                               "sip:host:0"}) {
    EXPECT_FALSE(Uri::parse(bad)) << bad;
  }
}

TEST(Uri, LenientHostUnderscore) {
  Uri u = mustParse("sip:alice@my_host.example.com");
  EXPECT_EQ(u.host, "my_host.example.com");
  EXPECT_FALSE(Uri::parse("sip:alice@_host"));
}

TEST(Uri, UriHeaders) {
  Uri u = mustParse("sip:user@example.com?Route=%3Csip:sip.example.com%3E");
  EXPECT_EQ(u.headers, "Route=%3Csip:sip.example.com%3E");
  Uri v = mustParse("sip:biloxi.com;method=REGISTER?to=sip:bob%40biloxi.com&x=");
  EXPECT_EQ(v.headers, "to=sip:bob%40biloxi.com&x=");
}

TEST(Uri, FindParamAndIequals) {
  std::vector<Param> ps{{"Tag", "abc"}, {"lr", ""}};
  EXPECT_EQ(findParam(ps, "tag"), "abc");
  EXPECT_EQ(findParam(ps, "LR"), "");
  EXPECT_EQ(findParam(ps, "x"), std::nullopt);
  EXPECT_TRUE(iequals("Call-ID", "call-id"));
  EXPECT_FALSE(iequals("Call-ID", "call-idx"));
  EXPECT_FALSE(iequals("a", "b"));
}

// RFC 3261 §19.1.4 examples.
bool eq(std::string_view a, std::string_view b) {
  auto ua = Uri::parse(a);
  auto ub = Uri::parse(b);
  EXPECT_TRUE(ua) << a;
  EXPECT_TRUE(ub) << b;
  if (!ua || !ub) return false;
  bool ab = uriEquivalent(*ua, *ub);
  EXPECT_EQ(ab, uriEquivalent(*ub, *ua)) << "symmetry: " << a << " / " << b;
  return ab;
}

TEST(UriEquivalence, Rfc3261Equivalent) {
  EXPECT_TRUE(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
  EXPECT_TRUE(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
  EXPECT_TRUE(eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
  EXPECT_TRUE(eq("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));
  EXPECT_TRUE(eq("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                 "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
  EXPECT_TRUE(eq("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                 "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
}

TEST(UriEquivalence, Rfc3261NotEquivalent) {
  EXPECT_FALSE(eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
  EXPECT_FALSE(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
  EXPECT_FALSE(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
  EXPECT_FALSE(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
  EXPECT_FALSE(eq("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
  EXPECT_FALSE(eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
  EXPECT_FALSE(eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
}

TEST(UriEquivalence, MoreRules) {
  EXPECT_FALSE(eq("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
  EXPECT_FALSE(eq("sip:atlanta.com", "sip:alice@atlanta.com"));
  EXPECT_FALSE(eq("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com"));
  EXPECT_TRUE(eq("sip:alice:p%77@atlanta.com", "sip:alice:pw@atlanta.com"));
  EXPECT_FALSE(eq("sip:a@h;user=phone", "sip:a@h"));
  EXPECT_FALSE(eq("sip:a@h;ttl=1", "sip:a@h"));
  EXPECT_FALSE(eq("sip:a@h;method=INVITE", "sip:a@h"));
  EXPECT_FALSE(eq("sip:a@h;maddr=1.2.3.4", "sip:a@h;maddr=1.2.3.5"));
  EXPECT_TRUE(eq("sip:a@h;%6Cr", "sip:a@h;lr"));
  EXPECT_TRUE(eq("sip:a@[2001:DB8::1]", "sip:a@[2001:db8::1]"));
  EXPECT_TRUE(eq("tel:+1-201-555-0123", "tel:+12015550123"));
  EXPECT_FALSE(eq("tel:+12015550123", "tel:+12015550124"));
  EXPECT_FALSE(eq("tel:7042;phone-context=a.com", "tel:7042"));
  EXPECT_TRUE(eq("URN:service:sos", "urn:service:sos"));
  EXPECT_FALSE(eq("urn:service:sos", "urn:service:SOS"));
  EXPECT_FALSE(eq("tel:+1", "sip:+1@h"));
  // Repeated parameters (found by fuzzing): a URI stays equivalent to itself.
  EXPECT_TRUE(
      eq("tel:+1-100-5211-53;50ext=12-53;50ext=1234", "tel:+1-100-5211-53;50ext=12-53;50ext=1234"));
  EXPECT_TRUE(eq("sip:a@h;x=1;x=2", "sip:a@h;x=1;x=2"));
  EXPECT_FALSE(eq("sip:a@h;x=1", "sip:a@h;x=2;x=3"));
}

}  // namespace
}  // namespace tandem::sip
