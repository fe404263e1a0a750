// json_load: a load client for the site protocol tandem.v1 (JSON-RPC 2.0 over
// WebSocket, docs/protocol.md), our own, not a browser. It opens --pairs
// caller and --pairs callee connections, logs each in, then places calls at a
// fixed rate, open loop, for bench/gateway_bench.py:
//
//   caller `call` {to, sdp}  → callee gets `call.incoming` → (--ring-ms)
//   callee `answer` {sdp}    → caller gets `call.answered`
//   (--hold-ms)  caller `hangup` → both get `call.ended`
//
// Setup latency is the time from sending `call` to receiving `call.answered`.
// Caller i is PREFIXc%04d, its callee PREFIXd%04d (the same i), passwords
// "pw-NAME"; they must exist (`tandem user add`). The SDP is a small fixed fake
// offer/answer whose o= session id carries the call's number, so the callee's
// `call.incoming` is matched to the caller's `call`.
//
//   json_load --caller-host 127.0.0.2 --callee-host 127.0.0.2 [--port 8080]
//             [--to-domain b.test] --pairs 50 --rate 1000 --count 5000
//             [--duration 10] [--hold-ms 100] [--hold-max-ms 100] [--ring-ms 0]
//             [--call-timeout 5] [--login-timeout 20] [--prefix g]
//
// Bounded: placing stops after --count calls or --duration seconds, whichever
// comes first; then it waits at most --call-timeout + hold + 1 s for the calls
// in progress. Prints one JSON line on stdout (exit status 0), or one with an
// "error" member (exit status 1) when the connections cannot log in.
//
// With --stdin, the connections stay logged in for several runs: after the
// logins it prints {"phase":"ready",...}, then reads lines "RATE COUNT
// DURATION" from stdin and runs each, printing its JSON line, until "quit" or
// the end of input (between runs nothing is sent: the server is idle while the
// bench script reads its CPU time).

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

struct Options {
  std::string callerHost = "127.0.0.1";
  std::string calleeHost = "127.0.0.1";
  unsigned short callerPort = 8080;
  unsigned short calleePort = 8080;
  std::string toDomain;  // empty: call the callee by user name (same domain)
  std::string prefix = "g";
  int pairs = 50;
  double rate = 100;
  long count = 1000;
  double duration = 30;  // seconds of placing calls, at most
  double holdMs = 100;
  double holdMaxMs = -1;  // > holdMs: uniform hold in [holdMs, holdMaxMs]
  double ringMs = 0;
  double callTimeout = 5;  // seconds from `call` to both `call.ended`, hold excluded
  double loginTimeout = 20;
  int maxCallsPerConnection = 16;  // Tandem's gateway limit
  int sdpExtraBytes = 0;           // pads the fake SDP (a browser's is a few KB)
  bool fromStdin = false;          // runs read from stdin (see above)
};

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
double millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string userName(const Options& o, char role, int index) {
  char name[64];
  std::snprintf(name, sizeof name, "%s%c%04d", o.prefix.c_str(), role, index);
  return name;
}

// A fake SDP, already escaped for a JSON string ("\r\n" as \\r\\n).
std::string fakeSdp(std::uint64_t seq, int version, int extraBytes) {
  std::string s = "v=0\\r\\no=- " + std::to_string(seq) + " " + std::to_string(version) +
                  " IN IP4 127.0.0.1\\r\\ns=-\\r\\nc=IN IP4 127.0.0.1\\r\\nt=0 0\\r\\n"
                  "m=audio 9 RTP/AVP 0\\r\\na=rtpmap:0 PCMU/8000\\r\\na=sendrecv\\r\\n";
  while (extraBytes > 0) {
    s += "a=x-pad:0123456789abcdef0123456789abcdef0123456789abcdef0123456789\\r\\n";
    extraBytes -= 74;
  }
  return s;
}

// The session id of "o=- ID ..." in an SDP; 0 when there is none.
std::uint64_t sdpSequence(std::string_view sdp) {
  const auto at = sdp.find("o=- ");
  if (at == std::string_view::npos) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = at + 4; i < sdp.size() && sdp[i] >= '0' && sdp[i] <= '9'; ++i)
    v = v * 10 + static_cast<std::uint64_t>(sdp[i] - '0');
  return v;
}

