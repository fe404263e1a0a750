#include "gateway/gateway.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "registrar/authenticator.hpp"
#include "signaling/jsonrpc.hpp"
#include "sip/dialog/user_agent.hpp"
#include "sip/transport/transport_layer.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstdlib>
#include <map>
#include <unordered_map>

namespace tandem::gateway {

using signaling::Incoming;
using signaling::Json;
namespace ec = signaling::error_code;

namespace {

// tandem_gateway_login_failures_total{reason}: refused logins (password,
// token) and those refused unchecked for too many failures (limited). Looked
// up once, as a password-guesser drives this path.
enum LoginFailure { kPassword, kToken, kLimited };
void countLoginFailure(LoginFailure why) {
  static const std::array<core::Counter*, 3> counters = [] {
    const auto counter = [](const char* reason) {
      return &core::metrics().counter("tandem_gateway_login_failures_total",
                                      "tandem.v1 logins refused, by why", {{"reason", reason}});
    };
    return std::array<core::Counter*, 3>{counter("password"), counter("token"), counter("limited")};
  }();
  counters[why]->inc();
}

constexpr std::uint16_t kCloseGoingAway = 1001;

// A display name as written in From ("Bob", "\"Bob B.\""), without quotes.
std::string displayName(std::string_view raw) {
  if (raw.size() >= 2 && raw.front() == '"') return sip::unquote(raw);
  return std::string(raw);
}

// The status a JSON `reject` reason stands for.
int rejectStatus(std::string_view reason) {
  if (reason == "busy") return 486;
  if (reason == "unavailable") return 480;
  if (reason == "not_found") return 404;
  return 603;  // "declined" and anything else
}

bool validDigits(std::string_view digits) {
  if (digits.empty() || digits.size() > 32) return false;
  for (const char c : digits) {
    if (!((c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D') ||
          (c >= 'a' && c <= 'd')))
      return false;
  }
  return true;
}

}  // namespace

class Session final : public sip::UaObserver, public std::enable_shared_from_this<Session> {
 public:
  Session(Gateway& gateway, std::shared_ptr<JsonPeer> peer)
      : gateway_(gateway), peer_(std::move(peer)) {}
  ~Session() override { teardown(); }

  void onText(std::string text);
  // The JSON connection is gone: end its calls, drop its binding.
  void onClosed();
  // Server shutdown: the same, and close the connection.
  void shutdown();

  bool loggedIn() const { return state_ == State::LoggedIn; }
  std::size_t calls() const { return callsById_.size(); }

  // From the SIP side (posted, never from inside the transport's send()).
  void fromSip(std::string text) {
    if (!ua_ || text.find_first_not_of("\r\n \t") == std::string::npos) return;
    ua_->receive(std::move(text));
  }
  // The transport layer closed our channel (shutdown).
  void channelGone() {
    if (connection_ == 0) return;
    connection_ = 0;  // already detached by the transport layer
    teardown();
    if (state_ != State::Closed) {
      state_ = State::Closed;
      peer_->close(kCloseGoingAway, "server shutting down");
    }
  }

 private:
  enum class State { Anonymous, LoggingIn, LoggedIn, Closed };
  struct OfferRequest {
    sip::CallRef call = 0;
    std::uint64_t offer = 0;
    core::TimerService::TimerId timer = 0;
  };

  // ---- JSON out
  void reply(const Json& id, Json result) {
    if (state_ != State::Closed) peer_->send(signaling::encodeResult(id, std::move(result)));
  }
  void fail(const Json& id, int code, std::string message, Json data = nullptr) {
    if (state_ == State::Closed) return;
    peer_->send(signaling::encodeError(id, {code, std::move(message), std::move(data)}));
  }
  void notify(std::string_view method, Json params) {
    if (state_ != State::Closed)
      peer_->send(signaling::encodeNotification(method, std::move(params)));
  }

  // ---- JSON in
  void onRequest(Incoming& in);
  void onReply(Incoming& in);
  void login(const Json& id, const Json& params);
  void logout(const Json& id);
  void placeCall(const Json& id, const Json& params);
  void callControl(const Json& id, const std::string& method, const Json& params);
  void sendMessage(const Json& id, const Json& params);
  void sendDtmf(const Json& id, sip::CallRef ref, std::string digits, int duration);

