// RFC 3263 server location against a real DNS server: dnsmasq on 127.0.0.1
// with NAPTR, SRV and address records given on its command line. No external
// DNS is involved.

#include "federation/resolver.hpp"

#include "support/asio_loop.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace tandem::federation {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sip::Transport;

constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";

// Every test's records. Domains under .test are answered only from these
// (--local): anything else is NXDOMAIN.
const std::vector<std::string> kRecords = {
    "--host-record=ready.test,127.0.0.1",
    // a.test: NAPTR → _sip._tcp → sip1 (IPv4 and IPv6).
    "--naptr-record=a.test,10,10,s,SIP+D2T,,_sip._tcp.a.test",
    "--srv-host=_sip._tcp.a.test,sip1.a.test,5070,0,10",
    "--host-record=sip1.a.test,127.0.0.2,fd00::2",
    // b.test: three services, written out of order, plus one we do not speak
    // (SCTP) and one without the "s" flag.
    "--naptr-record=b.test,20,10,s,SIP+D2U,,_sip._udp.b.test",
    "--naptr-record=b.test,10,20,s,SIP+D2T,,_sip._tcp.b.test",
    "--naptr-record=b.test,10,10,s,SIPS+D2T,,_sips._tcp.b.test",
    "--naptr-record=b.test,5,10,s,SIP+D2S,,_sip._sctp.b.test",
    "--naptr-record=b.test,5,10,a,SIP+D2T,,other.b.test",
    "--srv-host=_sips._tcp.b.test,tls.b.test,5061,0,10",
    "--srv-host=_sip._tcp.b.test,tcp.b.test,5060,0,10",
    "--srv-host=_sip._udp.b.test,udp.b.test,5060,0,10",
    "--srv-host=_sip._sctp.b.test,sctp.b.test,5060,0,10",
    "--host-record=tls.b.test,127.0.1.1",
    "--host-record=tcp.b.test,127.0.1.2",
    "--host-record=udp.b.test,127.0.1.3",
    "--host-record=sctp.b.test,127.0.1.4",
    "--host-record=other.b.test,127.0.1.5",
    // c.test: no NAPTR, SRV for UDP and TCP.
    "--srv-host=_sip._udp.c.test,sip.c.test,5080,0,10",
    "--srv-host=_sip._tcp.c.test,sip.c.test,5081,0,10",
    "--host-record=sip.c.test,127.0.2.1",
    // d.test: an address and nothing else.
    "--host-record=d.test,127.0.3.1",
    // w.test: two UDP servers sharing priority 0 by weight, a backup at 1.
    "--srv-host=_sip._udp.w.test,heavy.w.test,5060,0,90",
    "--srv-host=_sip._udp.w.test,light.w.test,5060,0,10",
    "--srv-host=_sip._udp.w.test,backup.w.test,5060,1,100",
    "--host-record=heavy.w.test,127.0.4.1",
    "--host-record=light.w.test,127.0.4.2",
    "--host-record=backup.w.test,127.0.4.3",
    // e.test: an SRV record without target: "no SIP service here" (RFC 2782).
    "--srv-host=_sip._udp.e.test",
    "--host-record=e.test,127.0.5.1",
    // f.test: SRV whose target has no address.
    "--srv-host=_sip._udp.f.test,gone.f.test,5060,0,10",
};

// big.test: more SRV records than fit in a 512-byte UDP answer, so c-ares
// asks again over TCP (truncation).
constexpr int kBigServers = 30;
std::string bigServer(int i) {
  return "server-number-" + std::to_string(i) + ".big.test";
}

std::vector<std::string> allRecords() {
  std::vector<std::string> records = kRecords;
  for (int i = 0; i < kBigServers; ++i) {
    records.push_back("--srv-host=_sip._tcp.big.test," + bigServer(i) + ",5060,0," +
                      std::to_string(100 - i));
    records.push_back("--host-record=" + bigServer(i) + ",127.0.6." + std::to_string(i + 1));
  }
  return records;
}

