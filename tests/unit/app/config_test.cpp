#include "app/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>

namespace tandem::app {
namespace {

std::string writeTemp(const std::string& text) {
  static int counter = 0;
  auto path =
      std::filesystem::temp_directory_path() / ("tandem-config-test-" + std::to_string(::getpid()) +
                                                "-" + std::to_string(counter++) + ".toml");
  std::ofstream(path) << text;
  return path.string();
}

// The message of the ConfigError thrown by `fn`, or "" when none was thrown.
template <typename Fn>
std::string errorOf(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

// validate()'s message for `c`, "" when it passes.
std::string validationError(Config c) {
  return errorOf([&] { validate(c); });
}

// Whether validate() refuses `c` with a message naming `key`.
bool refusedNaming(Config c, std::string_view key) {
  return validationError(std::move(c)).find(key) != std::string::npos;
}

// A bounded setting: `set(config, v)` stores v; the `ok` values pass, the
// `bad` ones are refused with a message naming `key`.
template <typename Set>
void expectBounds(Set set, std::initializer_list<int> ok, std::initializer_list<int> bad,
                  std::string_view key) {
  for (int v : ok) {
    Config c;
    set(c, v);
    EXPECT_EQ(validationError(c), "") << key << " = " << v;
  }
  for (int v : bad) {
    Config c;
    set(c, v);
    EXPECT_TRUE(refusedNaming(c, key)) << key << " = " << v;
  }
}

TEST(ParseListen, AcceptsTransportsAndIpv6) {
  auto udp = parseListen("k", "udp:0.0.0.0:5060");
  EXPECT_EQ(udp.transport, sip::Transport::Udp);
  EXPECT_EQ(udp.endpoint.port, 5060);
  auto v6 = parseListen("k", "tls:[::1]:5061");
  EXPECT_EQ(v6.transport, sip::Transport::Tls);
  EXPECT_TRUE(v6.endpoint.address.is_v6());
  EXPECT_EQ(v6.endpoint.port, 5061);
}

TEST(ParseListen, RejectsBadValuesNamingKeyAndValue) {
  auto e = errorOf([] { parseListen("sip.listen", "sctp:0.0.0.0:5060"); });
  EXPECT_NE(e.find("sip.listen"), std::string::npos);
  EXPECT_NE(e.find("sctp:0.0.0.0:5060"), std::string::npos);
  EXPECT_NE(e.find("unknown transport"), std::string::npos);
  EXPECT_NE(errorOf([] { parseListen("k", "udp:nothost:5060"); }).find("not an IP address"),
            std::string::npos);
  EXPECT_NE(errorOf([] { parseListen("k", "udp:1.2.3.4:70000"); }).find("port"), std::string::npos);
  EXPECT_NE(errorOf([] { parseListen("k", "udp"); }).find("TRANSPORT:HOST:PORT"),
            std::string::npos);
}

TEST(Validate, FillsDefaultListeners) {
  Config c;
  validate(c);
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].transport, sip::Transport::Udp);
  EXPECT_EQ(c.listen[1].transport, sip::Transport::Tcp);
  EXPECT_EQ(c.listen[0].endpoint.port, 5060);
}

TEST(Validate, TlsListenerNeedsCertificate) {
  Config c;
  c.listen.push_back(parseListen("sip.listen", "tls:127.0.0.1:5061"));
  EXPECT_TRUE(refusedNaming(c, "tls.cert"));
}

TEST(Validate, ExpiresOrderingIsChecked) {
  Config c;
  c.minExpires = 100;
  c.maxExpires = 50;
  EXPECT_TRUE(refusedNaming(c, "registrar.max_expires"));
}

TEST(Validate, DomainMustBeAHostName) {
  Config c;
  c.domain = "bad domain";
  EXPECT_TRUE(refusedNaming(c, "server.domain"));
}

TEST(Validate, UdpBatchDelayIsBounded) {
  EXPECT_EQ(Config{}.udpBatchDelay.count(), 2000);  // the documented default
  expectBounds([](Config& c, int us) { c.udpBatchDelay = std::chrono::microseconds(us); },
               {0, 5000}, {5001, -1}, "sip.udp_batch_delay_us");
}

TEST(Validate, TryingDelayIsBoundedByTheRfcs200Ms) {
  EXPECT_EQ(Config{}.tryingDelay.count(), 80);  // the documented default
  expectBounds([](Config& c, int ms) { c.tryingDelay = std::chrono::milliseconds(ms); }, {0, 200},
               {201, -1}, "sip.trying_delay_ms");
}

TEST(LoadConfigFile, ReadsEveryKind) {
  Config c;
  const auto path = writeTemp(R"(
[server]
domain = "example.com"
log_level = "debug"
[sip]
listen = ["udp:127.0.0.1:5070"]
t1_ms = 250
udp_batch_delay_us = 1000
trying_delay_ms = 0
[registrar]
min_expires = 30
)");
  loadConfigFile(path, c);
  validate(c);
  EXPECT_EQ(c.domain, "example.com");
  EXPECT_EQ(c.logLevel, "debug");
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].endpoint.port, 5070);
  EXPECT_EQ(c.t1.count(), 250);
  EXPECT_EQ(c.udpBatchDelay.count(), 1000);
  EXPECT_EQ(c.tryingDelay.count(), 0);
  EXPECT_EQ(c.minExpires, 30);
  std::filesystem::remove(path);
}