std::string percentiles(std::vector<double> v) {
  if (v.empty()) return "{\"n\":0}";
  std::sort(v.begin(), v.end());
  const auto at = [&v](double q) {
    const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  double sum = 0;
  for (const double x : v)
    sum += x;
  char out[256];
  std::snprintf(out, sizeof out,
                "{\"n\":%zu,\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
                v.size(), sum / static_cast<double>(v.size()), at(0.50), at(0.90), at(0.99),
                v.back());
  return out;
}

class Load;

enum class Role { Caller, Callee };

struct Call {
  std::uint64_t seq = 0;
  int pair = 0;
  Clock::time_point sent, incoming, answered;
  std::string callerName, calleeName;
  bool answeredYet = false, hungUp = false, callerEnded = false, calleeEnded = false;
  bool incomingYet = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Load& load, asio::io_context& io, Role role, int index, std::string user)
      : role(role), index(index), user(std::move(user)), load_(load), ws_(io) {}

  void start(const tcp::endpoint& endpoint, const std::string& host);
  void send(std::string text);
  long nextId() { return nextId_++; }
  void close();

  const Role role;
  const int index;
  const std::string user;
  bool loggedIn = false, dead = false;
  int active = 0;                                         // calls of this pair not yet finished
  std::unordered_map<std::string, std::uint64_t> byName;  // the server's call name → seq
  std::unordered_map<long, std::uint64_t> pendingCall;    // `call` request id → seq

 private:
  void read();
  void flush();
  void lost(const char* why);

  Load& load_;
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  long nextId_ = 2;  // 1 is the login
};

class Load {
 public:
  Load(asio::io_context& io, Options options)
      : io_(io), o_(std::move(options)), tick_(io), rng_(12345) {}

  int run();
  void onMessage(Connection& c, std::string_view text);
  void onLost(Connection& c, const char* why);
  void onConnectFailed(const char* why) {
    ++connectFailed_;
    lastError_ = why;
  }

 private:
  struct Event {
    Clock::time_point at;
    std::uint64_t seq;
    bool hangup;  // else answer
    bool operator>(const Event& e) const { return at > e.at; }
  };

  bool loginPhase();
  void callPhase();
  void onTick();
  void place();
  void answer(Call& call);
  void hangup(Call& call);
  void finish(std::uint64_t seq, const char* failure);
  void maybeComplete(Call& call) {
    if (call.answeredYet && call.callerEnded && call.calleeEnded) finish(call.seq, nullptr);
  }
  void fail(const std::string& why) {
    ++failed_;
    ++failures_[why];
  }
  Connection& caller(int pair) { return *connections_[static_cast<std::size_t>(pair)]; }
  Connection& callee(int pair) { return *connections_[static_cast<std::size_t>(o_.pairs + pair)]; }
  void report(double placingSeconds);

  asio::io_context& io_;
  Options o_;
  asio::steady_timer tick_;
  std::mt19937_64 rng_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::unordered_map<std::uint64_t, Call> calls_;
  std::deque<std::pair<Clock::time_point, std::uint64_t>> deadlines_;  // in placing order
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::vector<double> setupMs_, incomingMs_;
  std::map<std::string, long> failures_, rpcErrors_;
  Clock::time_point t0_, lastPlaced_;
  long placed_ = 0, completed_ = 0, failed_ = 0, unmatched_ = 0, connectFailed_ = 0;
  long loginFailed_ = 0, lost_ = 0;
  int cursor_ = 0;
  bool placing_ = true;
  std::string lastError_;
};

// ---- Connection -------------------------------------------------------------------------

void Connection::start(const tcp::endpoint& endpoint, const std::string& host) {
  auto self = shared_from_this();
  ws_.next_layer().async_connect(endpoint, [self, host](beast::error_code ec) {
    if (ec) {
      self->dead = true;
      return self->load_.onConnectFailed("connect");
    }
    self->ws_.next_layer().set_option(tcp::no_delay(true));
    self->ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
      r.set(beast::http::field::sec_websocket_protocol, "tandem.v1");
    }));
    self->ws_.async_handshake(host, "/ws", [self](beast::error_code ec) {
      if (ec) {
        self->dead = true;
        return self->load_.onConnectFailed("handshake");
      }
      self->ws_.text(true);
      self->read();
      self->send(R"({"jsonrpc":"2.0","id":1,"method":"login","params":{"user":")" + self->user +
                 R"(","password":"pw-)" + self->user + R"("}})");
    });
  });
}

void Connection::read() {
  auto self = shared_from_this();
  ws_.async_read(buffer_, [self](beast::error_code ec, std::size_t) {
    if (ec) return self->lost("read (connection closed)");
    const auto data = self->buffer_.data();
    self->load_.onMessage(*self,
                          std::string_view(static_cast<const char*>(data.data()), data.size()));
    self->buffer_.consume(self->buffer_.size());
    if (!self->dead) self->read();
  });
}