// A port on 127.0.0.1 that was free a moment ago.
std::uint16_t freeUdpPort() {
  asio::io_context io;
  asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return s.local_endpoint().port();
}

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kDnsmasq, X_OK) != 0) {
      GTEST_SKIP() << kDnsmasq << " not installed (scripts/install-deps.sh: dnsmasq-base)";
    }
    // The port may be taken between choosing it and dnsmasq binding it: then
    // dnsmasq exits and another port is tried.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = freeUdpPort();
      startDnsmasq();
      if (waitUntilAnswering()) return;
      stopDnsmasq();
    }
    FAIL() << "dnsmasq did not start";
  }

  void TearDown() override { stopDnsmasq(); }

  void startDnsmasq() {
    // --keep-in-foreground rather than --no-daemon: in its debug mode dnsmasq
    // serves a TCP connection in its only process, and answers no UDP while
    // c-ares keeps that connection open (TruncatedAnswerIsFetchedOverTcp).
    std::vector<std::string> args = {kDnsmasq,
                                     "--keep-in-foreground",
                                     "--no-resolv",
                                     "--no-hosts",
                                     "--conf-file=/dev/null",
                                     "--listen-address=127.0.0.1",
                                     "--bind-interfaces",
                                     "--port=" + std::to_string(port_),
                                     "--local=/test/",
                                     "--pid-file="};
    const auto records = allRecords();
    args.insert(args.end(), records.begin(), records.end());
    args.insert(args.end(), extraArgs_.begin(), extraArgs_.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, kDnsmasq, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }

  // Polls with a lookup until dnsmasq answers; false if it exited or never did.
  bool waitUntilAnswering() {
    if (pid_ <= 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      Resolver probe(io_, options(100ms, 1));
      auto r = resolve(probe, "sip:ready.test:5060");
      if (r && r->ok()) return true;
      testkit::runFor(io_, 20ms);
    }
    return false;
  }

  // dnsmasq's own records have TTL 0 unless told otherwise. With `soa`, it
  // serves .test authoritatively: negative answers then carry the zone's SOA,
  // as real zones' do.
  bool restartDnsmasqWithTtl(int seconds, bool soa = false) {
    stopDnsmasq();
    extraArgs_ = {"--local-ttl=" + std::to_string(seconds)};
    if (soa) {
      extraArgs_.insert(extraArgs_.end(), {"--auth-server=ns.test,127.0.0.1", "--auth-zone=test",
                                           "--auth-soa=1,hostmaster.test,1200,120,1209600",
                                           "--auth-ttl=" + std::to_string(seconds)});
    }
    startDnsmasq();
    return waitUntilAnswering();
  }

  void stopDnsmasq() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  ResolverOptions options(std::chrono::milliseconds timeout = 1000ms, int tries = 2) const {
    ResolverOptions o;
    o.servers = {testkit::loopback(port_)};
    o.timeout = timeout;
    o.tries = tries;
    o.srvWeightedRandom = false;
    return o;
  }

  // Resolves and runs the loop until the callback; nullopt if it never came.
  // Counts the callbacks, and keeps running a little to catch a second one.
  std::optional<Resolution> resolve(Resolver& resolver, const std::string& text,
                                    std::chrono::milliseconds wait = 5000ms) {
    auto uri = sip::Uri::parse(text);
    EXPECT_TRUE(uri) << text;
    if (!uri) return std::nullopt;
    std::optional<Resolution> result;
    calls_ = 0;
    resolver.resolve(*uri, [&, this](Resolution r) {
      ++calls_;
      result = std::move(r);
    });
    testkit::runUntil(
        io_, [&] { return calls_ > 0; }, wait);
    testkit::runFor(io_, 5ms);
    EXPECT_LE(calls_, 1) << text;
    return result;
  }

  Resolution resolveOk(const std::string& text, ResolverOptions o) {
    Resolver resolver(io_, std::move(o));
    auto r = resolve(resolver, text);
    EXPECT_TRUE(r) << text << ": no callback";
    if (!r) return {};
    EXPECT_EQ(r->error, "") << text;
    EXPECT_EQ(calls_, 1);
    EXPECT_EQ(resolver.pending(), 0u);
    return *r;
  }
  Resolution resolveOk(const std::string& text) { return resolveOk(text, options()); }

  static Target target(Transport t, const char* address, std::uint16_t port, std::string host) {
    return {t, {asio::ip::make_address(address), port}, std::move(host)};
  }

  asio::io_context io_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  int calls_ = 0;
  std::vector<std::string> extraArgs_;  // more dnsmasq options
};

