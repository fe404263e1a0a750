#include "sip/dialog/user_agent.hpp"

#include "core/log.hpp"
#include "core/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace tandem::sip {
namespace {

constexpr std::string_view kAllow = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, MESSAGE, OPTIONS";
constexpr std::string_view kSdp = "application/sdp";

bool isSdp(const Message& m) {
  const auto type = m.first(HeaderId::ContentType);
  return !m.body().empty() && type.size() >= kSdp.size() &&
         iequals(type.substr(0, kSdp.size()), kSdp);
}

// Option tags of Require / Supported, split and trimmed.
bool hasOptionTag(const Message& m, HeaderId id, std::string_view tag) {
  for (const auto v : m.values(id)) {
    if (iequals(v, tag)) return true;
  }
  return false;
}

// Session-Expires = delta-seconds *(SEMI se-params); se-params: refresher=uac|uas.
struct SessionExpires {
  int seconds = 0;
  std::string_view refresher;  // "uac", "uas" or ""
};
std::optional<SessionExpires> parseSessionExpires(std::string_view value) {
  if (value.empty()) return std::nullopt;
  SessionExpires se;
  const auto semi = value.find(';');
  auto number = value.substr(0, semi);
  while (!number.empty() && (number.back() == ' ' || number.back() == '\t'))
    number.remove_suffix(1);
  const auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), se.seconds);
  if (ec != std::errc() || p != number.data() + number.size() || se.seconds <= 0)
    return std::nullopt;
  if (semi != std::string_view::npos) {
    auto params = value.substr(semi);
    const auto at = params.find("refresher=");
    if (at != std::string_view::npos) {
      auto r = params.substr(at + 10, 3);
      if (iequals(r, "uac")) se.refresher = "uac";
      if (iequals(r, "uas")) se.refresher = "uas";
    }
  }
  return se;
}

std::string newBranch() {
  return "z9hG4bK" + core::randomToken(16);
}

int parseInt(std::string_view s, int fallback) {
  int v = 0;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p != s.data() ? v : fallback;
}

// The URI inside a Contact / Record-Route value ("<sip:...>;p" or "sip:...").
std::string uriOf(std::string_view nameAddr) {
  const auto na = NameAddr::parse(nameAddr);
  return na ? std::string(na->uri.text) : std::string();
}

// A UAS copies Record-Route into responses that create a dialog (§12.1.1):
// without it the caller's in-dialog requests would not pass the proxies.
void copyRecordRoute(const Message& request, Message& response) {
  if (request.method() != Method::Invite || response.status() <= 100 || response.status() >= 300) {
    return;
  }
  for (const auto rr : request.values(HeaderId::RecordRoute)) {
    response.appendHeader(HeaderId::RecordRoute, std::string(rr));
  }
}

// Adds "Name: value\r\n" lines to a message.
void appendHeaderLines(Message& m, std::string_view lines) {
  while (!lines.empty()) {
    const auto eol = lines.find("\r\n");
    const auto line = lines.substr(0, eol);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      const auto name = line.substr(0, colon);
      const auto id = headerIdFromName(name);
      if (id == HeaderId::Other) {
        m.appendHeader(std::string(name), std::string(value));
      } else {
        m.appendHeader(id, std::string(value));
      }
    }
    if (eol == std::string_view::npos) break;
    lines.remove_prefix(eol + 2);
  }
}

}  // namespace

std::string_view endCauseName(EndCause cause) {
  switch (cause) {
    case EndCause::Hangup:
      return "hangup";
    case EndCause::Cancelled:
      return "cancelled";
    case EndCause::AnsweredElsewhere:
      return "answered_elsewhere";
    case EndCause::Busy:
      return "busy";
    case EndCause::NotFound:
      return "not_found";
    case EndCause::Unavailable:
      return "unavailable";
    case EndCause::Declined:
      return "declined";
    case EndCause::Timeout:
      return "timeout";
    case EndCause::Rejected:
      return "rejected";
    case EndCause::SessionExpired:
      return "session_expired";
    case EndCause::ConnectionLost:
      return "connection_lost";
  }
  return "rejected";
}

EndCause causeForStatus(int status) {
  switch (status) {
    case 486:
    case 600:
      return EndCause::Busy;
    case 404:
    case 484:
    case 604:
      return EndCause::NotFound;
    case 410:
    case 430:
    case 480:
    case 502:
    case 503:
      return EndCause::Unavailable;
    case 603:
      return EndCause::Declined;
    case 408:
    case 504:
      return EndCause::Timeout;
    case 487:
      return EndCause::Cancelled;
    default:
      return EndCause::Rejected;
  }
}

std::string_view sdpOrigin(std::string_view sdp) {
  std::size_t at = 0;
  while (at < sdp.size()) {
    auto end = sdp.find('\n', at);
    if (end == std::string_view::npos) end = sdp.size();
    auto line = sdp.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() >= 2 && line[0] == 'o' && line[1] == '=') return line;
    at = end + 1;
  }
  return {};
}

// ---- State ------------------------------------------------------------------

struct UserAgent::ServerOffer {
  std::uint64_t id = 0;
  std::unique_ptr<Message> request;  // the re-INVITE or UPDATE carrying the offer
};

struct UserAgent::Call {
  CallRef ref = 0;
  bool outgoing = false;
  enum class State {
    Calling,     // outgoing INVITE without final response
    Cancelling,  // outgoing, CANCEL sent (hung up or timed out); the final is awaited
    Ringing,     // incoming INVITE without final response
    Answered,    // incoming, 2xx sent, ACK awaited
    Confirmed,   // dialog established
    Ended,       // reported; reaped soon
  } state = State::Calling;
  bool reported = false;  // onEnded called (or not to be called)

  std::string callId, localTag, remoteTag;
  std::string localHeader;   // our From/To value, with our tag
  std::string remoteHeader;  // theirs, with their tag (once known)
  std::string requestUri;    // the initial INVITE's (for CANCEL / non-2xx ACK)
  std::uint32_t localCseq = 0, remoteCseq = 0, inviteCseq = 0;
  std::string remoteTarget;
  std::vector<std::string> routeSet;
  std::string remoteAllow;
  std::string localSdp, remoteSdp;

