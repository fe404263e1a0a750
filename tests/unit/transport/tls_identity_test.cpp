// RFC 5922 §7.1/§7.2: the SIP domain identities of a certificate and their
// comparison with a domain. The pure rules first, then the names read from
// real certificates made by the openssl command line tool.
#include "sip/transport/tls_identity.hpp"

#include "transport_test_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tandem::sip {
namespace {

namespace fs = std::filesystem;

CertificateNames withDns(std::vector<std::string> dns, std::string cn = "") {
  CertificateNames names;
  names.hasSubjectAltName = true;
  names.dns = std::move(dns);
  names.commonName = std::move(cn);
  return names;
}

TEST(TlsIdentity, DnsNameMatchesTheDomain) {
  const auto names = withDns({"b.example"});
  EXPECT_TRUE(certificateMatchesDomain(names, "b.example"));
  EXPECT_FALSE(certificateMatchesDomain(names, "c.example"));
  EXPECT_FALSE(certificateMatchesDomain(names, "example"));
  EXPECT_FALSE(certificateMatchesDomain(names, "x.b.example"));
  EXPECT_FALSE(certificateMatchesDomain(names, ""));
}

TEST(TlsIdentity, AnyOfSeveralDnsNamesMatches) {
  const auto names = withDns({"sip.b.example", "b.example", "c.example"});
  EXPECT_TRUE(certificateMatchesDomain(names, "b.example"));
  EXPECT_TRUE(certificateMatchesDomain(names, "c.example"));
  EXPECT_EQ(sipDomainIdentities(names),
            (std::vector<std::string>{"sip.b.example", "b.example", "c.example"}));
}

TEST(TlsIdentity, ComparisonIgnoresCaseAndATrailingDot) {
  EXPECT_TRUE(certificateMatchesDomain(withDns({"B.Example"}), "b.EXAMPLE"));
  EXPECT_TRUE(certificateMatchesDomain(withDns({"b.example."}), "b.example"));
  EXPECT_TRUE(certificateMatchesDomain(withDns({"b.example"}), "b.example."));
  EXPECT_EQ(sipDomainIdentities(withDns({"B.Example.", "b.example"})),
            std::vector<std::string>{"b.example"});
}

// The SRV target a domain resolved to is not the domain: a certificate for
// the host alone does not prove the domain (RFC 5922 §7.2).
TEST(TlsIdentity, TheServerHostNameIsNotTheDomain) {
  EXPECT_FALSE(certificateMatchesDomain(withDns({"sip.b.example"}), "b.example"));
}

TEST(TlsIdentity, WildcardsNeverMatch) {
  EXPECT_FALSE(certificateMatchesDomain(withDns({"*.example"}), "b.example"));
  EXPECT_FALSE(certificateMatchesDomain(withDns({"*.b.example"}), "x.b.example"));
  EXPECT_FALSE(certificateMatchesDomain(withDns({"*"}), "b.example"));
  EXPECT_FALSE(certificateMatchesDomain(withDns({"*.example"}), "*.example"));
  EXPECT_TRUE(sipDomainIdentities(withDns({"*.example", "b*.example"})).empty());
  // A wildcard next to a real name: only the real name counts.
  EXPECT_TRUE(certificateMatchesDomain(withDns({"*.example", "b.example"}), "b.example"));
}

TEST(TlsIdentity, CommonNameOnlyWithoutSubjectAltName) {
  CertificateNames cnOnly;
  cnOnly.commonName = "b.example";
  EXPECT_TRUE(certificateMatchesDomain(cnOnly, "b.example"));
  EXPECT_TRUE(certificateMatchesDomain(cnOnly, "B.EXAMPLE"));

  // With DNS names, the CN is not looked at.
  EXPECT_FALSE(certificateMatchesDomain(withDns({"c.example"}, "b.example"), "b.example"));
  EXPECT_EQ(sipDomainIdentities(withDns({"c.example"}, "b.example")),
            std::vector<std::string>{"c.example"});

  // A wildcard CN is no identity either.
  CertificateNames wildcardCn;
  wildcardCn.commonName = "*.example";
  EXPECT_FALSE(certificateMatchesDomain(wildcardCn, "b.example"));
}

// RFC 5922 §7.1: "If and only if the subjectAltName does not appear in the
// certificate" is the CN examined. A certificate with an address only has no
// SIP domain identity at all.
TEST(TlsIdentity, IpAddressEntriesNameNoDomain) {
  CertificateNames ipOnly;
  ipOnly.hasSubjectAltName = true;
  ipOnly.ips = {"192.0.2.7"};
  ipOnly.commonName = "b.example";
  EXPECT_FALSE(certificateMatchesDomain(ipOnly, "b.example"));
  EXPECT_FALSE(certificateMatchesDomain(ipOnly, "192.0.2.7"));
  EXPECT_TRUE(sipDomainIdentities(ipOnly).empty());
}

TEST(TlsIdentity, SipUrisWithoutUserNameADomain) {
  CertificateNames names;
  names.hasSubjectAltName = true;
  names.uris = {"sip:b.example",
                "SIP:c.example:5061;transport=tls",
                "sip:alice@d.example",
                "https://e.example/",
                "sips:f.example",
                "sip:[2001:DB8::7]:5061",
                "sip:",
                "sip:g.example;transport=tls?x=y"};
  EXPECT_EQ(sipDomainIdentities(names),
            (std::vector<std::string>{"b.example", "c.example", "[2001:db8::7]", "g.example"}));
  EXPECT_TRUE(certificateMatchesDomain(names, "b.example"));
  EXPECT_FALSE(certificateMatchesDomain(names, "d.example"));
  EXPECT_FALSE(certificateMatchesDomain(names, "e.example"));
}

TEST(TlsIdentity, IdentitiesContainUsesTheSameRules) {
  const std::vector<std::string> identities{"b.example", "c.example"};
  EXPECT_TRUE(identitiesContain(identities, "B.example."));
  EXPECT_FALSE(identitiesContain(identities, "d.example"));
  EXPECT_FALSE(identitiesContain(identities, ""));
  EXPECT_FALSE(identitiesContain({}, "b.example"));
}

// ---- Names read from certificates -------------------------------------------

class CertificateNamesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new fs::path(test::makeTempDir("tandem-tls-identity")); }
  static void TearDownTestSuite() {
    test::removeTempDir(*dir_);
    delete dir_;
  }

  // A self-signed certificate's PEM text; `san` empty: no subjectAltName.
  static std::string makePem(const std::string& name, const std::string& subject,
                             const std::string& san) {
    std::ifstream in(test::makeCertificate(*dir_, name, subject, san).cert);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static fs::path* dir_;
};

