// ws_load: a load client for SIP over WebSocket (RFC 7118), our own, not a
// browser. It opens connections with subprotocol "sip", registers a user on
// each with MD5 digest (401, then credentials), keeps them open with CRLF
// keep-alives, and re-registers on the open connections (the nonce reused
// with the next nonce-count, as browsers do). It prints one JSON line per
// phase on stdout, for bench/ws_bench.py.
//
//   ws_load --port 8080 --domain bench.test --users 19000 [--window 200]
//           [--reregister-seconds 10] [--hold-seconds 0] [--first 0]
//
// User i is "u%05d" (from --first) with password "pw-u%05d". Phases:
//   connect     open and register every user (at most --window in flight)
//   hold        keep them open for --hold-seconds (prints "holding" as it starts)
//   reregister  re-REGISTER on open connections for --reregister-seconds
// Every phase is bounded in time; a connection that fails is counted, not retried.

#include <openssl/evp.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  std::string domain = "bench.test";
  int users = 1000;
  int first = 0;
  int window = 200;
  double reregisterSeconds = 10;
  double holdSeconds = 0;
  double phaseLimitSeconds = 300;  // no phase runs longer
};

std::string md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// The value of `name="..."` or `name=token` in a challenge.
std::string param(std::string_view header, std::string_view name) {
  std::size_t at = 0;
  while ((at = header.find(name, at)) != std::string_view::npos) {
    const bool boundary = at == 0 || header[at - 1] == ' ' || header[at - 1] == ',';
    at += name.size();
    if (!boundary || at >= header.size() || header[at] != '=') continue;
    ++at;
    if (at < header.size() && header[at] == '"') {
      const auto end = header.find('"', at + 1);
      return std::string(header.substr(at + 1, end - at - 1));
    }
    const auto end = header.find_first_of(", \r", at);
    return std::string(header.substr(at, end - at));
  }
  return {};
}

std::string headerValue(std::string_view message, std::string_view name) {
  const auto at = message.find(std::string("\r\n") + std::string(name) + ":");
  if (at == std::string_view::npos) return {};
  const auto start = at + 3 + name.size();
  const auto end = message.find("\r\n", start);
  auto v = message.substr(start, end - start);
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  return std::string(v);
}

int statusOf(std::string_view message) {
  if (!message.starts_with("SIP/2.0 ") || message.size() < 11) return 0;
  return std::atoi(std::string(message.substr(8, 3)).c_str());
}

class Load;

class Client : public std::enable_shared_from_this<Client> {
 public:
  enum class State { Idle, Connecting, Registering, Registered, Failed };

  Client(Load& load, asio::io_context& io, int index);
  void start();       // connect + register
  bool reregister();  // one more REGISTER on the open connection
  void keepAlive();
  State state = State::Idle;
  bool busy = false;  // a REGISTER is in flight

 private:
  void onRead(beast::error_code ec);
  void sendRegister(bool withCredentials);
  void fail(const char* why);

  Load& load_;
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  std::string user_, password_, callId_, fromTag_, instanceHost_;
  std::string realm_, nonce_;
  unsigned nc_ = 0;
  unsigned cseq_ = 0;
  int index_;

  void write(std::string text);
  void flush();
};

class Load {
 public:
  Load(asio::io_context& io, Options options) : io_(io), opts_(std::move(options)) {}

  void run() {
    clients_.reserve(opts_.users);
    for (int i = 0; i < opts_.users; ++i)
      clients_.push_back(std::make_shared<Client>(*this, io_, opts_.first + i));
    connectPhase();
    holdPhase();
    reregisterPhase();
  }

  // Called by clients.
  void registered(Client&) { ++done_, --inFlight_; }
  void reregistered(Client&) { ++done_, --inFlight_; }
  void failed(Client&, const char* why) {
    ++failed_, --inFlight_;
    if (failed_ <= 5) std::fprintf(stderr, "ws_load: a client failed: %s\n", why);
  }
  const Options& options() const { return opts_; }
  tcp::endpoint endpoint() const { return {asio::ip::make_address(opts_.host), opts_.port}; }

 private:
  void resetCounters() { done_ = failed_ = inFlight_ = 0; }

