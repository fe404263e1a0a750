// TLS between SIP domains through TransportLayer on 127.0.0.1 (RFC 5922):
// outgoing flows naming a domain verify the server's certificate against it,
// mutual TLS gives accepted connections the client's identities. The
// certificates come from a test CA made by the openssl command line tool.
#include "sip/transport/transport_layer.hpp"

#include "transport_test_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace tandem::sip {
namespace {

namespace fs = std::filesystem;
using namespace test;

class TlsDomainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(makeTempDir("tandem-tls-domain"));
    ca_ = new CertPair(makeCertificate(*dir_, "ca", "/CN=Tandem test CA", ""));
    otherCa_ = new CertPair(makeCertificate(*dir_, "other-ca", "/CN=Another CA", ""));
    b_ = new CertPair(makeCertificate(*dir_, "b", "/CN=b.test", "DNS:b.test", ca_));
    a_ = new CertPair(makeCertificate(*dir_, "a", "/CN=a.test", "DNS:a.test", ca_));
    strangerA_ =
        new CertPair(makeCertificate(*dir_, "stranger", "/CN=a.test", "DNS:a.test", otherCa_));
  }
  static void TearDownTestSuite() {
    removeTempDir(*dir_);
    for (auto* p : {ca_, otherCa_, b_, a_, strangerA_})
      delete p;
    delete dir_;
  }

  static TransportOptions options(const CertPair& own, bool verifyDomains = true,
                                  TlsClientAuth clientAuth = TlsClientAuth::None) {
    TransportOptions o;
    o.tlsCertFile = own.cert;
    o.tlsKeyFile = own.key;
    o.tlsCaFile = ca_->cert;
    o.tlsVerifyDomains = verifyDomains;
    o.tlsClientAuth = clientAuth;
    return o;
  }

  static Flow toDomain(const TransportLayer& server, const std::string& domain) {
    Flow flow;
    flow.transport = Transport::Tls;
    flow.remote = *server.advertised(Transport::Tls);
    flow.tlsDomain = domain;
    return flow;
  }

  // A TLS server and a client, each a TransportLayer listening on loopback.
  struct Link {
    Link(boost::asio::io_context& io, const TransportOptions& serverOptions,
         const TransportOptions& clientOptions)
        : server(io, serverSeen, serverOptions), client(io, clientSeen, clientOptions) {
      EXPECT_EQ(server.listen(Transport::Tls, loopback()), "");
      EXPECT_EQ(client.listen(Transport::Tls, loopback()), "");
    }
    Flow to(const std::string& domain) const { return toDomain(server, domain); }
    // Sends from the client to the server, for `domain`.
    bool send(const std::string& domain, std::string_view firstLine) {
      return client.send(to(domain), sipMessage(firstLine));
    }

    Recorder serverSeen, clientSeen;
    TransportLayer server, client;
  };

  static fs::path* dir_;
  static CertPair *ca_, *otherCa_, *b_, *a_, *strangerA_;
  boost::asio::io_context io;
};

fs::path* TlsDomainTest::dir_ = nullptr;
CertPair* TlsDomainTest::ca_ = nullptr;
CertPair* TlsDomainTest::otherCa_ = nullptr;
CertPair* TlsDomainTest::b_ = nullptr;
CertPair* TlsDomainTest::a_ = nullptr;
CertPair* TlsDomainTest::strangerA_ = nullptr;