TEST_F(ResolverTest, IpLiteralNeedsNoDns) {
  EXPECT_EQ(resolveOk("sip:bob@127.0.0.9").targets,
            (std::vector{target(Transport::Udp, "127.0.0.9", 5060, "127.0.0.9")}));
  EXPECT_EQ(resolveOk("sip:10.1.2.3;transport=TCP").targets,
            (std::vector{target(Transport::Tcp, "10.1.2.3", 5060, "10.1.2.3")}));
  EXPECT_EQ(resolveOk("sip:10.1.2.3;transport=tls").targets,
            (std::vector{target(Transport::Tls, "10.1.2.3", 5061, "10.1.2.3")}));
  EXPECT_EQ(resolveOk("sips:alice@[::1]:5071").targets,
            (std::vector{target(Transport::Tls, "::1", 5071, "::1")}));
  EXPECT_EQ(resolveOk("sips:[::1];transport=tcp").targets,
            (std::vector{target(Transport::Tls, "::1", 5061, "::1")}));
}

TEST_F(ResolverTest, ExplicitPortTakesTheAddressRecordsOnly) {
  // a.test has NAPTR and SRV records, but with a port they are not consulted.
  EXPECT_EQ(resolveOk("sip:d.test:5099").targets,
            (std::vector{target(Transport::Udp, "127.0.3.1", 5099, "d.test")}));
  EXPECT_EQ(resolveOk("sip:d.test:5099;transport=tcp").targets,
            (std::vector{target(Transport::Tcp, "127.0.3.1", 5099, "d.test")}));
  EXPECT_EQ(resolveOk("sips:d.test:5099").targets,
            (std::vector{target(Transport::Tls, "127.0.3.1", 5099, "d.test")}));
  Resolver resolver(io_, options());
  auto r = resolve(resolver, "sip:a.test:5070");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "no DNS records for a.test");
}

TEST_F(ResolverTest, TransportParameterQueriesThatSrvThenAddresses) {
  EXPECT_EQ(resolveOk("sip:c.test;transport=tcp").targets,
            (std::vector{target(Transport::Tcp, "127.0.2.1", 5081, "sip.c.test")}));
  EXPECT_EQ(resolveOk("sip:c.test;transport=udp").targets,
            (std::vector{target(Transport::Udp, "127.0.2.1", 5080, "sip.c.test")}));
  // No _sip._tcp.d.test: A with the default port of the transport.
  EXPECT_EQ(resolveOk("sip:d.test;transport=tcp").targets,
            (std::vector{target(Transport::Tcp, "127.0.3.1", 5060, "d.test")}));
  EXPECT_EQ(resolveOk("sip:d.test;transport=tls").targets,
            (std::vector{target(Transport::Tls, "127.0.3.1", 5061, "d.test")}));
}

TEST_F(ResolverTest, NaptrToSrvToAddressesChoosesTcp) {
  EXPECT_EQ(resolveOk("sip:bob@a.test").targets,
            (std::vector{target(Transport::Tcp, "127.0.0.2", 5070, "sip1.a.test"),
                         target(Transport::Tcp, "fd00::2", 5070, "sip1.a.test")}));
  auto o = options();
  o.ipv6 = false;
  EXPECT_EQ(resolveOk("sip:bob@a.test", o).targets,
            (std::vector{target(Transport::Tcp, "127.0.0.2", 5070, "sip1.a.test")}));
}