  // A call named by params.call; fails the request (and returns 0) otherwise.
  sip::CallRef callParam(const Json& id, const Json& params);
  std::string nameCall(sip::CallRef ref) {
    std::string name = fmt::format("c{}", nextCallName_++);
    callsById_[name] = ref;
    idsByCall_[ref] = name;
    return name;
  }
  std::string callName(sip::CallRef ref) const {
    const auto it = idsByCall_.find(ref);
    return it == idsByCall_.end() ? std::string() : it->second;
  }

  void startUa(const std::string& user);
  void teardown();

  // ---- sip::UaObserver
  void onRegistration(int status) override;
  void onIncomingCall(sip::CallRef call, const sip::Message& invite) override;
  void onProgress(sip::CallRef call, int status, std::string_view reason,
                  std::string_view sdp) override;
  void onAnswered(sip::CallRef call, std::string_view sdp) override;
  void onOffer(sip::CallRef call, std::uint64_t offer, std::string_view sdp) override;
  void onRenegotiated(sip::CallRef call, std::string_view sdp) override;
  void onInfo(sip::CallRef call, std::string_view contentType, std::string_view body) override;
  void onEnded(sip::CallRef call, sip::EndCause cause, int status, std::string_view reason,
               bool byRemote) override;
  void onMessage(const sip::Message& message) override;

  Gateway& gateway_;
  std::shared_ptr<JsonPeer> peer_;
  State state_ = State::Anonymous;
  std::string user_;
  Json loginId_;
  sip::ConnectionId connection_ = 0;
  std::unique_ptr<sip::UserAgent> ua_;
  std::map<std::string, sip::CallRef> callsById_;
  std::unordered_map<sip::CallRef, std::string> idsByCall_;
  std::uint64_t nextCallName_ = 1;
  std::uint64_t nextServerRequest_ = 1;
  std::unordered_map<std::string, OfferRequest> offerRequests_;  // by our request id
};

namespace {

// The transport layer's handle on a session's user agent: what the proxy sends
// it is delivered on the loop, after the proxy's own call has returned.
class UaChannel final : public sip::MessageChannel {
 public:
  UaChannel(std::weak_ptr<Session> session, Gateway::Post post)
      : session_(std::move(session)), post_(std::move(post)) {}
  void send(std::string message) override {
    post_([session = session_, message = std::move(message)]() mutable {
      if (auto s = session.lock()) s->fromSip(std::move(message));
    });
  }
  void close(bool, std::string_view) override {
    post_([session = session_] {
      if (auto s = session.lock()) s->channelGone();
    });
  }