  // Outgoing INVITE.
  std::string inviteBranch, inviteVia, inviteFrom, inviteTo;
  std::string ackText;  // the ACK for our 2xx, re-sent for each retransmission
  core::TimerService::TimerId ringTimer = 0;
  core::TimerService::TimerId cancelGuard = 0;
  core::TimerService::TimerId reapTimer = 0;
  bool retried422 = false;
  // Incoming INVITE without an offer: our 2xx offers, its ACK answers.
  bool lateOffer = false;
  // The same for a re-INVITE without an offer: the ACK of the 2xx now being
  // retransmitted (okCseq) carries the answer to the description it offered.
  bool reoffered = false;

  // Incoming INVITE (or re-INVITE) we answered: the 2xx retransmitted until ACK.
  std::unique_ptr<Message> invite;  // the initial INVITE (to build responses)
  std::string okText;
  std::uint32_t okCseq = 0;
  core::TimerService::TimerId okTimer = 0;
  // Retransmission interval (T1 doubling to T2), the delay now running (the
  // last one is cut to end at 64·T1), and the time since the first send.
  std::chrono::milliseconds okInterval{0}, okDelay{0}, okElapsed{0};
  std::string sessionHeadersForOk;

  // Re-INVITE / UPDATE offers from the far side awaiting the observer.
  std::vector<ServerOffer> offers;
  bool reinviteInProgress = false;  // ours

  // Session timer.
  int sessionExpires = 0;
  bool weRefresh = false;
  core::TimerService::TimerId sessionTimer = 0;
};

struct UserAgent::Pending {
  CallRef call = 0;
  Method method = Method::Unknown;
  std::function<void(const Message&)> onFinal;
  std::function<void(const Message&)> onProvisional;
  core::TimerService::TimerId guard = 0;
  std::string request;  // non-INVITE: kept to answer it ourselves with a 408
};

UserAgent::UserAgent(UaConfig config, core::TimerService& timers, Send send, UaObserver& observer)
    : config_(std::move(config)),
      timers_(timers),
      send_(std::move(send)),
      observer_(observer),
      registerCallId_(core::randomToken(20)),
      contactUri_(fmt::format("sip:{}@{};transport={}", config_.user, config_.host,
                              config_.transport == Transport::Wss ? "wss" : "ws")),
      contact_(fmt::format("<{}>", contactUri_)) {}

UserAgent::~UserAgent() {
  terminateAll();
}

std::string UserAgent::aor() const {
  return config_.user + "@" + config_.domain;
}

const std::string& UserAgent::contactUri() const {
  return contactUri_;
}

std::optional<std::string> UserAgent::targetUri(std::string_view target) const {
  while (!target.empty() && target.front() == ' ')
    target.remove_prefix(1);
  while (!target.empty() && target.back() == ' ')
    target.remove_suffix(1);
  if (target.empty() || target.size() > 512) return std::nullopt;
  std::string text;
  if (target.starts_with("sip:") || target.starts_with("sips:")) {
    text = std::string(target);
  } else if (target.find(':') != std::string_view::npos &&
             target.find('@') == std::string_view::npos) {
    return std::nullopt;  // another scheme
  } else if (target.find('@') != std::string_view::npos) {
    text = "sip:" + std::string(target);
  } else {
    text = "sip:" + std::string(target) + "@" + config_.domain;
  }
  const auto uri = Uri::parse(text);
  if (!uri || !uri->isSipOrSips() || uri->host.empty() || !uri->headers.empty()) {
    return std::nullopt;
  }
  return text;
}

UserAgent::Call* UserAgent::find(CallRef ref) {
  const auto it = calls_.find(ref);
  return it == calls_.end() || it->second->state == Call::State::Ended ? nullptr : it->second.get();
}
const UserAgent::Call* UserAgent::find(CallRef ref) const {
  const auto it = calls_.find(ref);
  return it == calls_.end() || it->second->state == Call::State::Ended ? nullptr : it->second.get();
}

UserAgent::Call* UserAgent::findByDialog(std::string_view callId, std::string_view localTag) {
  for (auto& [ref, call] : calls_) {
    if (call->callId == callId && call->localTag == localTag) return call.get();
  }
  return nullptr;
}

bool UserAgent::hasCall(CallRef ref) const {
  return find(ref) != nullptr;
}

std::size_t UserAgent::callCount() const {
  return static_cast<std::size_t>(std::count_if(calls_.begin(), calls_.end(), [](const auto& c) {
    return c.second->state != Call::State::Ended;
  }));
}

// ---- Sending ------------------------------------------------------------------

std::string UserAgent::viaLine(const std::string& branch) const {
  return fmt::format("SIP/2.0/{} {};branch={}", config_.transport == Transport::Wss ? "WSS" : "WS",
                     config_.host, branch);
}

void UserAgent::sendResponse(const Message& request, int status, std::string_view reason,
                             std::string_view toTag, std::string extraHeaders, std::string body,
                             std::string contentType) {
  auto response = makeResponse(request, status, reason, toTag);
  copyRecordRoute(request, *response);
  appendHeaderLines(*response, extraHeaders);
  if (!body.empty()) response->setBody(std::move(body), std::move(contentType));
  send_(response->serialize());
}

std::string UserAgent::dialogRequest(Call& call, std::string_view method, const std::string& branch,
                                     std::string extraHeaders, std::string body,
                                     std::string contentType, std::uint32_t cseq) {
  if (cseq == 0) cseq = ++call.localCseq;
  std::string routes;
  for (const auto& r : call.routeSet)
    routes += fmt::format("Route: {}\r\n", r);
  std::string text = fmt::format(
      "{} {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n{}From: {}\r\nTo: {}\r\nCall-ID: "
      "{}\r\nCSeq: {} {}\r\n{}",
      method, call.remoteTarget, viaLine(branch), routes, call.localHeader, call.remoteHeader,
      call.callId, cseq, method, extraHeaders);
  if (!body.empty()) text += fmt::format("Content-Type: {}\r\n", contentType);
  text += fmt::format("Content-Length: {}\r\n\r\n", body.size());
  text += body;
  return text;
}

void UserAgent::sendTracked(std::string text, const std::string& branch, CallRef call,
                            Method method, std::function<void(const Message&)> onFinal,
                            std::function<void(const Message&)> onProvisional) {
  auto pending = std::make_unique<Pending>();
  pending->call = call;
  pending->method = method;
  pending->onFinal = std::move(onFinal);
  pending->onProvisional = std::move(onProvisional);
  // The proxy always answers; this guard only keeps a bug elsewhere from
  // leaving the request pending forever. INVITEs have the ring timer.
  if (method != Method::Invite) {
    pending->request = text;
    pending->guard = timers_.schedule(64 * config_.t1, [this, branch] {
      const auto it = pending_.find(branch);
      if (it == pending_.end()) return;
      auto p = std::move(it->second);
      pending_.erase(it);
      p->guard = 0;
      // §8.1.3.1: a transaction timeout is handled as a 408 to the request.
      auto request = Message::parse(p->request);
      if (!request.message || !p->onFinal) return;
      const auto timeout = makeResponse(*request.message, 408);
      p->onFinal(*timeout);
    });
  }
  pending_[branch] = std::move(pending);
  send_(std::move(text));
}