void Connection::send(std::string text) {
  if (dead) return;
  outbox_.push_back(std::move(text));
  flush();
}

void Connection::flush() {
  if (writing_ || outbox_.empty() || dead) return;
  writing_ = true;
  auto self = shared_from_this();
  ws_.async_write(asio::buffer(outbox_.front()), [self](beast::error_code ec, std::size_t) {
    self->writing_ = false;
    self->outbox_.pop_front();
    if (ec) return self->lost("write");
    self->flush();
  });
}

void Connection::lost(const char* why) {
  if (dead) return;
  dead = true;
  beast::error_code ignored;
  ws_.next_layer().close(ignored);
  load_.onLost(*this, why);
}

void Connection::close() {
  if (dead) return;
  dead = true;
  auto self = shared_from_this();
  ws_.async_close(websocket::close_code::normal, [self](beast::error_code) {
    beast::error_code ignored;
    self->ws_.next_layer().close(ignored);
  });
}

// ---- Load -------------------------------------------------------------------------------

int Load::run() {
  if (!loginPhase()) return 1;
  if (!o_.fromStdin) {
    callPhase();
  } else {
    std::printf("{\"phase\":\"ready\",\"connections\":%zu}\n", connections_.size());
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line) && line != "quit") {
      if (std::sscanf(line.c_str(), "%lf %ld %lf", &o_.rate, &o_.count, &o_.duration) != 3 ||
          o_.rate <= 0 || o_.duration <= 0) {
        std::printf("{\"error\":\"expected RATE COUNT DURATION, got %s\"}\n",
                    Json(line).dump().c_str());
        std::fflush(stdout);
        continue;
      }
      callPhase();
    }
  }
  for (auto& c : connections_)
    c->close();
  io_.run_for(std::chrono::seconds(1));
  return 0;
}

bool Load::loginPhase() {
  const auto t0 = Clock::now();
  const tcp::endpoint callerEndpoint{asio::ip::make_address(o_.callerHost), o_.callerPort};
  const tcp::endpoint calleeEndpoint{asio::ip::make_address(o_.calleeHost), o_.calleePort};
  for (int i = 0; i < o_.pairs; ++i)
    connections_.push_back(
        std::make_shared<Connection>(*this, io_, Role::Caller, i, userName(o_, 'c', i)));
  for (int i = 0; i < o_.pairs; ++i)
    connections_.push_back(
        std::make_shared<Connection>(*this, io_, Role::Callee, i, userName(o_, 'd', i)));
  for (auto& c : connections_) {
    if (c->role == Role::Caller)
      c->start(callerEndpoint, o_.callerHost);
    else
      c->start(calleeEndpoint, o_.calleeHost);
  }
  const auto limit = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(o_.loginTimeout));
  const auto settled = [this] {
    for (const auto& c : connections_)
      if (!c->loggedIn && !c->dead) return false;
    return true;
  };
  while (!settled() && Clock::now() < limit)
    io_.run_one_for(std::chrono::milliseconds(50));
  long in = 0;
  for (const auto& c : connections_)
    in += c->loggedIn ? 1 : 0;
  if (in == static_cast<long>(connections_.size())) return true;
  std::printf(
      "{\"error\":\"only %ld of %zu connections logged in within %.0f s\",\"connect_failed\":%ld,"
      "\"login_failed\":%ld,\"last\":%s}\n",
      in, connections_.size(), o_.loginTimeout, connectFailed_, loginFailed_,
      Json(lastError_).dump().c_str());
  std::fflush(stdout);
  return false;
}

void Load::callPhase() {
  // A fresh run: whatever the last one left behind is forgotten.
  calls_.clear();
  deadlines_.clear();
  events_ = {};
  setupMs_.clear();
  incomingMs_.clear();
  failures_.clear();
  rpcErrors_.clear();
  placed_ = completed_ = failed_ = unmatched_ = lost_ = 0;
  placing_ = true;
  for (auto& c : connections_) {
    c->active = 0;
    c->byName.clear();
    c->pendingCall.clear();
  }
  t0_ = lastPlaced_ = Clock::now();
  onTick();
  const auto placingLimit =
      t0_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration));
  const double holdMax = std::max(o_.holdMs, o_.holdMaxMs);
  const auto drainLimit = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o_.callTimeout + (holdMax + o_.ringMs) / 1000.0 + 1.0));
  Clock::time_point placingEnd{};
  for (;;) {
    io_.run_one_for(std::chrono::milliseconds(20));
    const auto now = Clock::now();
    if (placing_ && (placed_ >= o_.count || now >= placingLimit)) {
      placing_ = false;
      placingEnd = now;
    }
    if (!placing_ && (calls_.empty() || now - placingEnd > drainLimit)) break;
  }
  tick_.cancel();
  const long unfinished = static_cast<long>(calls_.size());
  for (long i = 0; i < unfinished; ++i)
    fail("unfinished at the end");
  calls_.clear();
  // The placing window: from the first call to the last, plus one interval.
  report(seconds(lastPlaced_ - t0_) + (placed_ > 0 ? 1.0 / o_.rate : 0.0));
}