 private:
  std::weak_ptr<Session> session_;
  Gateway::Post post_;
};

}  // namespace

// ---- Requests from the JSON client ----------------------------------------------------

void Session::onText(std::string text) {
  if (state_ == State::Closed) return;
  Incoming in = signaling::decode(text);
  switch (in.kind) {
    case Incoming::Kind::Invalid:
      // -32700 and -32600 go back with a null id when the id is unknown
      // (JSON-RPC 2.0 §5); the connection stays open.
      fail(in.id, in.error.code, in.error.message);
      return;
    case Incoming::Kind::Result:
    case Incoming::Kind::ErrorReply:
      onReply(in);
      return;
    case Incoming::Kind::Notification:
      // tandem.v1 defines no client notifications: ignored, as §4.1 asks
      // (a notification gets no response, not even an error).
      return;
    case Incoming::Kind::Request:
      onRequest(in);
      return;
  }
}

void Session::onRequest(Incoming& in) {
  const std::string& m = in.method;
  if (m == "ping") return reply(in.id, Json::object());
  if (m == "login") return login(in.id, in.params);
  // The methods of a logged-in connection (docs/protocol.md).
  using Handler = void (*)(Session&, const Json& id, const std::string& m, const Json& params);
  static constexpr Handler control = [](Session& s, const Json& id, const std::string& m,
                                        const Json& p) { s.callControl(id, m, p); };
  static const std::unordered_map<std::string_view, Handler> handlers = {
      {"logout", [](Session& s, const Json& id, const std::string&, const Json&) { s.logout(id); }},
      {"call",
       [](Session& s, const Json& id, const std::string&, const Json& p) { s.placeCall(id, p); }},
      {"message",
       [](Session& s, const Json& id, const std::string&, const Json& p) { s.sendMessage(id, p); }},
      {"answer", control},
      {"progress", control},
      {"reject", control},
      {"hangup", control},
      {"hold", control},
      {"resume", control},
      {"renegotiate", control},
      {"dtmf", control}};
  const auto handler = handlers.find(m);
  if (handler == handlers.end()) return fail(in.id, ec::kMethodNotFound, "Method not found: " + m);
  if (!in.params.is_object()) {
    return fail(in.id, ec::kInvalidParams, "params must be an object");
  }
  if (state_ != State::LoggedIn) {
    return fail(in.id, ec::kNotLoggedIn,
                state_ == State::LoggingIn ? "login in progress" : "not logged in");
  }
  handler->second(*this, in.id, m, in.params);
}

void Session::login(const Json& id, const Json& params) {
  if (!params.is_object()) return fail(id, ec::kInvalidParams, "params must be an object");
  if (state_ != State::Anonymous) {
    return fail(id, ec::kAlreadyLoggedIn,
                state_ == State::LoggingIn ? "login in progress" : "already logged in");
  }
  const auto user = signaling::stringParam(params, "user");
  const auto password = signaling::stringParam(params, "password");
  const auto token = signaling::stringParam(params, "token");
  if (!token && !(user && password)) {
    return fail(id, ec::kInvalidParams,
                "login needs \"user\" and \"password\" (strings), or \"token\"");
  }
  auto& limiter = gateway_.loginLimiter();
  const auto& address = peer_->remote().address;
  const auto now = gateway_.timers().now();
  if (const auto wait = limiter.retryAfter(address, now); wait.count() > 0) {
    const auto seconds = (wait.count() + 999) / 1000;
    // Logged once, when the refusals start (below); counted each time.
    countLoginFailure(kLimited);
    return fail(id, ec::kLoginFailed,
                fmt::format("login failed: too many failed logins from your address, try again "
                            "in {} s",
                            seconds),
                Json{{"retryAfter", seconds}});
  }
  const auto countFailure = [&] {
    if (limiter.failed(address, now)) {
      core::logger("gateway")->warn(
          "logins from {} refused unchecked for {} s: {} failed logins",
          LoginLimiter::describe(address),
          std::chrono::ceil<std::chrono::seconds>(limiter.retryAfter(address, now)).count(),
          gateway_.config().maxLoginFailures);
    }
  };
  auto& auth = gateway_.auth();
  std::string who;
  if (token) {
    std::string why;
    who = auth.verifyToken(*token, &why);
    if (who.empty() || (user && *user != who)) {
      countFailure();
      countLoginFailure(kToken);
      core::logger("gateway")->info("login from {} refused: token {}", peer_->remote().toString(),
                                    who.empty() ? why : "names another user");
      return fail(id, ec::kLoginFailed,
                  "login failed: " + (who.empty() ? why : "token is for another user"));
    }
  } else {
    if (user->empty() || user->size() > 128 || !auth.verifyPassword(*user, *password)) {
      countFailure();
      countLoginFailure(kPassword);
      core::logger("gateway")->info("login from {} refused: wrong user or password",
                                    peer_->remote().toString());
      return fail(id, ec::kLoginFailed, "login failed: wrong user or password");
    }
    who = *user;
  }
  loginId_ = id;
  state_ = State::LoggingIn;
  startUa(who);
  if (state_ == State::LoggingIn && !ua_) {
    state_ = State::Anonymous;
    fail(id, ec::kUnavailable, "server shutting down");
  }
}

void Session::startUa(const std::string& user) {
  const auto& cfg = gateway_.config();
  const bool secure = peer_->secure();
  connection_ = gateway_.transport().attachChannel(
      secure ? sip::Transport::Wss : sip::Transport::Ws,
      std::make_shared<UaChannel>(weak_from_this(), gateway_.post()), peer_->remote(),
      peer_->local());
  if (connection_ == 0) return;
  user_ = user;
  // The connection vouches for its user, as one on which a REGISTER
  // authenticated does: the UA sends no credentials.
  gateway_.auth().rememberConnection(connection_, user);
  sip::UaConfig ua = cfg.ua;
  ua.user = user;
  ua.host = core::randomToken(12) + ".invalid";
  ua.transport = secure ? sip::Transport::Wss : sip::Transport::Ws;
  const sip::ConnectionId connection = connection_;
  auto& transport = gateway_.transport();
  ua_ = std::make_unique<sip::UserAgent>(
      std::move(ua), gateway_.timers(),
      [&transport, connection](std::string text) {
        transport.channelMessage(connection, std::move(text));
      },
      *this);
  ua_->registerBinding();
}

void Session::teardown() {
  for (auto& [rid, offer] : offerRequests_) {
    if (offer.timer) gateway_.timers().cancel(offer.timer);
  }
  offerRequests_.clear();
  if (ua_) {
    ua_->terminateAll();  // CANCEL / BYE / 480 for every call, REGISTER expires=0
    ua_.reset();
  }
  callsById_.clear();
  idsByCall_.clear();
  if (connection_ != 0) {
    const auto id = connection_;
    connection_ = 0;
    gateway_.transport().channelClosed(id);  // the binding and identity go with it
  }
}

void Session::logout(const Json& id) {
  for (const auto& [name, ref] : callsById_) {
    notify("call.ended", {{"call", name}, {"reason", "hangup"}, {"status", 0}, {"by", "local"}});
  }
  teardown();
  state_ = State::Anonymous;
  user_.clear();
  reply(id, Json::object());
}

void Session::onClosed() {
  state_ = State::Closed;
  teardown();
}

void Session::shutdown() {
  teardown();
  if (state_ != State::Closed) {
    state_ = State::Closed;
    peer_->close(kCloseGoingAway, "server shutting down");
  }
}

sip::CallRef Session::callParam(const Json& id, const Json& params) {
  const auto name = signaling::stringParam(params, "call");
  if (!name) {
    fail(id, ec::kInvalidParams, "\"call\" (string) is required");
    return 0;
  }
  const auto it = callsById_.find(*name);
  if (it == callsById_.end()) {
    fail(id, ec::kNoSuchCall, "no such call: " + *name);
    return 0;
  }
  return it->second;
}

void Session::placeCall(const Json& id, const Json& params) {
  const auto to = signaling::stringParam(params, "to");
  const auto sdp = signaling::stringParam(params, "sdp");
  if (!to) return fail(id, ec::kInvalidParams, "\"to\" (string) is required");
  if (!sdp || sdp->empty())
    return fail(id, ec::kInvalidParams, "\"sdp\" (an SDP offer) is required");
  if (callsById_.size() >= gateway_.config().maxCallsPerConnection) {
    return fail(
        id, ec::kWrongState,
        fmt::format("too many calls (at most {})", gateway_.config().maxCallsPerConnection));
  }
  const sip::CallRef ref = ua_->call(*to, *sdp);
  if (ref == 0) {
    return fail(id, ec::kInvalidParams, "\"to\" is not a user, an address or a SIP URI: " + *to);
  }
  reply(id, {{"call", nameCall(ref)}});
}

void Session::callControl(const Json& id, const std::string& m, const Json& params) {
  // The params' shapes first (-32602), then the call they name (-32004).
  const auto sdp = signaling::stringParam(params, "sdp");
  const auto digits = signaling::stringParam(params, "digits");
  const auto duration = signaling::integerParam(params, "duration").value_or(160);
  const auto status = signaling::integerParam(params, "status");
  if (m == "dtmf") {
    if (!digits || !validDigits(*digits)) {
      return fail(id, ec::kInvalidParams, "\"digits\" must be 1-32 of 0-9 * # A-D");
    }
    if (duration < 40 || duration > 2000) {
      return fail(id, ec::kInvalidParams, "\"duration\" must be 40-2000 (ms)");
    }
  } else if (m == "reject") {
    if (status && (*status < 400 || *status > 699)) {
      return fail(id, ec::kInvalidParams, "\"status\" must be 400-699");
    }
  } else if (m != "hangup" && (!sdp || sdp->empty())) {
    return fail(id, ec::kInvalidParams, "\"sdp\" (string) is required");
  }
  const sip::CallRef ref = callParam(id, params);
  if (ref == 0) return;
  if (m == "hangup") {
    // call.ended (by "local") is sent from onEnded.
    if (!ua_->hangup(ref)) return fail(id, ec::kWrongState, "the call is ending already");
    return reply(id, Json::object());
  }
  if (m == "reject") {
    const int code =
        status ? static_cast<int>(*status)
               : rejectStatus(signaling::stringParam(params, "reason").value_or("declined"));
    const std::string name = callName(ref);
    if (!ua_->reject(ref, code)) {
      return fail(id, ec::kWrongState, "only a ringing incoming call can be rejected");
    }
    callsById_.erase(name);
    idsByCall_.erase(ref);
    return reply(id, Json::object());
  }
  if (m == "dtmf") {
    if (!ua_->hasCall(ref)) return fail(id, ec::kWrongState, "the call is not established");
    return sendDtmf(id, ref, *digits, static_cast<int>(duration));
  }
  if (m == "answer") {
    if (!ua_->answer(ref, *sdp)) {
      return fail(id, ec::kWrongState, "only a ringing incoming call can be answered");
    }
    return reply(id, Json::object());
  }
  if (m == "progress") {
    if (!ua_->progress(ref, *sdp)) {
      return fail(id, ec::kWrongState,
                  "only a ringing incoming call that came with an offer can send early media");
    }
    return reply(id, Json::object());
  }
  // hold, resume, renegotiate: a re-INVITE with the client's new offer.
  std::weak_ptr<Session> self = weak_from_this();
  const bool started = ua_->reinvite(
      ref, *sdp, [self, id](int status, std::string_view reason, std::string_view body) {
        auto s = self.lock();
        if (!s) return;
        if (status >= 200 && status < 300) {
          s->reply(id, {{"sdp", body}});
        } else {
          s->fail(id, ec::kSipError,
                  fmt::format("the far side refused the offer: {} {}", status, reason),
                  {{"status", status}, {"reason", sip::endCauseName(sip::causeForStatus(status))}});
        }
      });
  if (!started) return fail(id, ec::kWrongState, "the call is not established");
}

void Session::sendDtmf(const Json& id, sip::CallRef ref, std::string digits, int duration) {
  // One INFO per digit (application/dtmf-relay), each after the previous one's answer.
  if (digits.empty()) return reply(id, Json::object());
  const char digit = digits.front();
  std::weak_ptr<Session> self = weak_from_this();
  const std::string body = fmt::format("Signal={}\r\nDuration={}\r\n", digit, duration);
  const bool sent = ua_->info(ref, "application/dtmf-relay", body,
                              [self, id, ref, rest = digits.substr(1), duration](
                                  int status, std::string_view reason, std::string_view) {
                                auto s = self.lock();
                                if (!s || !s->ua_) return;
                                if (status < 200 || status >= 300) {
                                  return s->fail(id, ec::kSipError,
                                                 fmt::format("INFO refused: {} {}", status, reason),
                                                 {{"status", status}});
                                }
                                s->sendDtmf(id, ref, rest, duration);
                              });
  if (!sent) fail(id, ec::kWrongState, "the call is not established");
}

void Session::sendMessage(const Json& id, const Json& params) {
  const auto to = signaling::stringParam(params, "to");
  const auto text = signaling::stringParam(params, "text");
  if (!to) return fail(id, ec::kInvalidParams, "\"to\" (string) is required");
  if (!text) return fail(id, ec::kInvalidParams, "\"text\" (string) is required");
  if (text->size() > 8192)
    return fail(id, ec::kInvalidParams, "\"text\" is longer than 8192 bytes");
  const std::string type =
      signaling::stringParam(params, "contentType").value_or("text/plain;charset=utf-8");
  if (type.empty() || type.find_first_of("\r\n") != std::string::npos) {
    return fail(id, ec::kInvalidParams, "\"contentType\" is not a media type");
  }
  std::weak_ptr<Session> self = weak_from_this();
  const bool sent = ua_->message(
      *to, type, *text, [self, id](int status, std::string_view reason, std::string_view) {
        auto s = self.lock();
        if (!s) return;
        if (status >= 200 && status < 300) {
          s->reply(id, {{"status", status}});
        } else {
          s->fail(id, ec::kSipError, fmt::format("message not delivered: {} {}", status, reason),
                  {{"status", status}, {"reason", sip::endCauseName(sip::causeForStatus(status))}});
        }
      });
  if (!sent) fail(id, ec::kInvalidParams, "\"to\" is not a user, an address or a SIP URI: " + *to);
}

// Replies to our call.offer requests.
void Session::onReply(Incoming& in) {
  if (!in.id.is_string()) return;
  const auto it = offerRequests_.find(in.id.get<std::string>());
  if (it == offerRequests_.end()) return;
  const OfferRequest offer = it->second;
  offerRequests_.erase(it);
  if (offer.timer) gateway_.timers().cancel(offer.timer);
  if (!ua_) return;
  if (in.kind == Incoming::Kind::Result) {
    const auto sdp = signaling::stringParam(in.result, "sdp");
    if (sdp && !sdp->empty()) {
      ua_->answerOffer(offer.call, offer.offer, 200, *sdp);
      return;
    }
  }
  ua_->answerOffer(offer.call, offer.offer, 488, {});
}

// ---- Events from the SIP side -------------------------------------------------------------

void Session::onRegistration(int status) {
  const bool ok = status >= 200 && status < 300;
  if (state_ == State::LoggingIn) {
    if (ok) {
      state_ = State::LoggedIn;
      core::logger("gateway")->info("{}@{} logged in from {}", user_, gateway_.config().ua.domain,
                                    peer_->remote().toString());
      reply(loginId_, {{"user", user_},
                       {"aor", "sip:" + user_ + "@" + gateway_.config().ua.domain},
                       {"domain", gateway_.config().ua.domain}});
    } else {
      // Not from inside the user agent's own callback: it goes with teardown().
      state_ = State::Anonymous;
      fail(loginId_, ec::kLoginFailed, fmt::format("registration refused: {}", status),
           {{"status", status}});
      gateway_.post()([self = weak_from_this()] {
        auto s = self.lock();
        if (s && s->state_ == State::Anonymous) s->teardown();
      });
    }
    return;
  }
  if (!ok) {
    core::logger("gateway")->warn("{}: registration refresh refused ({})", user_, status);
  }
}

void Session::onIncomingCall(sip::CallRef ref, const sip::Message& invite) {
  if (callsById_.size() >= gateway_.config().maxCallsPerConnection) {
    ua_->reject(ref, 486);
    return;
  }
  const auto from = invite.from();
  const auto to = invite.to();
  Json params{{"call", nameCall(ref)},
              {"from", from ? std::string(from->uri.text) : std::string()},
              {"to", to ? std::string(to->uri.text) : std::string()}};
  // No body: a late offer; the client's `answer` carries its offer and the
  // caller's answer comes in call.answered.
  if (!invite.body().empty()) params["sdp"] = invite.body();
  if (from && !from->displayName.empty()) params["fromName"] = displayName(from->displayName);
  notify("call.incoming", std::move(params));
}

void Session::onProgress(sip::CallRef ref, int status, std::string_view reason,
                         std::string_view sdp) {
  Json params{{"call", callName(ref)}, {"status", status}, {"message", reason}};
  if (!sdp.empty()) params["sdp"] = sdp;
  notify("call.progress", std::move(params));
}

void Session::onAnswered(sip::CallRef ref, std::string_view sdp) {
  notify("call.answered", {{"call", callName(ref)}, {"sdp", sdp}});
}

void Session::onRenegotiated(sip::CallRef ref, std::string_view sdp) {
  notify("call.renegotiated", {{"call", callName(ref)}, {"sdp", sdp}});
}

void Session::onOffer(sip::CallRef ref, std::uint64_t offer, std::string_view sdp) {
  const std::string rid = fmt::format("s{}", nextServerRequest_++);
  OfferRequest request{ref, offer, 0};
  std::weak_ptr<Session> self = weak_from_this();
  request.timer = gateway_.timers().schedule(gateway_.config().offerTimeout, [self, rid] {
    auto s = self.lock();
    if (!s) return;
    const auto it = s->offerRequests_.find(rid);
    if (it == s->offerRequests_.end()) return;
    const OfferRequest o = it->second;
    s->offerRequests_.erase(it);
    core::logger("gateway")->info("{}: no answer to call.offer {} in time", s->user_, rid);
    if (s->ua_) s->ua_->answerOffer(o.call, o.offer, 500, {});
  });
  offerRequests_[rid] = request;
  if (state_ != State::Closed) {
    peer_->send(
        signaling::encodeRequest(rid, "call.offer", {{"call", callName(ref)}, {"sdp", sdp}}));
  }
}

void Session::onInfo(sip::CallRef ref, std::string_view contentType, std::string_view body) {
  const std::string type = [&] {
    std::string t(contentType.substr(0, contentType.find(';')));
    for (auto& c : t)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!t.empty() && t.back() == ' ')
      t.pop_back();
    return t;
  }();
  if (type == "application/dtmf-relay") {
    // "Signal=5\r\nDuration=160"
    std::string digit;
    int duration = 0;
    std::string_view rest = body;
    while (!rest.empty()) {
      auto eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const auto eq = line.find('=');
      if (eq != std::string_view::npos) {
        std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
        while (!value.empty() && value.front() == ' ')
          value.remove_prefix(1);
        while (!key.empty() && key.back() == ' ')
          key.remove_suffix(1);
        if (sip::iequals(key, "Signal")) digit = std::string(value.substr(0, 1));
        if (sip::iequals(key, "Duration")) duration = std::atoi(std::string(value).c_str());
      }
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 1);
    }
    if (!digit.empty() && validDigits(digit)) {
      notify("call.dtmf", {{"call", callName(ref)}, {"digit", digit}, {"duration", duration}});
      return;
    }
  } else if (type == "application/dtmf" && !body.empty() &&
             validDigits(std::string(body.substr(0, 1)))) {
    notify("call.dtmf", {{"call", callName(ref)}, {"digit", std::string(body.substr(0, 1))}});
    return;
  }
  notify("call.info", {{"call", callName(ref)}, {"contentType", contentType}, {"body", body}});
}