TEST_F(ResolverTest, NaptrRecordsAreTakenByOrderThenPreference) {
  EXPECT_EQ(resolveOk("sip:b.test").targets,
            (std::vector{target(Transport::Tls, "127.0.1.1", 5061, "tls.b.test"),
                         target(Transport::Tcp, "127.0.1.2", 5060, "tcp.b.test"),
                         target(Transport::Udp, "127.0.1.3", 5060, "udp.b.test")}));
  // Without TLS the SIPS+D2T record is skipped.
  auto o = options();
  o.transports = {Transport::Udp, Transport::Tcp};
  EXPECT_EQ(resolveOk("sip:b.test", o).targets,
            (std::vector{target(Transport::Tcp, "127.0.1.2", 5060, "tcp.b.test"),
                         target(Transport::Udp, "127.0.1.3", 5060, "udp.b.test")}));
  o.transports = {Transport::Udp};
  EXPECT_EQ(resolveOk("sip:b.test", o).targets,
            (std::vector{target(Transport::Udp, "127.0.1.3", 5060, "udp.b.test")}));
}

TEST_F(ResolverTest, SipsUsesOnlyTls) {
  EXPECT_EQ(resolveOk("sips:b.test").targets,
            (std::vector{target(Transport::Tls, "127.0.1.1", 5061, "tls.b.test")}));
  // d.test has no SRV for sips: its address with 5061.
  EXPECT_EQ(resolveOk("sips:d.test").targets,
            (std::vector{target(Transport::Tls, "127.0.3.1", 5061, "d.test")}));
  {
    // c.test offers UDP and TCP only, and has no address of its own.
    Resolver resolver(io_, options());
    auto r = resolve(resolver, "sips:c.test");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, "no DNS records for c.test");
  }

  auto o = options();
  o.transports = {Transport::Udp, Transport::Tcp};
  Resolver resolver(io_, o);
  auto r = resolve(resolver, "sips:b.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "no supported transport for sips:b.test");
  EXPECT_TRUE(r->targets.empty());
  r = resolve(resolver, "sips:d.test;transport=udp");
  ASSERT_TRUE(r);
  EXPECT_NE(r->error.find("unsupported transport=udp"), std::string::npos) << r->error;
}

TEST_F(ResolverTest, WithoutNaptrSrvIsQueriedForEachTransport) {
  // _sips._tcp.c.test does not exist; TCP is preferred to UDP.
  EXPECT_EQ(resolveOk("sip:c.test").targets,
            (std::vector{target(Transport::Tcp, "127.0.2.1", 5081, "sip.c.test"),
                         target(Transport::Udp, "127.0.2.1", 5080, "sip.c.test")}));
}

TEST_F(ResolverTest, WithoutNaptrOrSrvTheAddressWithDefaultPort) {
  EXPECT_EQ(resolveOk("sip:d.test").targets,
            (std::vector{target(Transport::Udp, "127.0.3.1", 5060, "d.test")}));
  auto o = options();
  o.transports = {Transport::Tcp, Transport::Tls};
  EXPECT_EQ(resolveOk("sip:d.test", o).targets,
            (std::vector{target(Transport::Tcp, "127.0.3.1", 5060, "d.test")}));
}

TEST_F(ResolverTest, SrvRecordsByPriorityThenWeight) {
  // Deterministic order: weight descending within a priority.
  EXPECT_EQ(resolveOk("sip:w.test").targets,
            (std::vector{target(Transport::Udp, "127.0.4.1", 5060, "heavy.w.test"),
                         target(Transport::Udp, "127.0.4.2", 5060, "light.w.test"),
                         target(Transport::Udp, "127.0.4.3", 5060, "backup.w.test")}));

  // RFC 2782 weighted random: heavy (90) first about nine times in ten, light
  // (10) otherwise; the backup (priority 1) always last.
  auto o = options();
  o.srvWeightedRandom = true;
  Resolver resolver(io_, o);
  int heavyFirst = 0;
  int lightFirst = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = resolve(resolver, "sip:w.test;transport=udp");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->targets.size(), 3u) << r->error;
    EXPECT_EQ(r->targets[2].host, "backup.w.test");
    if (r->targets[0].host == "heavy.w.test") ++heavyFirst;
    if (r->targets[0].host == "light.w.test") ++lightFirst;
  }
  EXPECT_EQ(heavyFirst + lightFirst, 200);
  EXPECT_GT(lightFirst, 0);
  EXPECT_GT(heavyFirst, 3 * lightFirst);
}