void Load::onTick() {
  const auto now = Clock::now();
  if (placing_) {
    const auto due = std::min<long>(o_.count, static_cast<long>(seconds(now - t0_) * o_.rate) + 1);
    while (placed_ < due)
      place();
  }
  while (!events_.empty() && events_.top().at <= now) {
    const Event e = events_.top();
    events_.pop();
    const auto it = calls_.find(e.seq);
    if (it == calls_.end()) continue;
    if (e.hangup)
      hangup(it->second);
    else
      answer(it->second);
  }
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    const auto seq = deadlines_.front().second;
    deadlines_.pop_front();
    const auto it = calls_.find(seq);
    if (it == calls_.end()) continue;
    const Call& c = it->second;
    finish(seq, !c.incomingYet   ? "timeout before call.incoming"
                : !c.answeredYet ? "timeout before call.answered"
                                 : "timeout before call.ended");
  }
  tick_.expires_after(std::chrono::milliseconds(1));
  tick_.async_wait([this](beast::error_code ec) {
    if (!ec) onTick();
  });
}

void Load::place() {
  ++placed_;
  const std::uint64_t seq = static_cast<std::uint64_t>(placed_);
  // Round-robin over the pairs, skipping those at the gateway's per-connection limit.
  int pair = -1;
  for (int tries = 0; tries < o_.pairs; ++tries) {
    const int p = cursor_;
    cursor_ = (cursor_ + 1) % o_.pairs;
    if (!caller(p).dead && !callee(p).dead && caller(p).active < o_.maxCallsPerConnection) {
      pair = p;
      break;
    }
  }
  lastPlaced_ = Clock::now();
  if (pair < 0) return fail("every connection at its call limit (backlog)");
  Connection& c = caller(pair);
  Call& call = calls_[seq];
  call.seq = seq;
  call.pair = pair;
  call.sent = lastPlaced_;
  ++c.active;
  const long id = c.nextId();
  c.pendingCall[id] = seq;
  std::string to = userName(o_, 'd', pair);
  if (!o_.toDomain.empty()) to += "@" + o_.toDomain;
  c.send(R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"call","params":{"to":")" +
         to + R"(","sdp":")" + fakeSdp(seq, 1, o_.sdpExtraBytes) + R"("}})");
  double hold = o_.holdMs;
  if (o_.holdMaxMs > o_.holdMs)
    hold = std::uniform_real_distribution<double>(o_.holdMs, o_.holdMaxMs)(rng_);
  deadlines_.emplace_back(
      call.sent + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(o_.callTimeout + (hold + o_.ringMs) / 1000.0)),
      seq);
}

void Load::answer(Call& call) {
  Connection& c = callee(call.pair);
  c.send(R"({"jsonrpc":"2.0","id":)" + std::to_string(c.nextId()) +
         R"(,"method":"answer","params":{"call":")" + call.calleeName + R"(","sdp":")" +
         fakeSdp(call.seq, 2, o_.sdpExtraBytes) + R"("}})");
}

void Load::hangup(Call& call) {
  call.hungUp = true;
  Connection& c = caller(call.pair);
  c.send(R"({"jsonrpc":"2.0","id":)" + std::to_string(c.nextId()) +
         R"(,"method":"hangup","params":{"call":")" + call.callerName + R"("}})");
}

void Load::finish(std::uint64_t seq, const char* failure) {
  const auto it = calls_.find(seq);
  if (it == calls_.end()) return;
  Call& call = it->second;
  Connection& a = caller(call.pair);
  Connection& b = callee(call.pair);
  if (failure) {
    fail(failure);
    // Leave nothing behind on the server: hang up whatever is still open.
    if (!call.callerName.empty() && !call.callerEnded) {
      a.send(R"({"jsonrpc":"2.0","id":)" + std::to_string(a.nextId()) +
             R"(,"method":"hangup","params":{"call":")" + call.callerName + R"("}})");
    }
  } else {
    ++completed_;
  }
  if (!call.callerName.empty()) a.byName.erase(call.callerName);
  if (!call.calleeName.empty()) b.byName.erase(call.calleeName);
  --a.active;
  calls_.erase(it);
}