void UserAgent::sendBye(Call& call, std::string_view reasonHeader) {
  const std::string branch = newBranch();
  std::string extra;
  if (!reasonHeader.empty()) extra = fmt::format("Reason: {}\r\n", reasonHeader);
  sendTracked(dialogRequest(call, "BYE", branch, std::move(extra)), branch, call.ref, Method::Bye,
              [](const Message&) {});
}

void UserAgent::sendCancel(Call& call) {
  const std::string text = fmt::format(
      "CANCEL {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: "
      "{}\r\nCSeq: {} CANCEL\r\nContent-Length: 0\r\n\r\n",
      call.requestUri, call.inviteVia, call.inviteFrom, call.inviteTo, call.callId,
      call.inviteCseq);
  // The CANCEL shares the INVITE's branch; its 200 is not worth tracking (the
  // INVITE's final response settles the call), so it is sent untracked.
  send_(text);
}

void UserAgent::sendAck2xx(Call& call) {
  if (call.ackText.empty()) {
    call.ackText = dialogRequest(call, "ACK", newBranch(), {}, {}, {}, call.inviteCseq);
  }
  send_(call.ackText);
}

void UserAgent::sendOkWithRetransmission(Call& call, const Message& invite,
                                         std::string extraHeaders, std::string sdp) {
  auto ok = makeResponse(invite, 200, {}, call.localTag);
  copyRecordRoute(invite, *ok);
  ok->appendHeader(HeaderId::Contact, contact_);
  ok->appendHeader(HeaderId::Allow, std::string(kAllow));
  ok->appendHeader(HeaderId::Supported, "timer");
  appendHeaderLines(*ok, extraHeaders);
  if (!sdp.empty()) ok->setBody(std::move(sdp), std::string(kSdp));
  call.okText = ok->serialize();
  call.okCseq = invite.cseq() ? invite.cseq()->number : 0;
  call.reoffered = false;  // the caller says otherwise after this
  send_(call.okText);
  stopOkRetransmission(call);
  call.okInterval = config_.t1;
  call.okDelay = config_.t1;
  call.okElapsed = std::chrono::milliseconds(0);
  const CallRef ref = call.ref;
  call.okTimer = timers_.schedule(call.okDelay, [this, ref] { retransmitOk(ref); });
}

// §13.3.1.4: the 2xx goes again at T1, 2·T1, ... up to T2 until its ACK
// arrives; after 64·T1 without one, the session is not up and ends.
void UserAgent::retransmitOk(CallRef ref) {
  Call* call = find(ref);
  if (!call) return;
  call->okTimer = 0;
  call->okElapsed += call->okDelay;  // the delay that just ran out
  if (call->okElapsed >= 64 * config_.t1) {
    core::logger("gateway")->info("call {}: no ACK for our 2xx, ending it", call->callId);
    call->okText.clear();
    if (call->state == Call::State::Answered) call->state = Call::State::Confirmed;
    sendBye(*call);
    end(*call, EndCause::Timeout, 408, "No ACK", false);
    return;
  }
  send_(call->okText);
  call->okInterval = std::min(2 * call->okInterval, config_.t2);
  call->okDelay = std::min(call->okInterval, 64 * config_.t1 - call->okElapsed);
  call->okTimer = timers_.schedule(call->okDelay, [this, ref] { retransmitOk(ref); });
}

void UserAgent::stopOkRetransmission(Call& call) {
  if (call.okTimer) timers_.cancel(call.okTimer);
  call.okTimer = 0;
}

// ---- Session timers (RFC 4028) ---------------------------------------------------

// The Session-Expires (and Require) a UAS puts in its 2xx to `request`, and
// the call's timer state: the request's interval and refresher are kept
// (§9); a request with Session-Expires but no "timer" support (a proxy
// added it) makes us the refresher.
std::string UserAgent::sessionTimerHeadersForUas(Call& call, const Message& request) {
  const auto se = parseSessionExpires(request.first(HeaderId::SessionExpires));
  if (!se) {
    call.sessionExpires = 0;
    return {};
  }
  const bool peerSupports = hasOptionTag(request, HeaderId::Supported, "timer") ||
                            hasOptionTag(request, HeaderId::Require, "timer");
  std::string_view refresher = se->refresher;
  if (!peerSupports) {
    refresher = "uas";
  } else if (refresher.empty()) {
    refresher = "uac";
  }
  call.sessionExpires = se->seconds;
  // The UAC of this request is the far side.
  call.weRefresh = refresher == "uas";
  std::string headers = fmt::format("Session-Expires: {};refresher={}\r\n", se->seconds, refresher);
  if (peerSupports) headers += "Require: timer\r\n";
  return headers;
}

// A 2xx to a request we sent (INVITE, re-INVITE, UPDATE): the interval and
// refresher the far side chose; none when it has no Session-Expires.
void UserAgent::applySessionTimer(Call& call, const Message& message, bool weAreUac) {
  const auto se = parseSessionExpires(message.first(HeaderId::SessionExpires));
  if (!se) {
    call.sessionExpires = 0;
  } else {
    call.sessionExpires = se->seconds;
    const std::string_view refresher = se->refresher.empty() ? "uac" : se->refresher;
    call.weRefresh = (refresher == "uac") == weAreUac;
  }
  armSessionTimer(call);
}

void UserAgent::armSessionTimer(Call& call) {
  if (call.sessionTimer) timers_.cancel(call.sessionTimer);
  call.sessionTimer = 0;
  if (call.sessionExpires <= 0 || call.state != Call::State::Confirmed) return;
  const CallRef ref = call.ref;
  if (call.weRefresh) {
    // Refresh at half the interval (§10).
    call.sessionTimer = timers_.schedule(std::chrono::seconds(call.sessionExpires) / 2,
                                         [this, ref] { refreshSession(ref); });
  } else {
    // The far side refreshes; without a refresh by SE - min(32, SE/3) the
    // session has expired (§10).
    const int grace = std::min(32, call.sessionExpires / 3);
    call.sessionTimer =
        timers_.schedule(std::chrono::seconds(call.sessionExpires - grace), [this, ref] {
          Call* c = find(ref);
          if (!c) return;
          c->sessionTimer = 0;
          sendBye(*c, "SIP;cause=408;text=\"Session expired\"");
          end(*c, EndCause::SessionExpired, 408, "Session expired", false);
        });
  }
}