void Session::onEnded(sip::CallRef ref, sip::EndCause cause, int status, std::string_view reason,
                      bool byRemote) {
  const std::string name = callName(ref);
  if (name.empty()) return;
  callsById_.erase(name);
  idsByCall_.erase(ref);
  for (auto it = offerRequests_.begin(); it != offerRequests_.end();) {
    if (it->second.call == ref) {
      if (it->second.timer) gateway_.timers().cancel(it->second.timer);
      it = offerRequests_.erase(it);
    } else {
      ++it;
    }
  }
  Json params{{"call", name},
              {"reason", sip::endCauseName(cause)},
              {"status", status},
              {"by", byRemote ? "remote" : "local"}};
  if (!reason.empty()) params["message"] = reason;
  notify("call.ended", std::move(params));
}

void Session::onMessage(const sip::Message& message) {
  const auto from = message.from();
  const auto to = message.to();
  Json params{{"from", from ? std::string(from->uri.text) : std::string()},
              {"to", to ? std::string(to->uri.text) : std::string()},
              {"contentType", message.first(sip::HeaderId::ContentType)},
              {"text", message.body()}};
  if (from && !from->displayName.empty()) params["fromName"] = displayName(from->displayName);
  notify("message", std::move(params));
}

// ---- Gateway --------------------------------------------------------------------------------