TEST_F(ResolverTest, TruncatedAnswerIsFetchedOverTcp) {
  const auto r = resolveOk("sip:big.test;transport=tcp");
  ASSERT_EQ(r.targets.size(), static_cast<std::size_t>(kBigServers));
  for (int i = 0; i < kBigServers; ++i) {
    EXPECT_EQ(r.targets[i], target(Transport::Tcp, ("127.0.6." + std::to_string(i + 1)).c_str(),
                                   5060, bigServer(i)));
  }
}

TEST_F(ResolverTest, SrvTargetDotMeansNoService) {
  Resolver resolver(io_, options());
  auto r = resolve(resolver, "sip:e.test;transport=udp");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "no SIP service at e.test");
  r = resolve(resolver, "sip:f.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "no addresses for the SRV targets of f.test");
}

TEST_F(ResolverTest, UnknownDomainIsAnErrorReportedOnce) {
  Resolver resolver(io_, options());
  auto r = resolve(resolver, "sip:carol@nowhere.test", 5000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "no DNS records for nowhere.test");
  EXPECT_TRUE(r->targets.empty());
  testkit::runFor(io_, 100ms);
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(resolver.pending(), 0u);
}

TEST_F(ResolverTest, UriErrorsComeThroughTheCallback) {
  Resolver resolver(io_, options());
  auto r = resolve(resolver, "tel:+15551234");
  ASSERT_TRUE(r);
  EXPECT_NE(r->error.find("not a SIP or SIPS URI"), std::string::npos) << r->error;
  r = resolve(resolver, "sip:d.test;transport=sctp");
  ASSERT_TRUE(r);
  EXPECT_NE(r->error.find("unsupported transport=sctp"), std::string::npos) << r->error;
  r = resolve(resolver, "sip:d.test;transport=ws");
  ASSERT_TRUE(r);
  EXPECT_NE(r->error.find("transport WS not supported"), std::string::npos) << r->error;
}

TEST_F(ResolverTest, CallbackNeverRunsInsideResolve) {
  Resolver resolver(io_, options());
  bool called = false;
  auto uri = sip::Uri::parse("sip:127.0.0.1");
  ASSERT_TRUE(uri);
  resolver.resolve(*uri, [&](Resolution) { called = true; });
  EXPECT_FALSE(called);
  EXPECT_EQ(resolver.pending(), 1u);
  testkit::runUntil(io_, [&] { return called; });
  EXPECT_TRUE(called);
  EXPECT_EQ(resolver.pending(), 0u);
}