TEST(LoadConfigFile, UnknownKeyWrongTypeAndSyntaxErrorsAreNamed) {
  Config c;
  auto unknown = writeTemp("[sip]\nlisten_on = []\n");
  EXPECT_NE(errorOf([&] { loadConfigFile(unknown, c); }).find("sip.listen_on"), std::string::npos);
  auto wrongType = writeTemp("[registrar]\nmin_expires = \"soon\"\n");
  auto e = errorOf([&] { loadConfigFile(wrongType, c); });
  EXPECT_NE(e.find("registrar.min_expires"), std::string::npos);
  EXPECT_NE(e.find("integer"), std::string::npos);
  auto syntax = writeTemp("[server\n");
  EXPECT_NE(errorOf([&] { loadConfigFile(syntax, c); }).find("line 1"), std::string::npos);
  EXPECT_NE(errorOf([&] { loadConfigFile("/nonexistent/tandem.toml", c); }), "");
  for (auto& p : {unknown, wrongType, syntax})
    std::filesystem::remove(p);
}

// ---- [federation]: TLS between domains (RFC 5922), mutual TLS, peers --------

// The configuration in `toml`, loaded and validated.
// A configuration file's text, loaded and validated.
Config loadAndValidate(const std::string& toml) {
  Config c;
  const auto path = writeTemp(toml);
  loadConfigFile(path, c);
  std::filesystem::remove(path);
  validate(c);
  return c;
}

// validate() only checks that tls.cert and tls.key are files (the transport
// loads them): any file of the test data will do.
std::string tlsSection() {
  const std::string file = TANDEM_TEST_DATA_DIR "/rfc4475/README.md";
  return "[tls]\ncert = \"" + file + "\"\nkey = \"" + file + "\"\n";
}

TEST(FederationConfig, DefaultsVerifyAndAllowAnyPeer) {
  Config c;
  validate(c);
  EXPECT_TRUE(c.federationTlsVerify);
  EXPECT_EQ(c.tlsClientAuth, sip::TlsClientAuth::None);
  EXPECT_TRUE(c.peers.empty());
  EXPECT_EQ(c.failoverTimeout, std::chrono::milliseconds(5000));
}

TEST(FederationConfig, ReadsEveryKey) {
  const auto c = loadAndValidate(tlsSection() + R"(
[sip]
listen = ["udp:127.0.0.1:5060", "tls:127.0.0.1:5061"]
[federation]
tls_verify = false
failover_timeout_ms = 2500
tls_client_auth = "require"
peers = ["B.Example.", "c.example"]
[federation.routes]
"b.example" = "tls:192.0.2.7:5061"
)");
  EXPECT_FALSE(c.federationTlsVerify);
  EXPECT_EQ(c.failoverTimeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c.tlsClientAuth, sip::TlsClientAuth::Require);
  EXPECT_EQ(c.peers, (std::vector<std::string>{"b.example", "c.example"}));
  ASSERT_EQ(c.staticRoutes.size(), 1u);
  EXPECT_EQ(c.staticRoutes[0].second.transport, sip::Transport::Tls);

  const auto request = loadAndValidate(tlsSection() +
                                       "[sip]\nlisten = [\"tls:127.0.0.1:5061\"]\n"
                                       "[federation]\ntls_client_auth = \"request\"\n");
  EXPECT_EQ(request.tlsClientAuth, sip::TlsClientAuth::Request);
}

// Route keys take the same form as peers and request hosts (lower case, no
// trailing dot): a route written "B.Example." serves b.example and passes
// the peers check.
TEST(FederationConfig, RouteDomainsAreNormalisedLikePeers) {
  const auto c = loadAndValidate(R"(
[federation]
peers = ["b.example"]
[federation.routes]
"B.Example." = "udp:192.0.2.7:5060"
)");
  ASSERT_EQ(c.staticRoutes.size(), 1u);
  EXPECT_EQ(c.staticRoutes[0].first, "b.example");
}

