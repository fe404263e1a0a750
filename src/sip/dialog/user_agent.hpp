#pragma once
// A SIP user agent (RFC 3261 §8, §12–§15; RFC 4028 session timers; RFC 3428
// MESSAGE) for one local user, speaking over a reliable, ordered message pipe
// to the proxy core of the same server. The gateway runs one for each
// logged-in site-protocol connection: to the rest of the SIP stack it looks
// like a browser on a WebSocket (Via SIP/2.0/WS, a *.invalid Contact reached
// only through its connection), so registration, routing, forking, flow
// tokens and federation treat JSON users and SIP users alike.
//
// It is a UA core over a reliable transport: requests are not retransmitted
// (the pipe does not lose them, and the proxy's transactions retransmit on
// the hops that can), but 2xx responses to INVITE are, end to end, until
// their ACK (§13.3.1.4), and a retransmitted 2xx gets its ACK again.
//
// Every call is a dialog of its own; the observer hears about each change and
// drives the far end of the gateway (the JSON client). Observer callbacks may
// call back into the UA.

#include "core/timer_service.hpp"
#include "sip/message/message.hpp"
#include "sip/transport/flow.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tandem::sip {

using CallRef = std::uint64_t;  // 0 is never a call

// Why a call ended (or never started), as the site protocol names it.
enum class EndCause {
  Hangup,             // BYE from either side
  Cancelled,          // the caller gave up before the answer
  AnsweredElsewhere,  // another device of the user answered (RFC 3326 cause 200)
  Busy,               // 486, 600
  NotFound,           // 404, 604, 484
  Unavailable,        // 480, 410, 430, 503, 502
  Declined,           // 603
  Timeout,            // 408, no answer in time, no ACK
  Rejected,           // any other final failure
  SessionExpired,     // RFC 4028: no refresh in time
  ConnectionLost,     // the local side's connection went away
};
std::string_view endCauseName(EndCause cause);  // "busy", "not_found", ...
// The cause behind a final failure status.
EndCause causeForStatus(int status);

struct UaConfig {
  std::string domain;                   // the served domain: the user's AOR is user@domain
  std::string user;                     // the local user
  std::string displayName;              // optional, for From
  std::string host;                     // Via sent-by and Contact host, e.g. "k3j2.invalid"
  Transport transport = Transport::Ws;  // Ws or Wss: what the channel is
  std::chrono::milliseconds t1{500}, t2{4000};
  int registerExpires = 600;
  // Session-Expires proposed on outgoing INVITEs (RFC 4028 §7.1); 0: none.
  int sessionExpires = 1800;
  int minSessionExpires = 90;
  // An outgoing call unanswered for this long is cancelled (cause Timeout).
  std::chrono::milliseconds ringTimeout{120000};
  std::string userAgent = "Tandem";
};

class UaObserver {
 public:
  virtual ~UaObserver() = default;
  // A REGISTER (or its refresh) completed: 200, or the failure status.
  virtual void onRegistration(int status) = 0;
  // A new incoming call; 180 Ringing has been sent already. An INVITE without
  // a body is a late offer (RFC 3261 §13.2.1): answer() then carries our
  // offer, and the far side's answer arrives in its ACK, through onAnswered.
  virtual void onIncomingCall(CallRef call, const Message& invite) = 0;
  // A provisional response to an outgoing call (180, 183, ...); `sdp` is
  // early media when not empty.
  virtual void onProgress(CallRef call, int status, std::string_view reason,
                          std::string_view sdp) = 0;
  // The SDP answer: of an outgoing call (its 2xx), or of the offer we sent in
  // the 2xx of a late-offer incoming call (its ACK).
  virtual void onAnswered(CallRef call, std::string_view sdp) = 0;
  // The far side offers a new session description in a confirmed call
  // (re-INVITE or UPDATE): reply with answerOffer(). Session refreshes that
  // repeat the previous offer are answered by the UA itself and never get here.
  virtual void onOffer(CallRef call, std::uint64_t offer, std::string_view sdp) = 0;
  // The far side sent a re-INVITE without an offer in a confirmed call: the
  // UA offered the current local description in its 2xx, and the ACK brought
  // an answer that changes the session (a new SDP version). Answers that
  // repeat the previous one (a session refresh) never get here.
  virtual void onRenegotiated(CallRef call, std::string_view sdp) = 0;
  virtual void onInfo(CallRef call, std::string_view contentType, std::string_view body) = 0;
  // The call is over (or failed to start): `status` is the SIP status behind
  // it (0 when none, e.g. a BYE). The call is gone afterwards.
  virtual void onEnded(CallRef call, EndCause cause, int status, std::string_view reason,
                       bool byRemote) = 0;
  // A MESSAGE (RFC 3428) for the user, inside a call or not; 200 is sent.
  virtual void onMessage(const Message& message) = 0;
};

class UserAgent {
 public:
  using Send = std::function<void(std::string)>;
  // The final status of a request the UA sent for the observer (re-INVITE,
  // INFO, MESSAGE) and its body (the SDP answer of a re-INVITE).
  using Done = std::function<void(int status, std::string_view reason, std::string_view body)>;

  UserAgent(UaConfig config, core::TimerService& timers, Send send, UaObserver& observer);
  ~UserAgent();
  UserAgent(const UserAgent&) = delete;
  UserAgent& operator=(const UserAgent&) = delete;