fs::path* CertificateNamesTest::dir_ = nullptr;

TEST_F(CertificateNamesTest, ReadsEverySubjectAltNameKind) {
  const auto pem = makePem("all", "/O=Tandem/CN=cn.example",
                           "DNS:b.example,DNS:*.b.example,IP:192.0.2.7,URI:sip:c.example");
  const auto names = certificateNamesFromPem(pem);
  ASSERT_TRUE(names.has_value());
  EXPECT_TRUE(names->hasSubjectAltName);
  EXPECT_EQ(names->dns, (std::vector<std::string>{"b.example", "*.b.example"}));
  EXPECT_EQ(names->ips, std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(names->uris, std::vector<std::string>{"sip:c.example"});
  EXPECT_EQ(names->commonName, "cn.example");
  EXPECT_EQ(sipDomainIdentities(*names), (std::vector<std::string>{"c.example", "b.example"}));
  EXPECT_FALSE(certificateMatchesDomain(*names, "cn.example"));
}

TEST_F(CertificateNamesTest, CommonNameOfACertificateWithoutSubjectAltName) {
  const auto names = certificateNamesFromPem(makePem("cn", "/CN=B.Example", ""));
  ASSERT_TRUE(names.has_value());
  EXPECT_FALSE(names->hasSubjectAltName);
  EXPECT_EQ(names->commonName, "B.Example");
  EXPECT_TRUE(certificateMatchesDomain(*names, "b.example"));
}

TEST_F(CertificateNamesTest, AddressOnlyCertificateHasNoDomain) {
  const auto names = certificateNamesFromPem(makePem("ip", "/CN=b.example", "IP:127.0.0.1"));
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(names->ips, std::vector<std::string>{"127.0.0.1"});
  EXPECT_FALSE(certificateMatchesDomain(*names, "b.example"));
}

TEST_F(CertificateNamesTest, GarbageIsNoCertificate) {
  EXPECT_FALSE(certificateNamesFromPem("not a certificate").has_value());
  EXPECT_FALSE(certificateNamesFromPem("").has_value());
}

}  // namespace
}  // namespace tandem::sip