void Load::onMessage(Connection& c, std::string_view text) {
  const auto now = Clock::now();
  Json m = Json::parse(text, nullptr, false);
  if (m.is_discarded() || !m.is_object()) {
    ++failures_["unparsable message from the server"];
    return;
  }
  const auto method = m.find("method");
  if (method == m.end()) {
    // A response to one of our requests.
    const auto idIt = m.find("id");
    if (idIt == m.end() || !idIt->is_number_integer()) return;
    const long id = idIt->get<long>();
    const auto error = m.find("error");
    if (id == 1) {
      if (error == m.end()) {
        c.loggedIn = true;
      } else {
        ++loginFailed_;
        lastError_ = error->dump();
        c.dead = true;
      }
      return;
    }
    const auto pending = c.pendingCall.find(id);
    if (pending != c.pendingCall.end()) {
      const auto seq = pending->second;
      c.pendingCall.erase(pending);
      const auto it = calls_.find(seq);
      if (it == calls_.end()) return;
      if (error != m.end()) {
        finish(seq, ("call refused: " + error->value("message", std::string("?"))).c_str());
        return;
      }
      const auto& result = m["result"];
      it->second.callerName = result.value("call", std::string());
      c.byName[it->second.callerName] = seq;
      return;
    }
    if (error != m.end()) ++rpcErrors_[std::to_string(error->value("code", 0))];
    return;
  }
  if (!method->is_string()) return;
  const std::string& name = method->get_ref<const std::string&>();
  const Json& params = m["params"];
  const std::string callName = params.is_object() ? params.value("call", std::string()) : "";
  if (name == "call.incoming") {
    if (c.role != Role::Callee) return;
    const auto seq = sdpSequence(params.value("sdp", std::string()));
    const auto it = calls_.find(seq);
    if (it == calls_.end() || it->second.pair != c.index) {
      // Not one of ours (or already given up): decline it.
      ++unmatched_;
      c.send(R"({"jsonrpc":"2.0","id":)" + std::to_string(c.nextId()) +
             R"(,"method":"hangup","params":{"call":")" + callName + R"("}})");
      return;
    }
    Call& call = it->second;
    call.calleeName = callName;
    call.incoming = now;
    call.incomingYet = true;
    incomingMs_.push_back(millis(now - call.sent));
    c.byName[callName] = seq;
    if (o_.ringMs <= 0) {
      answer(call);
    } else {
      events_.push({now + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double, std::milli>(o_.ringMs)),
                    seq, false});
    }
    return;
  }
  if (name == "call.offer") {
    // Not expected here; accept the offer unchanged so the far side is not left waiting.
    c.send(Json{{"jsonrpc", "2.0"},
                {"id", m["id"]},
                {"result", {{"sdp", params.value("sdp", std::string())}}}}
               .dump());
    return;
  }
  if (name != "call.answered" && name != "call.ended") return;  // call.progress and the like
  const auto known = c.byName.find(callName);
  if (known == c.byName.end()) {
    // A call.ended after we gave up on the call (and hung it up) is expected.
    if (name == "call.answered") ++unmatched_;
    return;
  }
  const auto seq = known->second;
  const auto it = calls_.find(seq);
  if (it == calls_.end()) return;
  Call& call = it->second;
  if (name == "call.answered") {
    if (c.role != Role::Caller || call.answeredYet) return;
    call.answered = now;
    call.answeredYet = true;
    setupMs_.push_back(millis(now - call.sent));
    double hold = o_.holdMs;
    if (o_.holdMaxMs > o_.holdMs)
      hold = std::uniform_real_distribution<double>(o_.holdMs, o_.holdMaxMs)(rng_);
    if (hold <= 0) return hangup(call);
    events_.push({now + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double, std::milli>(hold)),
                  seq, true});
    return;
  }
  // call.ended
  c.byName.erase(known);
  if (c.role == Role::Caller) {
    call.callerEnded = true;
    call.callerName.clear();
    if (!call.answeredYet) {
      return finish(
          seq, ("ended before the answer: " + params.value("reason", std::string("?"))).c_str());
    }
  } else {
    call.calleeEnded = true;
    call.calleeName.clear();
    if (!call.hungUp) {
      return finish(
          seq, ("callee's leg ended before the hangup: " + params.value("reason", std::string("?")))
                   .c_str());
    }
  }
  maybeComplete(call);
}

