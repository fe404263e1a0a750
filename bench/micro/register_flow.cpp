// Deterministic driver of the whole REGISTER path, for callgrind: what
// sip_bench's register.xml does over UDP (REGISTER -> 401 -> REGISTER with
// MD5 credentials -> 200), fed to the transaction layer in process, with the
// real registrar, authenticator, proxy and SQLite user store. No sockets: the
// kernel's share is not here, every instruction of Tandem's own is.
//
//   register_flow [registrations] [users]
//   valgrind --tool=callgrind
//     --toggle-collect='tandem::sip::TransactionLayer::onMessage*'
//     build/<dir>/bench/micro/register_flow 2000
// Instructions per registration = Ir collected / registrations (both
// requests: the one challenged and the one authenticated).
#include "core/timer_service.hpp"
#include "proxy/proxy.hpp"
#include "registrar/authenticator.hpp"
#include "registrar/cached_user_store.hpp"
#include "registrar/digest.hpp"
#include "registrar/registrar.hpp"
#include "sip/transaction/transaction_layer.hpp"
#include "store/sqlite_store.hpp"

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>

#include "count_allocations.hpp"

namespace {

using namespace tandem;
constexpr const char* kDomain = "bench.test";

// Keeps the last message sent; Tandem's answers are read back from it.
class LastSender final : public sip::TransportSender {
 public:
  bool send(const sip::Flow&, std::string data) override {
    last = std::move(data);
    ++count;
    return true;
  }
  std::optional<core::Endpoint> advertised(sip::Transport) const override {
    return core::Endpoint{boost::asio::ip::make_address("127.0.0.3"), 5060};
  }
  std::string last;
  long count = 0;
};

std::string between(const std::string& text, const std::string& start, char end) {
  const auto b = text.find(start);
  if (b == std::string::npos) return {};
  const auto s = b + start.size();
  return text.substr(s, text.find(end, s) - s);
}

std::string registerText(const std::string& user, long n, int cseq, const std::string& auth) {
  return fmt::format(
      "REGISTER sip:{0} SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 127.0.0.12:5060;branch=z9hG4bK-{2}-{3}\r\n"
      "Max-Forwards: 70\r\n"
      "From: <sip:{1}@{0}>;tag={2}SIPpTag00{2}\r\n"
      "To: <sip:{1}@{0}>\r\n"
      "Call-ID: {2}-4711@127.0.0.12\r\n"
      "CSeq: {3} REGISTER\r\n"
      "Contact: <sip:{1}@127.0.0.12:5060>\r\n"
      "Expires: 3600\r\n"
      "{4}"
      "User-Agent: sipp-bench\r\n"
      "Content-Length: 0\r\n\r\n",
      kDomain, user, n, cseq, auth);
}

}  // namespace

int main(int argc, char** argv) {
  const long registrations = argc > 1 ? std::atol(argv[1]) : 2000;
  const long users = argc > 2 ? std::atol(argv[2]) : 1000;
  if (registrations < 1 || users < 1) {
    std::fprintf(stderr, "usage: register_flow [registrations] [users]\n");
    return 2;
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("tandem-register-flow-{}", static_cast<long>(::getpid()));
  std::string error;
  auto db = store::SqliteStore::open(dir, error);
  if (!db) {
    std::fprintf(stderr, "register_flow: %s\n", error.c_str());
    return 1;
  }
  for (long i = 0; i < users; ++i) {
    const auto name = fmt::format("u{:05d}", i);
    const auto pw = "pw-" + name;
    db->putUser({name, kDomain,
                 registrar::computeHa1(registrar::DigestAlgorithm::Md5, name, kDomain, pw),
                 registrar::computeHa1(registrar::DigestAlgorithm::Sha256, name, kDomain, pw)});
  }

  core::FakeTimerService timers;
  LastSender sender;
  sip::TransactionLayer transactions(timers, sender, sip::TimerConfig{});
  registrar::NonceManager nonces(registrar::randomSecret(), std::chrono::seconds(300));
  registrar::CachedUserStore userCache(*db);
  registrar::Authenticator auth(kDomain, userCache, nonces);
  registrar::Registrar registrar({kDomain, 60, 7200, 3600}, transactions, auth, *db, {});
  registrar.load();
  proxy::ProxyConfig proxyConfig;
  proxyConfig.domain = kDomain;
  proxy::Proxy proxy(proxyConfig, transactions, sender, registrar, auth, userCache, timers);
  transactions.setUser(&proxy);

  sip::Flow from;
  from.transport = sip::Transport::Udp;
  from.remote = core::Endpoint{boost::asio::ip::make_address("127.0.0.12"), 5060};
  from.local = core::Endpoint{boost::asio::ip::make_address("127.0.0.3"), 5060};

  long ok = 0;
  long allocationsBefore = 0;
  for (long n = 0; n < registrations; ++n) {
    // The first round binds every user; the rest refresh (what sip_bench measures).
    if (n == std::min(users, registrations - 1))
      allocationsBefore = tandem::bench::allocations.load();
    const auto name = fmt::format("u{:05d}", n % users);
    transactions.onMessage(registerText(name, n, 1, ""), from);
    const std::string nonce = between(sender.last, "nonce=\"", '"');
    if (sender.last.rfind("SIP/2.0 401", 0) != 0 || nonce.empty()) {
      std::fprintf(stderr, "register_flow: no challenge:\n%s\n", sender.last.c_str());
      return 1;
    }
    const auto ha1 =
        registrar::computeHa1(registrar::DigestAlgorithm::Md5, name, kDomain, "pw-" + name);
    const std::string cnonce = fmt::format("{:08x}", n);
    const std::string uri = fmt::format("sip:{}", kDomain);
    const auto response = registrar::computeResponse(registrar::DigestAlgorithm::Md5, ha1, nonce,
                                                     "00000001", cnonce, "auth", "REGISTER", uri);
    const auto credentials = fmt::format(
        "Authorization: Digest username=\"{}\",realm=\"{}\",cnonce=\"{}\",nc=00000001,"
        "qop=auth,uri=\"{}\",nonce=\"{}\",response=\"{}\",algorithm=MD5\r\n",
        name, kDomain, cnonce, uri, nonce, response);
    transactions.onMessage(registerText(name, n, 2, credentials), from);
    if (sender.last.rfind("SIP/2.0 200", 0) == 0) ++ok;
  }
  db.reset();
  std::filesystem::remove_all(dir);
  const long refreshes = registrations - std::min(users, registrations - 1);
  std::printf(
      "%ld registrations, %ld answered 200, %ld messages sent, %.1f allocations per "
      "refreshing registration\n",
      registrations, ok, sender.count,
      static_cast<double>(tandem::bench::allocations.load() - allocationsBefore) /
          static_cast<double>(refreshes));
  return ok == registrations ? 0 : 1;
}