  void report(const char* phase, double seconds, long attempts) {
    std::printf(
        "{\"phase\":\"%s\",\"done\":%ld,\"failed\":%ld,\"attempts\":%ld,\"seconds\":%.3f,"
        "\"rate\":%.1f,\"open\":%ld}\n",
        phase, done_, failed_, attempts, seconds, seconds > 0 ? done_ / seconds : 0.0, openCount());
    std::fflush(stdout);
  }

  long openCount() const {
    long n = 0;
    for (const auto& c : clients_)
      n += c->state == Client::State::Registered;
    return n;
  }

  void connectPhase() {
    resetCounters();
    const auto t0 = Clock::now();
    const auto limit = t0 + std::chrono::duration<double>(opts_.phaseLimitSeconds);
    std::size_t next = 0;
    while ((next < clients_.size() || inFlight_ > 0) && Clock::now() < limit) {
      while (next < clients_.size() && inFlight_ < opts_.window) {
        ++inFlight_;
        clients_[next++]->start();
      }
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    report("connect", std::chrono::duration<double>(Clock::now() - t0).count(),
           static_cast<long>(next));
  }

  void holdPhase() {
    if (opts_.holdSeconds <= 0) return;
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration<double>(opts_.holdSeconds);
    auto nextPing = t0 + std::chrono::seconds(20);
    std::printf("{\"phase\":\"holding\",\"open\":%ld}\n", openCount());
    std::fflush(stdout);
    while (Clock::now() < end) {
      io_.run_one_for(std::chrono::milliseconds(100));
      if (Clock::now() >= nextPing) {
        for (auto& c : clients_)
          c->keepAlive();
        nextPing += std::chrono::seconds(20);
      }
    }
    resetCounters();
    report("hold", std::chrono::duration<double>(Clock::now() - t0).count(), 0);
  }

  void reregisterPhase() {
    if (opts_.reregisterSeconds <= 0) return;
    resetCounters();
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration<double>(opts_.reregisterSeconds);
    long attempts = 0;
    std::size_t cursor = 0;
    while (Clock::now() < end) {
      // Keep `window` REGISTERs in flight, round-robin over open connections.
      std::size_t scanned = 0;
      while (inFlight_ < opts_.window && scanned < clients_.size()) {
        auto& c = clients_[cursor];
        cursor = (cursor + 1) % clients_.size();
        ++scanned;
        if (c->reregister()) {
          ++inFlight_;
          ++attempts;
        }
      }
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    // Let the last ones finish (not counted in the rate's time, but in done).
    const auto drain = Clock::now() + std::chrono::seconds(5);
    while (inFlight_ > 0 && Clock::now() < drain)
      io_.run_one_for(std::chrono::milliseconds(50));
    report("reregister", seconds, attempts);
  }

  asio::io_context& io_;
  Options opts_;
  std::vector<std::shared_ptr<Client>> clients_;
  long done_ = 0, failed_ = 0, inFlight_ = 0;
};

Client::Client(Load& load, asio::io_context& io, int index) : load_(load), ws_(io), index_(index) {
  char name[32];
  std::snprintf(name, sizeof name, "u%05d", index);
  user_ = name;
  password_ = "pw-" + user_;
  std::mt19937_64 rng(static_cast<std::uint64_t>(index) * 7919 + 17);
  const auto token = [&rng] {
    static const char* a = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (int i = 0; i < 10; ++i)
      s += a[rng() % 36];
    return s;
  };
  callId_ = token() + token();
  fromTag_ = token();
  instanceHost_ = token() + ".invalid";
}

void Client::start() {
  state = State::Connecting;
  busy = true;
  auto self = shared_from_this();
  ws_.next_layer().async_connect(load_.endpoint(), [self](beast::error_code ec) {
    if (ec) return self->fail("connect");
    self->ws_.next_layer().set_option(tcp::no_delay(true));
    self->ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
      r.set(beast::http::field::sec_websocket_protocol, "sip");
    }));
    self->ws_.async_handshake(self->load_.options().host, "/ws", [self](beast::error_code ec) {
      if (ec) return self->fail("handshake");
      self->ws_.text(true);
      self->state = State::Registering;
      self->ws_.async_read(self->buffer_,
                           [self](beast::error_code e, std::size_t) { self->onRead(e); });
      self->sendRegister(false);
    });
  });
}

bool Client::reregister() {
  if (state != State::Registered || busy) return false;
  busy = true;
  sendRegister(true);
  return true;
}