TEST_F(TlsDomainTest, CertificateNamingTheDomainIsAccepted) {
  Link link(io, options(*b_), options(*a_));
  link.serverSeen.reply = [&](const std::string&, const Flow& from) {
    link.server.send(from, sipMessage("SIP/2.0 200 OK"));
  };
  ASSERT_TRUE(link.send("B.Test", "OPTIONS sip:b.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return link.clientSeen.messages.size() == 1; }));
  // The response came on the connection we opened: its peer proved b.test.
  const auto* identities =
      link.client.tlsPeerIdentities(link.clientSeen.messages[0].from.connection);
  ASSERT_NE(identities, nullptr);
  EXPECT_EQ(*identities, std::vector<std::string>{"b.test"});
  // Without client authentication the server knows nobody.
  EXPECT_EQ(link.server.tlsPeerIdentities(link.serverSeen.messages[0].from.connection), nullptr);
  EXPECT_TRUE(link.clientSeen.failed.empty());
}

TEST_F(TlsDomainTest, CertificateForAnotherDomainFailsTheSendWithAReason) {
  Link link(io, options(*b_), options(*a_));
  ASSERT_TRUE(link.send("c.test", "OPTIONS sip:c.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return !link.clientSeen.failed.empty(); }));
  EXPECT_EQ(link.clientSeen.failed[0], link.to("c.test"));
  EXPECT_TRUE(link.serverSeen.messages.empty());
  EXPECT_EQ(link.client.failureReason(link.to("c.test")),
            "TLS certificate of c.test does not match the domain: it names b.test");
  EXPECT_EQ(link.client.connectionCount(), 0u);
}

TEST_F(TlsDomainTest, UntrustedCertificateFailsTheSendWithAReason) {
  Link link(io, options(*strangerA_), options(*b_));
  ASSERT_TRUE(link.send("a.test", "OPTIONS sip:a.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return !link.clientSeen.failed.empty(); }));
  const auto reason = link.client.failureReason(link.to("a.test"));
  EXPECT_EQ(reason.rfind("TLS certificate of a.test is not trusted: ", 0), 0u) << reason;
  EXPECT_TRUE(link.serverSeen.messages.empty());
}

TEST_F(TlsDomainTest, VerificationOffAcceptsAnyCertificate) {
  Link link(io, options(*strangerA_), options(*b_, /*verifyDomains=*/false));
  ASSERT_TRUE(link.send("c.test", "OPTIONS sip:c.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return link.serverSeen.messages.size() == 1; }));
  EXPECT_TRUE(link.clientSeen.failed.empty());
  EXPECT_EQ(link.client.failureReason(link.to("c.test")), "");
  // The connection opened for c.test carries c.test's next message too.
  ASSERT_TRUE(link.send("c.test", "MESSAGE sip:c.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return link.serverSeen.messages.size() == 2; }));
  EXPECT_EQ(link.client.connectionCount(), 1u);
  EXPECT_EQ(link.serverSeen.messages[1].from.connection,
            link.serverSeen.messages[0].from.connection);
}

// A connection proven for b.test carries b.test's messages (and those
// without a domain), but not another domain's at the same address: that
// one gets a connection of its own, checked for its domain.
TEST_F(TlsDomainTest, ConnectionsAreReusedOnlyForTheirDomain) {
  Link link(io, options(*b_), options(*a_));
  ASSERT_TRUE(link.send("b.test", "OPTIONS sip:b.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return link.serverSeen.messages.size() == 1; }));
  ASSERT_TRUE(link.send("b.test", "MESSAGE sip:b.test SIP/2.0"));
  ASSERT_TRUE(link.send("", "BYE sip:b.test SIP/2.0"));  // by address, as in-dialog requests go
  ASSERT_TRUE(runUntil(io, [&] { return link.serverSeen.messages.size() == 3; }));
  EXPECT_EQ(link.client.connectionCount(), 1u);
  EXPECT_EQ(link.serverSeen.messages[2].from.connection,
            link.serverSeen.messages[0].from.connection);

  ASSERT_TRUE(link.send("c.test", "OPTIONS sip:c.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return !link.clientSeen.failed.empty(); }));
  EXPECT_EQ(link.clientSeen.failed[0], link.to("c.test"));
  EXPECT_EQ(link.serverSeen.messages.size(), 3u);
  EXPECT_EQ(link.client.connectionCount(), 1u);  // b.test's is still there
  // ... and still found for b.test: the failed attempt did not hide it.
  ASSERT_TRUE(link.send("b.test", "MESSAGE sip:b.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return link.serverSeen.messages.size() == 4; }));
  EXPECT_EQ(link.serverSeen.messages[3].from.connection,
            link.serverSeen.messages[0].from.connection);
  EXPECT_EQ(link.client.connectionCount(), 1u);
}

// Two domains served at one address (checks off, so both handshakes pass):
// each keeps its own connection, however their requests alternate.
TEST_F(TlsDomainTest, DomainsSharingAnAddressKeepAConnectionEach) {
  Link link(io, options(*b_), options(*a_, /*verifyDomains=*/false));
  for (int i = 0; i < 6; ++i) {
    const std::string domain = i % 2 == 0 ? "b.test" : "c.test";
    ASSERT_TRUE(link.send(domain, "MESSAGE sip:" + domain + " SIP/2.0"));
    ASSERT_TRUE(
        runUntil(io, [&] { return link.serverSeen.messages.size() == std::size_t(i + 1); }));
  }
  EXPECT_EQ(link.client.connectionCount(), 2u);
  for (std::size_t i = 2; i < 6; ++i)
    EXPECT_EQ(link.serverSeen.messages[i].from.connection,
              link.serverSeen.messages[i - 2].from.connection)
        << i;
  EXPECT_NE(link.serverSeen.messages[0].from.connection,
            link.serverSeen.messages[1].from.connection);
}

// An in-dialog request goes to the address in a Record-Route entry, without
// a domain. Once the connection that proved the domain is gone, a new one to
// that address is checked for the same domain.
TEST_F(TlsDomainTest, AddressReachedForADomainIsCheckedForItAgain) {
  Recorder secondSeen;
  auto link = std::make_unique<Link>(io, options(*b_), options(*a_));
  ASSERT_TRUE(link->send("b.test", "INVITE sip:b.test SIP/2.0"));
  ASSERT_TRUE(runUntil(io, [&] { return link->serverSeen.messages.size() == 1; }));
  const auto address = *link->server.advertised(Transport::Tls);
  // The client stays; the server goes.
  link->server.shutdown();
  ASSERT_TRUE(runUntil(io, [&] { return link->client.connectionCount() == 0; }));

  // Another server on that address, with a certificate for another domain.
  TransportLayer second(io, secondSeen, options(*a_));
  ASSERT_EQ(second.listen(Transport::Tls, address), "");
  const Flow byAddress{Transport::Tls, address, {}, 0};
  ASSERT_TRUE(link->client.send(byAddress, sipMessage("BYE sip:b.test SIP/2.0")));
  ASSERT_TRUE(runUntil(io, [&] { return !link->clientSeen.failed.empty(); }));
  EXPECT_EQ(link->clientSeen.failed[0], byAddress);
  EXPECT_EQ(link->client.failureReason(byAddress),
            "TLS certificate of b.test does not match the domain: it names a.test");
  EXPECT_TRUE(secondSeen.messages.empty());
}

// Required or only requested, a client certificate that verifies names the
// connection's peer.
TEST_F(TlsDomainTest, MutualTlsGivesTheClientsIdentity) {
  for (const auto clientAuth : {TlsClientAuth::Require, TlsClientAuth::Request}) {
    Link link(io, options(*b_, true, clientAuth), options(*a_));
    ASSERT_TRUE(link.send("b.test", "OPTIONS sip:b.test SIP/2.0"));
    ASSERT_TRUE(runUntil(io, [&] { return link.serverSeen.messages.size() == 1; }));
    const auto* identities =
        link.server.tlsPeerIdentities(link.serverSeen.messages[0].from.connection);
    ASSERT_NE(identities, nullptr);
    EXPECT_EQ(*identities, std::vector<std::string>{"a.test"});
  }
}

TEST_F(TlsDomainTest, RequiredClientCertificateMustBeTrusted) {
  Link link(io, options(*b_, true, TlsClientAuth::Require), options(*strangerA_));
  ASSERT_TRUE(link.send("b.test", "OPTIONS sip:b.test SIP/2.0"));
  // TLS 1.3: the client may finish its side before the server refuses the
  // certificate; either way nothing gets through and the client learns it.
  ASSERT_TRUE(runUntil(
      io, [&] { return !link.clientSeen.failed.empty() || !link.clientSeen.closed.empty(); }));
  runFor(io, 50ms);
  EXPECT_TRUE(link.serverSeen.messages.empty());
}

}  // namespace
}  // namespace tandem::sip
