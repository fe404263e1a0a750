#include "sip/transaction/client_invite.hpp"

namespace tandem::sip {

void ClientInviteTransaction::start() {
  if (!sendRequest()) return;
  // §17.1.1.2: Timer A only for unreliable transports; Timer B always.
  if (!reliable()) {
    timerA_ = config().timerA();
    startRetransmitTimer(TxTimer::TimerA, timerA_);
  }
  startLifetimeTimer(TxTimer::TimerB, config().timerB());
}

Outcome ClientInviteTransaction::onResponse(const Message& response) {
  const int status = response.status();
  switch (state_) {
    case State::Calling:
    case State::Proceeding:
      if (status < 200) {
        // In Proceeding the TU's Timer C (§16.6) bounds the wait, not Timer B.
        state_ = State::Proceeding;
        stopTimers();
        return Outcome::tell(Outcome::Report::Response);
      }
      if (status < 300) {
        // RFC 6026 §7.2: the 2xx goes up, and the TU (not this transaction)
        // sends the ACK; later 2xx from other branches of a fork go up too.
        state_ = State::Accepted;
        stopTimers();
        keepOnly();
        startLifetimeTimer(TxTimer::TimerM, config().timerM());
        return Outcome::finalResponse();
      }
      return complete(response);
    case State::Completed:
      // §17.1.1.2: a retransmitted final response gets the ACK again and is
      // not passed up.
      if (status >= 300) resend();
      return Outcome::absorb();
    case State::Accepted:
      if (status >= 200 && status < 300) return Outcome::tell(Outcome::Report::Response);
      return Outcome::absorb();
    case State::Terminated:
      break;
  }
  return {};
}

Outcome ClientInviteTransaction::complete(const Message& response) {
  state_ = State::Completed;
  stopTimers();
  std::string ack = buildAckForNon2xx(*request(), response);
  // A lost ACK is recovered by the server's retransmission of the response.
  if (reliable()) {
    keepOnly();
    sendOnce(std::move(ack), SendMode::Deferrable);
    return Outcome::terminate(Outcome::Report::Response);  // Timer D is 0
  }
  // From here on only the ACK is kept, for retransmitted finals.
  keepOnly(std::move(ack));
  resend();
  startLifetimeTimer(TxTimer::TimerD, config().timerD());
  return Outcome::finalResponse();
}

Outcome ClientInviteTransaction::onTimer(TxTimer which) {
  switch (which) {
    case TxTimer::TimerA:
      if (state_ != State::Calling) return {};
      if (!resend()) return fail();
      timerA_ *= 2;  // §17.1.1.2: no T2 cap for INVITE; Timer B ends it
      startRetransmitTimer(TxTimer::TimerA, timerA_);
      return {};
    case TxTimer::TimerB:
      if (state_ != State::Calling) return {};
      state_ = State::Terminated;
      stopTimers();
      return Outcome::terminate(Outcome::Report::Timeout);
    case TxTimer::TimerD:
    case TxTimer::TimerM:
      state_ = State::Terminated;
      stopTimers();
      return Outcome::terminate();
    default:
      return {};
  }
}

std::string buildAckForNon2xx(const Message& invite, const Message& response) {
  std::string_view topVia = invite.first(HeaderId::Via);
  if (const auto values = splitCommaList(topVia); !values.empty()) topVia = values.front();
  const auto cseq = invite.cseq();

  const std::string_view from = invite.first(HeaderId::From);
  const std::string_view to = response.first(HeaderId::To);
  const std::string number = std::to_string(cseq ? cseq->number : 0);
  // The exact size: the bytes stay in the transaction for all of Timer D.
  std::size_t size = invite.requestUriText().size() + topVia.size() + from.size() + to.size() +
                     invite.callId().size() + number.size() + 97;
  for (const Header& h : invite.headers()) {
    if (h.id == HeaderId::Route) size += h.value.size() + 9;
  }

  std::string ack;
  ack.reserve(size);
  ack.append("ACK ").append(invite.requestUriText()).append(" SIP/2.0\r\n");
  ack.append("Via: ").append(topVia).append("\r\n");
  // §17.1.1.3: the Route header fields of the request, in the same order.
  for (const Header& h : invite.headers()) {
    if (h.id == HeaderId::Route) ack.append("Route: ").append(h.value).append("\r\n");
  }
  ack.append("Max-Forwards: 70\r\n");
  ack.append("From: ").append(from).append("\r\n");
  ack.append("To: ").append(to).append("\r\n");
  ack.append("Call-ID: ").append(invite.callId()).append("\r\n");
  ack.append("CSeq: ").append(number).append(" ACK\r\n");
  ack.append("Content-Length: 0\r\n\r\n");
  return ack;
}

}  // namespace tandem::sip