// We refresh: UPDATE when the far side allows it (no SDP), else a re-INVITE
// repeating our last description unchanged.
void UserAgent::refreshSession(CallRef ref) {
  Call* call = find(ref);
  if (!call) return;
  call->sessionTimer = 0;
  const std::string headers =
      fmt::format("Contact: <{}>\r\nSupported: timer\r\nSession-Expires: {};refresher=uac\r\n",
                  contactUri(), call->sessionExpires);
  const std::string branch = newBranch();
  const bool update = call->remoteAllow.find("UPDATE") != std::string::npos;
  if (!update && call->reinviteInProgress) {
    // Our re-INVITE is under way: its 2xx refreshes the session.
    return;
  }
  auto onFinal = [this, ref, update](const Message& response) {
    Call* c = find(ref);
    if (!c) return;
    if (!update) c->reinviteInProgress = false;
    const int status = response.status();
    if (status >= 200 && status < 300) {
      if (!update) sendAck2xx(*c);
      applySessionTimer(*c, response, true);
    } else if (status == 481 || status == 408) {
      // The dialog is gone on the far side (§10: the session is over).
      end(*c, causeForStatus(status), status, response.reason(), true);
    } else {
      // 491 or another refusal: keep the session and try again later.
      armSessionTimer(*c);
    }
  };
  if (update) {
    sendTracked(dialogRequest(*call, "UPDATE", branch, headers), branch, ref, Method::Update,
                onFinal);
  } else {
    call->reinviteInProgress = true;
    call->ackText.clear();
    std::string text =
        dialogRequest(*call, "INVITE", branch, headers, call->localSdp, std::string(kSdp));
    call->inviteCseq = call->localCseq;
    sendTracked(std::move(text), branch, ref, Method::Invite, onFinal);
  }
}

// ---- Receiving ------------------------------------------------------------------------

void UserAgent::receive(std::string text) {
  if (terminated_) return;
  auto parsed = Message::parse(std::move(text));
  if (!parsed.ok()) {
    core::logger("gateway")->warn("{}: dropping a malformed SIP message: {}", aor(), parsed.error);
    return;
  }
  if (parsed.message->isRequest()) {
    onRequest(std::move(parsed.message));
  } else {
    onResponse(std::move(parsed.message));
  }
}

void UserAgent::onResponse(std::unique_ptr<Message> response) {
  const auto* via = response->topViaParsed();
  if (!via) return;
  const std::string branch(via->branch());
  const auto it = pending_.find(branch);
  if (it == pending_.end()) {
    // A 2xx retransmission of an INVITE whose transaction we closed: ACK again.
    if (response->cseqMethod() == Method::Invite && response->status() >= 200 &&
        response->status() < 300) {
      const auto to = response->to();
      if (to) {
        const auto from = response->from();
        Call* call = from ? findByDialog(response->callId(), from->tag()) : nullptr;
        if (call && !call->ackText.empty() && call->remoteTag == to->tag()) {
          send_(call->ackText);
        } else if (call && call->remoteTag != to->tag()) {
          // A second fork answered after the first one (§13.2.2.4): ACK and BYE it.
          onInviteResponse(call->ref, *response);
        }
      }
    }
    return;
  }
  Pending& pending = *it->second;
  if (response->status() < 200) {
    if (pending.onProvisional) pending.onProvisional(*response);
    return;
  }
  auto done = std::move(it->second);
  pending_.erase(it);
  if (done->guard) timers_.cancel(done->guard);
  if (done->onFinal) done->onFinal(*response);
}

void UserAgent::onRequest(std::unique_ptr<Message> request) {
  const Method method = request->method();
  if (method == Method::Cancel) {
    onCancel(*request);
    return;
  }
  const auto to = request->to();
  const std::string_view toTag = to ? to->tag() : std::string_view{};
  if (!toTag.empty()) {
    Call* call = findByDialog(request->callId(), toTag);
    if (call) {
      onInDialogRequest(*call, std::move(request));
      return;
    }
    if (method == Method::Ack) return;  // for a call that is gone
    if (method == Method::Message || method == Method::Options) {
      // Outside any call we know: still for us.
    } else {
      sendResponse(*request, 481);
      return;
    }
  }
  switch (method) {
    case Method::Invite:
      onInvite(std::move(request));
      return;
    case Method::Ack:
      return;  // ACK for a non-2xx final: the proxy's hop absorbs it
    case Method::Message: {
      const std::string tag = toTag.empty() ? core::randomToken(10) : std::string();
      sendResponse(*request, 200, {}, tag);
      observer_.onMessage(*request);
      return;
    }
    case Method::Options: {
      const std::string tag = toTag.empty() ? core::randomToken(10) : std::string();
      sendResponse(*request, 200, {}, tag,
                   fmt::format("Allow: {}\r\nAccept: application/sdp\r\n", kAllow));
      return;
    }
    case Method::Bye:
    case Method::Update:
    case Method::Info:
    case Method::Prack:
      sendResponse(*request, 481);
      return;
    default:
      sendResponse(*request, 405, {}, {}, fmt::format("Allow: {}\r\n", kAllow));
      return;
  }
}

void UserAgent::onInvite(std::unique_ptr<Message> invite) {
  // Extensions the UAS must understand (§8.2.2.3).
  std::string unsupported;
  for (const auto tag : invite->values(HeaderId::Require)) {
    if (iequals(tag, "timer")) continue;
    if (!unsupported.empty()) unsupported += ", ";
    unsupported += tag;
  }
  if (!unsupported.empty()) {
    sendResponse(*invite, 420, {}, {}, fmt::format("Unsupported: {}\r\n", unsupported));
    return;
  }
  const bool lateOffer = invite->body().empty();
  if (!lateOffer && !isSdp(*invite)) {
    sendResponse(*invite, 415, {}, {}, "Accept: application/sdp\r\n");
    return;
  }
  const auto from = invite->from();
  const auto cseq = invite->cseq();
  if (!from || !cseq) return;  // parse() checked both

  auto call = std::make_unique<Call>();
  call->ref = nextCall_++;
  call->outgoing = false;
  call->state = Call::State::Ringing;
  call->callId = std::string(invite->callId());
  call->localTag = core::randomToken(10);
  call->remoteTag = std::string(from->tag());
  call->remoteHeader = std::string(invite->first(HeaderId::From));
  call->localHeader = fmt::format("{};tag={}", invite->first(HeaderId::To), call->localTag);
  call->remoteCseq = cseq->number;
  call->remoteTarget = uriOf(invite->first(HeaderId::Contact));
  if (call->remoteTarget.empty()) {
    sendResponse(*invite, 400, "Missing Contact");
    return;
  }
  for (const auto rr : invite->values(HeaderId::RecordRoute))
    call->routeSet.emplace_back(rr);
  call->remoteAllow = std::string(invite->first(HeaderId::Allow));
  call->remoteSdp = std::string(invite->body());
  call->lateOffer = lateOffer;
  const CallRef ref = call->ref;
  Call& c = *call;
  c.invite = std::move(invite);
  calls_.emplace(ref, std::move(call));
  sendResponse(*c.invite, 180, {}, c.localTag, fmt::format("Contact: {}\r\n", contact_));
  observer_.onIncomingCall(ref, *calls_[ref]->invite);
}