// A server that receives queries and never answers.
class SilentServer {
 public:
  SilentServer() : socket_(io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  core::Endpoint endpoint() const {
    return {socket_.local_endpoint().address(), socket_.local_endpoint().port()};
  }

 private:
  asio::io_context io_;
  asio::ip::udp::socket socket_;
};

TEST_F(ResolverTest, SilentServerTimesOutWithinTimeoutTimesTries) {
  SilentServer silent;
  ResolverOptions o;
  o.servers = {silent.endpoint()};
  o.timeout = 200ms;
  o.tries = 2;
  Resolver resolver(io_, o);
  const auto start = std::chrono::steady_clock::now();
  auto r = resolve(resolver, "sip:a.test", 5000ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r) << "no callback";
  EXPECT_EQ(r->error, "DNS timeout resolving a.test");
  EXPECT_GE(elapsed, 390ms);
  EXPECT_LT(elapsed, 400ms + 500ms);
  testkit::runFor(io_, 300ms);
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(resolver.pending(), 0u);
}

TEST_F(ResolverTest, ClosedServerPortIsAnErrorReportedOnce) {
  // Nothing listens there: the kernel answers with ICMP port unreachable,
  // which c-ares sees as a refused connection (or, if lost, a timeout).
  ResolverOptions o;
  o.servers = {testkit::loopback(freeUdpPort())};
  o.timeout = 200ms;
  o.tries = 2;
  Resolver resolver(io_, o);
  const auto start = std::chrono::steady_clock::now();
  auto r = resolve(resolver, "sip:a.test", 5000ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r) << "no callback";
  EXPECT_TRUE(r->error == "DNS server unreachable resolving a.test" ||
              r->error == "DNS timeout resolving a.test")
      << r->error;
  EXPECT_LT(elapsed, 400ms + 500ms);
  testkit::runFor(io_, 300ms);
  EXPECT_EQ(calls_, 1);
}

TEST_F(ResolverTest, DestroyingWithLookupsPendingCallsNothingBack) {
  SilentServer silent;
  ResolverOptions o;
  o.servers = {silent.endpoint()};
  o.timeout = 100ms;
  o.tries = 2;
  int called = 0;
  auto a = sip::Uri::parse("sip:a.test");
  auto literal = sip::Uri::parse("sip:127.0.0.1");
  ASSERT_TRUE(a && literal);

  // In flight: queries sent, sockets watched, timer armed.
  auto resolver = std::make_unique<Resolver>(io_, o);
  resolver->resolve(*a, [&](Resolution) { ++called; });
  resolver->resolve(*a, [&](Resolution) { ++called; });
  testkit::runFor(io_, 50ms);
  EXPECT_EQ(resolver->pending(), 2u);
  resolver.reset();
  testkit::runFor(io_, 400ms);
  EXPECT_EQ(called, 0);

  // Finished but its callback not run yet.
  resolver = std::make_unique<Resolver>(io_, o);
  resolver->resolve(*literal, [&](Resolution) { ++called; });
  resolver.reset();
  testkit::runFor(io_, 50ms);
  EXPECT_EQ(called, 0);

  // Destroyed by a callback while another lookup is pending.
  resolver = std::make_unique<Resolver>(io_, o);
  resolver->resolve(*a, [&](Resolution) { ++called; });
  resolver->resolve(*literal, [&](Resolution r) {
    ++called;
    EXPECT_TRUE(r.ok());
    resolver.reset();
  });
  testkit::runFor(io_, 400ms);
  EXPECT_EQ(called, 1);
  EXPECT_FALSE(resolver);
}

TEST_F(ResolverTest, ManyConcurrentResolutions) {
  Resolver resolver(io_, options());
  const std::vector<std::string> uris = {"sip:a.test", "sip:b.test", "sip:c.test", "sip:d.test",
                                         "sip:nowhere.test"};
  std::vector<std::string> texts;
  for (int i = 0; i < 20; ++i)
    texts.push_back(uris[i % uris.size()]);
  std::vector<int> calls(texts.size(), 0);
  std::vector<Resolution> results(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto uri = sip::Uri::parse(texts[i]);
    ASSERT_TRUE(uri);
    resolver.resolve(*uri, [&, i](Resolution r) {
      ++calls[i];
      results[i] = std::move(r);
    });
  }
  EXPECT_TRUE(testkit::runUntil(io_, [&] { return resolver.pending() == 0; }));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(calls[i], 1) << texts[i];
    if (texts[i] == "sip:nowhere.test") {
      EXPECT_EQ(results[i].error, "no DNS records for nowhere.test");
    } else {
      EXPECT_TRUE(results[i].ok()) << texts[i] << ": " << results[i].error;
      EXPECT_FALSE(results[i].targets.empty()) << texts[i];
    }
  }
}

}  // namespace
// Answers are kept for their TTL: with dnsmasq gone, a second resolution of
// the same domain through the same resolver still succeeds. TTL 0 (dnsmasq's
// default for its own records) is never kept.
TEST_F(ResolverTest, AnswersAreCachedForTheirTtl) {
  ASSERT_TRUE(restartDnsmasqWithTtl(60));
  Resolver resolver(io_, options(200ms, 1));
  const auto first = resolve(resolver, "sip:bob@a.test");
  ASSERT_TRUE(first && first->ok()) << (first ? first->error : "no callback");
  stopDnsmasq();
  const auto second = resolve(resolver, "sip:bob@A.Test");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->error, "");
  EXPECT_EQ(second->targets, first->targets);
  // A domain never asked is not in the cache: it times out.
  const auto other = resolve(resolver, "sip:c.test");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->ok());

  // Without a cache the same loss is a failure at once.
  auto o = options(200ms, 1);
  o.cacheEntries = 0;
  Resolver uncached(io_, o);
  const auto lost = resolve(uncached, "sip:bob@a.test");
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->ok());
}