void Load::onLost(Connection& c, const char*) {
  ++lost_;
  std::vector<std::uint64_t> gone;
  for (const auto& [seq, call] : calls_)
    if (call.pair == c.index) gone.push_back(seq);
  for (const auto seq : gone)
    finish(seq, "connection lost");
}

void Load::report(double placingSeconds) {
  std::string failures = "{";
  for (const auto& [why, n] : failures_) {
    if (failures.size() > 1) failures += ",";
    failures += Json(why).dump() + ":" + std::to_string(n);
  }
  failures += "}";
  std::string rpc = "{";
  for (const auto& [code, n] : rpcErrors_) {
    if (rpc.size() > 1) rpc += ",";
    rpc += "\"" + code + "\":" + std::to_string(n);
  }
  rpc += "}";
  const double wall = seconds(Clock::now() - t0_);
  std::printf(
      "{\"target_rate\":%.1f,\"pairs\":%d,\"attempted\":%ld,\"completed\":%ld,\"failed\":%ld,"
      "\"placing_seconds\":%.3f,\"rate\":%.1f,\"completed_rate\":%.1f,\"wall_seconds\":%.3f,"
      "\"setup_ms\":%s,\"incoming_ms\":%s,\"failures\":%s,\"rpc_errors\":%s,\"unmatched\":%ld,"
      "\"connections_lost\":%ld}\n",
      o_.rate, o_.pairs, placed_, completed_, failed_, placingSeconds,
      placingSeconds > 0 ? static_cast<double>(placed_) / placingSeconds : 0.0,
      placingSeconds > 0 ? static_cast<double>(completed_) / placingSeconds : 0.0, wall,
      percentiles(setupMs_).c_str(), percentiles(incomingMs_).c_str(), failures.c_str(),
      rpc.c_str(), unmatched_, lost_);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "json_load: %s needs a value\n", argv[i]);
      return 2;
    }
    const std::string v = argv[i + 1];
    try {
      if (k == "--host") {
        o.callerHost = o.calleeHost = v;
      } else if (k == "--caller-host") {
        o.callerHost = v;
      } else if (k == "--callee-host") {
        o.calleeHost = v;
      } else if (k == "--port") {
        o.callerPort = o.calleePort = static_cast<unsigned short>(std::stoi(v));
      } else if (k == "--caller-port") {
        o.callerPort = static_cast<unsigned short>(std::stoi(v));
      } else if (k == "--callee-port") {
        o.calleePort = static_cast<unsigned short>(std::stoi(v));
      } else if (k == "--to-domain") {
        o.toDomain = v;
      } else if (k == "--prefix") {
        o.prefix = v;
      } else if (k == "--pairs") {
        o.pairs = std::stoi(v);
      } else if (k == "--rate") {
        o.rate = std::stod(v);
      } else if (k == "--count") {
        o.count = std::stol(v);
      } else if (k == "--duration") {
        o.duration = std::stod(v);
      } else if (k == "--hold-ms") {
        o.holdMs = std::stod(v);
      } else if (k == "--hold-max-ms") {
        o.holdMaxMs = std::stod(v);
      } else if (k == "--ring-ms") {
        o.ringMs = std::stod(v);
      } else if (k == "--call-timeout") {
        o.callTimeout = std::stod(v);
      } else if (k == "--login-timeout") {
        o.loginTimeout = std::stod(v);
      } else if (k == "--max-calls-per-connection") {
        o.maxCallsPerConnection = std::stoi(v);
      } else if (k == "--sdp-extra-bytes") {
        o.sdpExtraBytes = std::stoi(v);
      } else if (k == "--stdin") {
        o.fromStdin = v == "1" || v == "yes" || v == "true";
      } else {
        std::fprintf(stderr, "json_load: unknown option %s\n", argv[i]);
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "json_load: bad value for %s: %s\n", argv[i], v.c_str());
      return 2;
    }
  }
  if (o.pairs < 1 || o.rate <= 0 || o.count < 0 || o.duration <= 0 || o.callTimeout <= 0) {
    std::fprintf(stderr, "json_load: --pairs, --rate, --duration, --call-timeout must be > 0\n");
    return 2;
  }
  asio::io_context io(1);
  Load load(io, o);
  return load.run();
}