void UserAgent::onCancel(const Message& cancel) {
  const auto* via = cancel.topViaParsed();
  const std::string_view branch = via ? via->branch() : std::string_view{};
  for (auto& [ref, call] : calls_) {
    if (call->outgoing || !call->invite || call->state == Call::State::Ended) continue;
    const auto* inviteVia = call->invite->topViaParsed();
    if (!inviteVia || inviteVia->branch() != branch || call->callId != cancel.callId()) continue;
    sendResponse(cancel, 200);
    if (call->state == Call::State::Ringing) {
      sendResponse(*call->invite, 487, {}, call->localTag);
      // RFC 3326: a forking proxy says why it cancelled (200: answered elsewhere).
      EndCause cause = EndCause::Cancelled;
      const Header* r = cancel.find("Reason");
      if (r && r->value.find("cause=200") != std::string_view::npos) {
        cause = EndCause::AnsweredElsewhere;
      }
      end(*call, cause, 487, "Request Terminated", true);
    }
    return;
  }
  sendResponse(cancel, 481);
}

void UserAgent::onInDialogRequest(Call& call, std::unique_ptr<Message> request) {
  const Method method = request->method();
  const auto cseq = request->cseq();
  if (method == Method::Ack) {
    if (cseq && cseq->number == call.okCseq && !call.okText.empty()) {
      stopOkRetransmission(call);
      call.okText.clear();
      if (call.reoffered) {
        call.reoffered = false;
        if (!isSdp(*request)) {
          // §13.3.1.4 wants the answer here; the session stays as it was.
          core::logger("gateway")->info(
              "call {}: the ACK to our re-offer carries no SDP answer; keeping the session",
              call.callId);
        } else if (sdpOrigin(request->body()) != sdpOrigin(call.remoteSdp)) {
          call.remoteSdp = std::string(request->body());
          observer_.onRenegotiated(call.ref, call.remoteSdp);
        }
        return;
      }
      if (call.state == Call::State::Answered) {
        call.state = Call::State::Confirmed;
        if (call.lateOffer) {
          call.lateOffer = false;
          if (!isSdp(*request)) {
            // §13.3.1.4: the ACK must carry the answer to the 2xx's offer.
            core::logger("gateway")->info("call {}: the ACK carries no SDP answer, ending it",
                                          call.callId);
            sendBye(call);
            end(call, EndCause::Rejected, 488, "No answer in the ACK", false);
            return;
          }
          call.remoteSdp = std::string(request->body());
          observer_.onAnswered(call.ref, call.remoteSdp);
          if (call.state != Call::State::Confirmed) return;  // the observer hung up
        }
        armSessionTimer(call);
      }
    }
    return;
  }
  // §12.2.2: a lower CSeq than the last one is out of order.
  if (cseq && call.remoteCseq != 0 && cseq->number <= call.remoteCseq) {
    sendResponse(*request, 500, "Out of Order");
    return;
  }
  if (cseq) call.remoteCseq = cseq->number;
  if (const auto contact = uriOf(request->first(HeaderId::Contact));
      !contact.empty() && (method == Method::Invite || method == Method::Update)) {
    call.remoteTarget = contact;  // §12.2.2 target refresh
  }

  switch (method) {
    case Method::Bye: {
      sendResponse(*request, 200);
      if (call.state == Call::State::Ringing) {
        // A BYE in the early dialog (§15.1.2): the INVITE gets its 487.
        sendResponse(*call.invite, 487, {}, call.localTag);
      }
      stopOkRetransmission(call);
      end(call, EndCause::Hangup, 0, "BYE", true);
      return;
    }
    case Method::Invite:
    case Method::Update: {
      if (call.state != Call::State::Confirmed && method == Method::Invite) {
        sendResponse(*request, 491);
        return;
      }
      if (call.reinviteInProgress || !call.offers.empty()) {
        sendResponse(*request, 491);  // glare (§14.2)
        return;
      }
      const std::string timerHeaders = sessionTimerHeadersForUas(call, *request);
      const bool hasOffer = isSdp(*request);
      const bool repeated = hasOffer && !call.remoteSdp.empty() &&
                            sdpOrigin(request->body()) == sdpOrigin(call.remoteSdp);
      if (!hasOffer || repeated) {
        // A session refresh: answer with what we have (an offer-less
        // re-INVITE gets our description as the offer, §14.2).
        if (method == Method::Invite) {
          sendOkWithRetransmission(call, *request, timerHeaders, call.localSdp);
          call.reoffered = !hasOffer;  // then its ACK answers
        } else {
          sendResponse(*request, 200, {}, {},
                       fmt::format("Contact: <{}>\r\n{}", contactUri(), timerHeaders),
                       repeated ? call.localSdp : std::string(),
                       repeated ? std::string(kSdp) : std::string());
        }
        armSessionTimer(call);
        return;
      }
      ServerOffer offer;
      offer.id = nextOffer_++;
      offer.request = std::move(request);
      call.sessionHeadersForOk = timerHeaders;
      const std::uint64_t id = offer.id;
      const CallRef ref = call.ref;
      const std::string sdp(offer.request->body());
      call.offers.push_back(std::move(offer));
      observer_.onOffer(ref, id, sdp);
      return;
    }
    case Method::Info: {
      sendResponse(*request, 200);
      observer_.onInfo(call.ref, request->first(HeaderId::ContentType), request->body());
      return;
    }
    case Method::Message: {
      sendResponse(*request, 200);
      observer_.onMessage(*request);
      return;
    }
    case Method::Options: {
      sendResponse(*request, 200, {}, {}, fmt::format("Allow: {}\r\n", kAllow));
      return;
    }
    default:
      sendResponse(*request, 405, {}, {}, fmt::format("Allow: {}\r\n", kAllow));
      return;
  }
}