void Client::keepAlive() {
  if (state == State::Registered) write("\r\n\r\n");
}

void Client::sendRegister(bool withCredentials) {
  const auto& domain = load_.options().domain;
  const std::string uri = "sip:" + domain;
  std::string auth;
  if (withCredentials) {
    char ncText[16];
    std::snprintf(ncText, sizeof ncText, "%08x", ++nc_);
    const std::string cnonce = "c0ffee" + std::to_string(nc_);
    const auto ha1 = md5Hex(user_ + ":" + realm_ + ":" + password_);
    const auto ha2 = md5Hex("REGISTER:" + uri);
    const auto response = md5Hex(ha1 + ":" + nonce_ + ":" + ncText + ":" + cnonce + ":auth:" + ha2);
    auth = "Authorization: Digest username=\"" + user_ + "\", realm=\"" + realm_ + "\", nonce=\"" +
           nonce_ + "\", uri=\"" + uri + "\", response=\"" + response +
           "\", algorithm=MD5, qop=auth, nc=" + ncText + ", cnonce=\"" + cnonce + "\"\r\n";
  }
  ++cseq_;
  std::string m = "REGISTER " + uri + " SIP/2.0\r\n";
  m += "Via: SIP/2.0/WS " + instanceHost_ + ";branch=z9hG4bK" + callId_.substr(0, 8) +
       std::to_string(cseq_) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "To: <sip:" + user_ + "@" + domain + ">\r\n";
  m += "From: <sip:" + user_ + "@" + domain + ">;tag=" + fromTag_ + "\r\n";
  m += "Call-ID: " + callId_ + "\r\n";
  m += "CSeq: " + std::to_string(cseq_) + " REGISTER\r\n";
  m += "Contact: <sip:" + user_ + "@" + instanceHost_ + ";transport=ws>;expires=600\r\n";
  m += auth;
  m += "Supported: path,outbound\r\nUser-Agent: tandem-ws-load\r\nContent-Length: 0\r\n\r\n";
  write(std::move(m));
}

void Client::write(std::string text) {
  outbox_.push_back(std::move(text));
  flush();
}

void Client::flush() {
  if (writing_ || outbox_.empty()) return;
  writing_ = true;
  auto self = shared_from_this();
  ws_.async_write(asio::buffer(outbox_.front()), [self](beast::error_code ec, std::size_t) {
    self->writing_ = false;
    self->outbox_.pop_front();
    if (ec) return self->fail("write");
    self->flush();
  });
}

void Client::onRead(beast::error_code ec) {
  if (ec) return fail("read (connection closed)");
  const std::string message = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  auto self = shared_from_this();
  ws_.async_read(buffer_, [self](beast::error_code e, std::size_t) { self->onRead(e); });
  const int status = statusOf(message);
  if (status == 0 || status < 200) return;  // a CRLF pong, a request, a 100
  if (status == 401) {
    const auto challenge = headerValue(message, "WWW-Authenticate");
    realm_ = param(challenge, "realm");
    nonce_ = param(challenge, "nonce");
    nc_ = 0;
    if (nonce_.empty()) return fail("401 without a nonce");
    sendRegister(true);
    return;
  }
  if (status != 200) return fail("REGISTER not accepted");
  busy = false;
  if (state == State::Registering) {
    state = State::Registered;
    load_.registered(*this);
  } else {
    load_.reregistered(*this);
  }
}

void Client::fail(const char* why) {
  if (state == State::Failed) return;
  const bool counted = busy;
  state = State::Failed;
  busy = false;
  beast::error_code ignored;
  ws_.next_layer().close(ignored);
  if (counted) load_.failed(*this, why);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = static_cast<unsigned short>(std::stoi(v));
    else if (k == "--domain")
      o.domain = v;
    else if (k == "--users")
      o.users = std::stoi(v);
    else if (k == "--first")
      o.first = std::stoi(v);
    else if (k == "--window")
      o.window = std::stoi(v);
    else if (k == "--reregister-seconds")
      o.reregisterSeconds = std::stod(v);
    else if (k == "--hold-seconds")
      o.holdSeconds = std::stod(v);
    else if (k == "--phase-limit")
      o.phaseLimitSeconds = std::stod(v);
    else {
      std::fprintf(stderr, "ws_load: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  asio::io_context io(1);
  Load load(io, o);
  load.run();
  return 0;
}