// A full cache makes room one answer at a time, the one closest to expiring
// first: the domain just resolved stays whole (emptying the whole cache, as
// it once did, lost its first answers while the later ones went in).
TEST_F(ResolverTest, AFullCacheEvictsTheOldestAnswersOnly) {
  ASSERT_TRUE(restartDnsmasqWithTtl(60));
  // How many answers each domain takes (b.test has more services than a.test).
  Resolver probe(io_, options(200ms, 1));
  const auto onceA = resolve(probe, "sip:bob@a.test");
  ASSERT_TRUE(onceA && onceA->ok());
  const std::size_t forA = probe.cachedAnswers();
  const auto onceB = resolve(probe, "sip:carol@b.test");
  ASSERT_TRUE(onceB && onceB->ok());
  const std::size_t forB = probe.cachedAnswers() - forA;
  ASSERT_GE(forA, 2u);  // NAPTR, SRV, A at least
  ASSERT_LE(forA, forB);

  // Room for b.test and one more: resolving b.test after a.test fills the
  // cache half-way through b.test's answers.
  const std::size_t perDomain = forB;
  auto o = options(200ms, 1);
  o.cacheEntries = perDomain + 1;
  Resolver resolver(io_, o);
  const auto a = resolve(resolver, "sip:bob@a.test");
  ASSERT_TRUE(a && a->ok());
  std::this_thread::sleep_for(20ms);  // b.test's answers expire later than a.test's
  const auto b = resolve(resolver, "sip:carol@b.test");
  ASSERT_TRUE(b && b->ok()) << (b ? b->error : "no callback");
  EXPECT_EQ(resolver.cachedAnswers(), perDomain + 1);
  stopDnsmasq();
  const auto again = resolve(resolver, "sip:carol@b.test");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->error, "");
  EXPECT_EQ(again->targets, b->targets);
}

// A domain that does not exist is remembered as such for the SOA's time
// (RFC 2308): asked again with the DNS server gone, it is still "no records"
// rather than a DNS failure. Without an SOA (dnsmasq's plain --local answers)
// nothing negative is kept.
TEST_F(ResolverTest, NegativeAnswersAreCachedForTheSoaTime) {
  {
    Resolver plain(io_, options(200ms, 1));
    const auto lost = resolve(plain, "sip:someone@nowhere.test");
    ASSERT_TRUE(lost);
    EXPECT_EQ(lost->error, "no DNS records for nowhere.test");
    EXPECT_EQ(plain.cachedAnswers(), 0u);
  }
  ASSERT_TRUE(restartDnsmasqWithTtl(60, true));
  Resolver resolver(io_, options(200ms, 1));
  const auto first = resolve(resolver, "sip:someone@nowhere.test");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->error, "no DNS records for nowhere.test");
  EXPECT_GT(resolver.cachedAnswers(), 0u);
  stopDnsmasq();
  const auto second = resolve(resolver, "sip:someone@NOWHERE.test");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->error, "no DNS records for NOWHERE.test");  // not "unreachable"
}

TEST_F(ResolverTest, ZeroTtlAnswersAreNotCached) {
  Resolver resolver(io_, options(200ms, 1));
  const auto first = resolve(resolver, "sip:bob@a.test");
  ASSERT_TRUE(first && first->ok());
  stopDnsmasq();
  const auto second = resolve(resolver, "sip:bob@a.test");
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->ok()) << "a TTL-0 answer was reused";
}

}  // namespace tandem::federation