// ---- Outgoing calls -------------------------------------------------------------------

CallRef UserAgent::call(std::string_view target, std::string sdp) {
  const auto uri = targetUri(target);
  if (!uri || terminated_) return 0;
  auto call = std::make_unique<Call>();
  call->ref = nextCall_++;
  call->outgoing = true;
  call->state = Call::State::Calling;
  call->callId = core::randomToken(24);
  call->localTag = core::randomToken(10);
  call->requestUri = *uri;
  call->localSdp = std::move(sdp);
  const std::string display =
      config_.displayName.empty() ? std::string() : fmt::format("\"{}\" ", config_.displayName);
  call->inviteFrom = fmt::format("{}<sip:{}>;tag={}", display, aor(), call->localTag);
  call->inviteTo = fmt::format("<{}>", *uri);
  call->localHeader = call->inviteFrom;
  call->remoteTarget = *uri;
  const CallRef ref = call->ref;
  Call& c = *call;
  calls_.emplace(ref, std::move(call));

  c.localCseq = 0;
  c.ringTimer = timers_.schedule(config_.ringTimeout, [this, ref] {
    Call* cc = find(ref);
    if (!cc || cc->state != Call::State::Calling) return;
    cc->ringTimer = 0;
    sendCancel(*cc);
    cc->state = Call::State::Cancelling;
    end(*cc, EndCause::Timeout, 408, "No answer", false);
  });
  sendInitialInvite(c, config_.sessionExpires, config_.minSessionExpires);
  return ref;
}

// The dialog-creating INVITE (CSeq + 1, a fresh branch), first and after a 422.
void UserAgent::sendInitialInvite(Call& call, int sessionExpires, int minSe) {
  call.inviteBranch = newBranch();
  call.inviteVia = viaLine(call.inviteBranch);
  call.inviteCseq = ++call.localCseq;
  std::string timer;
  if (sessionExpires > 0) {
    timer = fmt::format("Session-Expires: {}\r\nMin-SE: {}\r\n", sessionExpires, minSe);
  }
  std::string text = fmt::format(
      "INVITE {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: "
      "{}\r\nCSeq: {} INVITE\r\nContact: {}\r\nAllow: {}\r\nSupported: timer\r\n{}User-Agent: "
      "{}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
      call.requestUri, call.inviteVia, call.inviteFrom, call.inviteTo, call.callId, call.inviteCseq,
      contact_, kAllow, timer, config_.userAgent, call.localSdp.size(), call.localSdp);
  const CallRef ref = call.ref;
  sendTracked(
      std::move(text), call.inviteBranch, ref, Method::Invite,
      [this, ref](const Message& r) { onInviteResponse(ref, r); },
      [this, ref](const Message& r) { onInviteResponse(ref, r); });
}

void UserAgent::onInviteResponse(CallRef ref, const Message& response) {
  const auto it = calls_.find(ref);
  if (it == calls_.end()) return;
  Call& call = *it->second;
  const int status = response.status();
  const auto to = response.to();
  const std::string toTag = to ? std::string(to->tag()) : std::string();

  if (status < 200) {
    if (status > 100 && call.state == Call::State::Calling && !call.reported) {
      observer_.onProgress(ref, status, response.reason(),
                           isSdp(response) ? response.body() : std::string_view{});
    }
    return;
  }

  if (status < 300) {
    const bool sameDialog = call.remoteTag.empty() || call.remoteTag == toTag;
    if (!call.remoteTag.empty() && !sameDialog) {
      // Another fork answered too (§13.2.2.4): ACK its 2xx, then BYE it.
      Call other;
      other.callId = call.callId;
      other.localHeader = call.localHeader;
      other.remoteHeader = std::string(response.first(HeaderId::To));
      other.remoteTarget = uriOf(response.first(HeaderId::Contact));
      const auto rrs = response.values(HeaderId::RecordRoute);
      for (auto r = rrs.rbegin(); r != rrs.rend(); ++r)
        other.routeSet.emplace_back(*r);
      if (other.remoteTarget.empty()) return;
      send_(dialogRequest(other, "ACK", newBranch(), {}, {}, {}, call.inviteCseq));
      other.localCseq = call.inviteCseq;
      send_(dialogRequest(other, "BYE", newBranch()));  // its 200 matches nothing: dropped
      return;
    }
    if (call.remoteTag.empty()) {
      // The dialog starts (§12.1.2).
      if (call.ringTimer) timers_.cancel(call.ringTimer);
      call.ringTimer = 0;
      if (call.cancelGuard) timers_.cancel(call.cancelGuard);
      call.cancelGuard = 0;
      call.remoteTag = toTag;
      call.remoteHeader = std::string(response.first(HeaderId::To));
      const auto contact = uriOf(response.first(HeaderId::Contact));
      if (!contact.empty()) call.remoteTarget = contact;
      call.routeSet.clear();
      const auto rrs = response.values(HeaderId::RecordRoute);
      for (auto r = rrs.rbegin(); r != rrs.rend(); ++r)
        call.routeSet.emplace_back(*r);
      call.remoteAllow = std::string(response.first(HeaderId::Allow));
      call.remoteSdp = std::string(response.body());
    }
    sendAck2xx(call);
    if (call.state == Call::State::Cancelling || call.state == Call::State::Ended) {
      // We hung up (or gave up) while it was being answered: end it now.
      if (call.state == Call::State::Cancelling) {
        call.state = Call::State::Confirmed;
        sendBye(call);
        end(call, EndCause::Hangup, 0, {}, false, false);
      }
      return;
    }
    if (call.state != Call::State::Calling) return;  // a retransmission, ACKed above
    call.state = Call::State::Confirmed;
    applySessionTimer(call, response, true);
    observer_.onAnswered(ref, call.remoteSdp);
    return;
  }

  // A final failure: ACK it (same branch, To with the response's tag, §17.1.1.3).
  const std::string ack = fmt::format(
      "ACK {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: "
      "{}\r\nCSeq: {} ACK\r\nContent-Length: 0\r\n\r\n",
      call.requestUri, call.inviteVia, call.inviteFrom, response.first(HeaderId::To), call.callId,
      call.inviteCseq);
  send_(ack);
  if (status == 422 && !call.retried422 && call.state == Call::State::Calling) {
    // Session interval too small (RFC 4028 §7.4): retry once with Min-SE.
    const int minSe = parseInt(response.first(HeaderId::MinSE), 0);
    if (minSe > 0 && minSe <= 86400) {
      call.retried422 = true;
      sendInitialInvite(call, minSe, minSe);
      return;
    }
  }
  if (call.state == Call::State::Calling) {
    end(call, causeForStatus(status), status, response.reason(), true);
  } else {
    end(call, EndCause::Hangup, status, response.reason(), false, false);
  }
}