Gateway::Gateway(GatewayConfig config, sip::TransportLayer& transport,
                 registrar::Authenticator& auth, core::TimerService& timers, Post post)
    : config_(std::move(config)),
      transport_(transport),
      auth_(auth),
      timers_(timers),
      post_(std::move(post)),
      loginLimiter_(config_.maxLoginFailures, config_.loginFailureWindow) {}

Gateway::~Gateway() {
  shutdown();
}

std::shared_ptr<Session> Gateway::open(std::shared_ptr<JsonPeer> peer) {
  auto session = std::make_shared<Session>(*this, std::move(peer));
  if (stopped_) {
    session->shutdown();
    return session;
  }
  sessions_.insert(session);
  return session;
}

void Gateway::message(const std::shared_ptr<Session>& session, std::string text) {
  if (sessions_.count(session)) session->onText(std::move(text));
}

void Gateway::closed(const std::shared_ptr<Session>& session) {
  if (sessions_.erase(session)) session->onClosed();
}

void Gateway::shutdown() {
  stopped_ = true;
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (const auto& s : sessions)
    s->shutdown();
}

std::size_t Gateway::loggedInCount() const {
  std::size_t n = 0;
  for (const auto& s : sessions_)
    n += s->loggedIn() ? 1 : 0;
  return n;
}

std::size_t Gateway::callCount() const {
  std::size_t n = 0;
  for (const auto& s : sessions_)
    n += s->calls();
  return n;
}

}  // namespace tandem::gateway