  // One message from the proxy. Malformed ones are dropped (the proxy never
  // sends any).
  void receive(std::string text);

  // Registers the user's Contact and keeps it refreshed at half its expiry.
  void registerBinding();
  // Removes it (Expires: 0) and stops refreshing.
  void unregister();

  // A user ("bob"), an address ("bob@b.example") or a URI ("sip:..."); nullopt
  // when it is none of those.
  std::optional<std::string> targetUri(std::string_view target) const;

  // Places a call with an SDP offer; 0 when `target` is not valid.
  CallRef call(std::string_view target, std::string sdp);
  // Incoming calls: 200 with the SDP answer (our offer for a late-offer call)
  // / 183 with early media (not for a late-offer call: no reliable
  // provisionals here) / a final failure (486, 603, 480, ...).
  bool answer(CallRef call, std::string sdp);
  bool progress(CallRef call, std::string sdp);
  bool reject(CallRef call, int status);
  // Ends the call whatever its state: CANCEL, BYE or 603. onEnded follows at
  // once (byRemote false).
  bool hangup(CallRef call);
  // A re-INVITE with a new offer (hold, resume, renegotiation).
  bool reinvite(CallRef call, std::string sdp, Done done);
  // Replies to onOffer: 200 with `sdp`, or a failure status (488, 500).
  bool answerOffer(CallRef call, std::uint64_t offer, int status, std::string sdp);
  bool info(CallRef call, std::string contentType, std::string body, Done done);
  // A MESSAGE outside any call; false when `target` is not valid.
  bool message(std::string_view target, std::string contentType, std::string body, Done done);

  // Ends every call (CANCEL, BYE, 480) without telling the observer, and
  // stops every timer: the local side is gone.
  void terminateAll();

  bool hasCall(CallRef call) const;
  std::size_t callCount() const;
  const std::string& contactUri() const;  // "sip:user@host;transport=ws"
  std::string aor() const;                // "user@domain"

 private:
  struct Call;
  struct Pending;
  struct ServerOffer;

  void onRequest(std::unique_ptr<Message> request);
  void onResponse(std::unique_ptr<Message> response);
  void onInvite(std::unique_ptr<Message> invite);
  void onInDialogRequest(Call& call, std::unique_ptr<Message> request);
  void onCancel(const Message& cancel);
  void onInviteResponse(CallRef ref, const Message& response);
  void onReinviteResponse(CallRef ref, const Message& response, Done done);

  // Sending.
  std::string viaLine(const std::string& branch) const;
  void sendResponse(const Message& request, int status, std::string_view reason = {},
                    std::string_view toTag = {}, std::string extraHeaders = {},
                    std::string body = {}, std::string contentType = {});
  // A request in the dialog of `call` (CSeq incremented unless `cseq` given).
  std::string dialogRequest(Call& call, std::string_view method, const std::string& branch,
                            std::string extraHeaders = {}, std::string body = {},
                            std::string contentType = {}, std::uint32_t cseq = 0);
  void sendTracked(std::string text, const std::string& branch, CallRef call, Method method,
                   std::function<void(const Message&)> onFinal,
                   std::function<void(const Message&)> onProvisional = {});
  void sendBye(Call& call, std::string_view reasonHeader = {});
  void sendCancel(Call& call);
  void sendAck2xx(Call& call);
  void sendInitialInvite(Call& call, int sessionExpires, int minSe);
  void sendOkWithRetransmission(Call& call, const Message& invite, std::string extraHeaders,
                                std::string sdp);
  void stopOkRetransmission(Call& call);
  void retransmitOk(CallRef ref);

  // Session timers (RFC 4028).
  std::string sessionTimerHeadersForUas(Call& call, const Message& request);
  void applySessionTimer(Call& call, const Message& message, bool weAreUac);
  void armSessionTimer(Call& call);
  void refreshSession(CallRef ref);

  void end(Call& call, EndCause cause, int status, std::string_view reason, bool byRemote,
           bool notify = true);
  void reap(CallRef ref);
  Call* find(CallRef ref);
  const Call* find(CallRef ref) const;
  Call* findByDialog(std::string_view callId, std::string_view localTag);
  void scheduleRegisterRefresh(int seconds);

  UaConfig config_;
  core::TimerService& timers_;
  Send send_;
  UaObserver& observer_;
  std::unordered_map<CallRef, std::unique_ptr<Call>> calls_;
  std::unordered_map<std::string, std::unique_ptr<Pending>> pending_;  // by branch
  CallRef nextCall_ = 1;
  std::uint64_t nextOffer_ = 1;
  // Registration.
  std::string registerCallId_;
  std::uint32_t registerCseq_ = 0;
  core::TimerService::TimerId registerTimer_ = 0;
  bool registered_ = false;
  std::uint32_t messageCseq_ = 0;
  bool terminated_ = false;
  const std::string contactUri_;
  const std::string contact_;  // "<contactUri_>", as Contact headers carry it
};

// The o= line of an SDP body ("" when none): a session description whose
// origin (and so its version) is unchanged repeats the previous one
// (RFC 3264 §8), as a session refresh does.
std::string_view sdpOrigin(std::string_view sdp);

}  // namespace tandem::sip