// ---- Incoming call control ------------------------------------------------------------

bool UserAgent::answer(CallRef ref, std::string sdp) {
  Call* call = find(ref);
  if (!call || call->outgoing || call->state != Call::State::Ringing || sdp.empty()) return false;
  call->localSdp = sdp;
  const std::string timerHeaders = sessionTimerHeadersForUas(*call, *call->invite);
  call->state = Call::State::Answered;
  call->localCseq = 0;
  sendOkWithRetransmission(*call, *call->invite, timerHeaders, std::move(sdp));
  return true;
}

bool UserAgent::progress(CallRef ref, std::string sdp) {
  Call* call = find(ref);
  if (!call || call->outgoing || call->state != Call::State::Ringing || sdp.empty() ||
      call->lateOffer) {
    return false;
  }
  call->localSdp = sdp;
  sendResponse(*call->invite, 183, {}, call->localTag, fmt::format("Contact: {}\r\n", contact_),
               std::move(sdp), std::string(kSdp));
  return true;
}

bool UserAgent::reject(CallRef ref, int status) {
  Call* call = find(ref);
  if (!call || call->outgoing || call->state != Call::State::Ringing) return false;
  if (status < 300 || status > 699) status = 603;
  sendResponse(*call->invite, status, {}, call->localTag);
  end(*call, causeForStatus(status), status, reasonPhrase(status), false, false);
  return true;
}

bool UserAgent::hangup(CallRef ref) {
  Call* call = find(ref);
  if (!call) return false;
  switch (call->state) {
    case Call::State::Calling:
      sendCancel(*call);
      call->state = Call::State::Cancelling;
      if (call->ringTimer) timers_.cancel(call->ringTimer);
      call->ringTimer = 0;
      end(*call, EndCause::Hangup, 0, {}, false);
      return true;
    case Call::State::Ringing:
      sendResponse(*call->invite, 603, {}, call->localTag);
      end(*call, EndCause::Hangup, 0, {}, false);
      return true;
    case Call::State::Answered:
    case Call::State::Confirmed:
      stopOkRetransmission(*call);
      sendBye(*call);
      end(*call, EndCause::Hangup, 0, {}, false);
      return true;
    case Call::State::Cancelling:
    case Call::State::Ended:
      return false;
  }
  return false;
}

bool UserAgent::reinvite(CallRef ref, std::string sdp, Done done) {
  Call* call = find(ref);
  if (!call || call->state != Call::State::Confirmed || sdp.empty()) return false;
  if (call->reinviteInProgress || !call->offers.empty()) {
    // One offer at a time (RFC 3264 §4); the caller may try again.
    if (done) done(491, "Request Pending", {});
    return true;
  }
  call->reinviteInProgress = true;
  const std::string branch = newBranch();
  std::string headers =
      fmt::format("Contact: <{}>\r\nAllow: {}\r\nSupported: timer\r\n", contactUri(), kAllow);
  if (call->sessionExpires > 0) {
    headers += fmt::format("Session-Expires: {};refresher={}\r\n", call->sessionExpires,
                           call->weRefresh ? "uac" : "uas");
  }
  std::string previous = call->localSdp;
  call->localSdp = sdp;
  std::string text =
      dialogRequest(*call, "INVITE", branch, headers, std::move(sdp), std::string(kSdp));
  call->inviteCseq = call->localCseq;
  call->ackText.clear();
  sendTracked(std::move(text), branch, ref, Method::Invite,
              [this, ref, done, previous](const Message& response) {
                Call* c = find(ref);
                if (!c) return;
                c->reinviteInProgress = false;
                const int status = response.status();
                if (status >= 200 && status < 300) {
                  sendAck2xx(*c);
                  if (isSdp(response)) c->remoteSdp = std::string(response.body());
                  applySessionTimer(*c, response, true);
                } else {
                  c->localSdp = previous;  // the offer was refused: the old session stands
                  if (status == 481 || status == 408) {
                    if (done) done(status, response.reason(), {});
                    end(*c, causeForStatus(status), status, response.reason(), true);
                    return;
                  }
                }
                if (done) done(status, response.reason(), isSdp(response) ? response.body() : "");
              });
  return true;
}

bool UserAgent::answerOffer(CallRef ref, std::uint64_t offerId, int status, std::string sdp) {
  Call* call = find(ref);
  if (!call) return false;
  const auto it = std::find_if(call->offers.begin(), call->offers.end(),
                               [offerId](const ServerOffer& o) { return o.id == offerId; });
  if (it == call->offers.end()) return false;
  auto request = std::move(it->request);
  call->offers.erase(it);
  const bool isInvite = request->method() == Method::Invite;
  if (status >= 200 && status < 300 && !sdp.empty()) {
    call->localSdp = sdp;
    call->remoteSdp = std::string(request->body());
    if (isInvite) {
      sendOkWithRetransmission(*call, *request, call->sessionHeadersForOk, std::move(sdp));
    } else {
      sendResponse(*request, 200, {}, {},
                   fmt::format("Contact: <{}>\r\n{}", contactUri(), call->sessionHeadersForOk),
                   std::move(sdp), std::string(kSdp));
    }
    armSessionTimer(*call);
  } else {
    if (status < 300 || status > 699) status = 488;
    sendResponse(*request, status);
  }
  return true;
}

bool UserAgent::info(CallRef ref, std::string contentType, std::string body, Done done) {
  Call* call = find(ref);
  if (!call || call->state != Call::State::Confirmed) return false;
  const std::string branch = newBranch();
  sendTracked(dialogRequest(*call, "INFO", branch, {}, std::move(body), std::move(contentType)),
              branch, ref, Method::Info, [done](const Message& response) {
                if (done) done(response.status(), response.reason(), response.body());
              });
  return true;
}