TEST(FederationConfig, BadValuesNameKeyValueAndReason) {
  const auto errorFor = [](const std::string& toml) {
    return errorOf([&] { loadAndValidate(toml); });
  };
  auto e = errorFor("[federation]\ntls_verify = \"yes\"\n");
  EXPECT_NE(e.find("federation.tls_verify"), std::string::npos) << e;
  EXPECT_NE(e.find("true or false"), std::string::npos) << e;

  e = errorFor("[federation]\nfailover_timeout_ms = 100\n");
  EXPECT_NE(e.find("'federation.failover_timeout_ms' = '100'"), std::string::npos) << e;
  EXPECT_NE(e.find("between 500 and 30000"), std::string::npos) << e;
  EXPECT_EQ(loadAndValidate("[federation]\nfailover_timeout_ms = 0\n").failoverTimeout.count(), 0);

  e = errorFor("[federation]\ntls_client_auth = \"sometimes\"\n");
  EXPECT_NE(e.find("'federation.tls_client_auth' = 'sometimes'"), std::string::npos) << e;
  EXPECT_NE(e.find("none, request"), std::string::npos) << e;

  // Client certificates are a TLS listener's business.
  e = errorFor("[federation]\ntls_client_auth = \"require\"\n");
  EXPECT_NE(e.find("federation.tls_client_auth"), std::string::npos) << e;
  EXPECT_NE(e.find("TLS listeners"), std::string::npos) << e;

  for (const char* peer : {"*.example", "", "b example", "-b.example"}) {
    e = errorFor(std::string("[federation]\npeers = [\"") + peer + "\"]\n");
    EXPECT_NE(e.find("federation.peers"), std::string::npos) << peer << ": " << e;
    EXPECT_NE(e.find("domain name"), std::string::npos) << peer << ": " << e;
  }
  e = errorFor("[server]\ndomain = \"A.example\"\n[federation]\npeers = [\"a.example\"]\n");
  EXPECT_NE(e.find("own domain"), std::string::npos) << e;
  e = errorFor("[federation]\npeers = \"b.example\"\n");
  EXPECT_NE(e.find("federation.peers"), std::string::npos) << e;

  // A static route to a domain that is not a peer could never be used.
  e = errorFor(
      "[federation]\npeers = [\"b.example\"]\n[federation.routes]\n\"c.example\" = "
      "\"udp:192.0.2.8:5060\"\n");
  EXPECT_NE(e.find("federation.routes.c.example"), std::string::npos) << e;
  EXPECT_NE(e.find("not in federation.peers"), std::string::npos) << e;
}

// The gateway's keys: read, defaulted, and refused out of range by name.

TEST(GatewayConfig, DefaultsAndEveryKey) {
  Config defaults;
  validate(defaults);
  EXPECT_EQ(defaults.gatewayRingTimeout, std::chrono::seconds(120));
  EXPECT_EQ(defaults.gatewayMaxLoginFailures, 10);

  const auto c = loadAndValidate(R"(
[gateway]
ring_timeout = 30
session_expires = 0
min_session_expires = 120
offer_timeout = 5
max_calls_per_connection = 4
max_login_failures = 0
login_failure_window = 600
)");
  EXPECT_EQ(c.gatewayRingTimeout, std::chrono::seconds(30));
  EXPECT_EQ(c.gatewaySessionExpires, 0);
  EXPECT_EQ(c.gatewayMinSessionExpires, 120);
  EXPECT_EQ(c.gatewayOfferTimeout, std::chrono::seconds(5));
  EXPECT_EQ(c.gatewayMaxCalls, 4);
  EXPECT_EQ(c.gatewayMaxLoginFailures, 0);
  EXPECT_EQ(c.gatewayLoginFailureWindow, std::chrono::seconds(600));
}

TEST(GatewayConfig, BadValuesNameKeyValueAndReason) {
  const auto errorFor = [](const std::string& toml) {
    return errorOf([&] { loadAndValidate(toml); });
  };
  auto e = errorFor("[gateway]\nring_timeout = 0\n");
  EXPECT_NE(e.find("'gateway.ring_timeout' = '0'"), std::string::npos) << e;
  e = errorFor("[gateway]\nmin_session_expires = 60\n");
  EXPECT_NE(e.find("gateway.min_session_expires"), std::string::npos) << e;
  EXPECT_NE(e.find("at least 90"), std::string::npos) << e;
  e = errorFor("[gateway]\nsession_expires = 100\nmin_session_expires = 120\n");
  EXPECT_NE(e.find("gateway.session_expires"), std::string::npos) << e;
  e = errorFor("[gateway]\nmax_calls_per_connection = 0\n");
  EXPECT_NE(e.find("gateway.max_calls_per_connection"), std::string::npos) << e;
  e = errorFor("[gateway]\noffer_timeout = \"10s\"\n");
  EXPECT_NE(e.find("gateway.offer_timeout"), std::string::npos) << e;
  EXPECT_NE(e.find("integer"), std::string::npos) << e;
  e = errorFor("[gateway]\nring = 5\n");
  EXPECT_NE(e.find("gateway.ring"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
}

}  // namespace
}  // namespace tandem::app