bool UserAgent::message(std::string_view target, std::string contentType, std::string body,
                        Done done) {
  const auto uri = targetUri(target);
  if (!uri || terminated_) return false;
  const std::string branch = newBranch();
  const std::string text = fmt::format(
      "MESSAGE {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:{}>;tag={}\r\nTo: "
      "<{}>\r\nCall-ID: {}\r\nCSeq: {} MESSAGE\r\nUser-Agent: {}\r\nContent-Type: "
      "{}\r\nContent-Length: {}\r\n\r\n{}",
      *uri, viaLine(branch), aor(), core::randomToken(10), *uri, core::randomToken(24),
      ++messageCseq_, config_.userAgent, contentType, body.size(), body);
  sendTracked(text, branch, 0, Method::Message, [done](const Message& response) {
    if (done) done(response.status(), response.reason(), response.body());
  });
  return true;
}

// ---- Registration -------------------------------------------------------------------------

void UserAgent::registerBinding() {
  if (terminated_) return;
  if (registerTimer_) timers_.cancel(registerTimer_);
  registerTimer_ = 0;
  const std::string branch = newBranch();
  const std::string text = fmt::format(
      "REGISTER sip:{} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:{}>;tag={}\r\nTo: "
      "<sip:{}>\r\nCall-ID: {}\r\nCSeq: {} REGISTER\r\nContact: <{}>;expires={}\r\nUser-Agent: "
      "{}\r\nContent-Length: 0\r\n\r\n",
      config_.domain, viaLine(branch), aor(), core::randomToken(10), aor(), registerCallId_,
      ++registerCseq_, contactUri(), config_.registerExpires, config_.userAgent);
  sendTracked(text, branch, 0, Method::Register, [this](const Message& response) {
    const int status = response.status();
    if (status >= 200 && status < 300) {
      // The expiry granted to our Contact (or the Expires header).
      int granted = config_.registerExpires;
      const std::string mine = contactUri();
      for (const auto c : response.values(HeaderId::Contact)) {
        const auto na = NameAddr::parse(c);
        if (na && na->uri.text == mine) {
          if (const auto e = na->param("expires")) granted = parseInt(*e, granted);
        }
      }
      registered_ = true;
      scheduleRegisterRefresh(std::max(granted / 2, 1));
    } else {
      registered_ = false;
    }
    observer_.onRegistration(status);
  });
}

void UserAgent::scheduleRegisterRefresh(int seconds) {
  if (registerTimer_) timers_.cancel(registerTimer_);
  registerTimer_ = timers_.schedule(std::chrono::seconds(seconds), [this] {
    registerTimer_ = 0;
    registerBinding();
  });
}

void UserAgent::unregister() {
  if (registerTimer_) timers_.cancel(registerTimer_);
  registerTimer_ = 0;
  if (!registered_ || terminated_) return;
  registered_ = false;
  const std::string branch = newBranch();
  const std::string text = fmt::format(
      "REGISTER sip:{} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:{}>;tag={}\r\nTo: "
      "<sip:{}>\r\nCall-ID: {}\r\nCSeq: {} REGISTER\r\nContact: <{}>;expires=0\r\nContent-Length: "
      "0\r\n\r\n",
      config_.domain, viaLine(branch), aor(), core::randomToken(10), aor(), registerCallId_,
      ++registerCseq_, contactUri());
  sendTracked(text, branch, 0, Method::Register, [](const Message&) {});
}

// ---- Ending ---------------------------------------------------------------------------------

void UserAgent::end(Call& call, EndCause cause, int status, std::string_view reason, bool byRemote,
                    bool notify) {
  if (call.sessionTimer) timers_.cancel(call.sessionTimer);
  call.sessionTimer = 0;
  if (call.ringTimer) timers_.cancel(call.ringTimer);
  call.ringTimer = 0;
  stopOkRetransmission(call);
  // Offers the observer still holds get a 487 (§14.2 lets us refuse them).
  for (auto& offer : call.offers) {
    if (offer.request) sendResponse(*offer.request, 487);
  }
  call.offers.clear();
  const bool report = notify && !call.reported;
  call.reported = true;
  const CallRef ref = call.ref;
  if (call.state == Call::State::Cancelling) {
    // Keep the call until the INVITE's final response (a 2xx must be ACKed
    // and ended with BYE); a guard ends the wait if none comes.
    if (!call.cancelGuard) {
      call.cancelGuard = timers_.schedule(64 * config_.t1, [this, ref] { reap(ref); });
    }
  } else {
    call.state = Call::State::Ended;
    if (!call.reapTimer) {
      call.reapTimer = timers_.schedule(std::chrono::milliseconds(0), [this, ref] {
        if (const auto it = calls_.find(ref); it != calls_.end()) it->second->reapTimer = 0;
        reap(ref);
      });
    }
  }
  if (report) {
    const std::string why(reason);
    observer_.onEnded(ref, cause, status, why, byRemote);
  }
}

void UserAgent::reap(CallRef ref) {
  const auto it = calls_.find(ref);
  if (it == calls_.end()) return;
  Call& call = *it->second;
  for (auto id :
       {call.cancelGuard, call.sessionTimer, call.ringTimer, call.okTimer, call.reapTimer}) {
    if (id) timers_.cancel(id);
  }
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second->call == ref && p->second->method == Method::Invite) {
      p = pending_.erase(p);
    } else {
      ++p;
    }
  }
  calls_.erase(it);
}

void UserAgent::terminateAll() {
  if (terminated_) return;
  std::vector<CallRef> refs;
  for (const auto& [ref, call] : calls_)
    refs.push_back(ref);
  for (const CallRef ref : refs) {
    Call* call = find(ref);
    if (!call) continue;
    call->reported = true;
    switch (call->state) {
      case Call::State::Calling:
        sendCancel(*call);
        break;
      case Call::State::Ringing:
        sendResponse(*call->invite, 480, {}, call->localTag);
        break;
      case Call::State::Answered:
      case Call::State::Confirmed:
        sendBye(*call, "SIP;cause=480;text=\"Connection lost\"");
        break;
      default:
        break;
    }
  }
  unregister();
  terminated_ = true;
  for (auto& [ref, call] : calls_) {
    for (auto id :
         {call->cancelGuard, call->sessionTimer, call->ringTimer, call->okTimer, call->reapTimer}) {
      if (id) timers_.cancel(id);
    }
  }
  calls_.clear();
  for (auto& [branch, p] : pending_) {
    if (p->guard) timers_.cancel(p->guard);
  }
  pending_.clear();
  if (registerTimer_) timers_.cancel(registerTimer_);
  registerTimer_ = 0;
}

}  // namespace tandem::sip
