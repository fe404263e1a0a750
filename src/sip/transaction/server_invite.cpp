#include "sip/transaction/server_invite.hpp"

#include <algorithm>

namespace tandem::sip {

void ServerInviteTransaction::sendTrying(std::unique_ptr<Message> trying) {
  if (state_ != State::Proceeding || responded()) return;
  if (config().trying.count() <= 0) {
    sendResponse(*trying, true);
    return;
  }
  trying_ = std::move(trying);
  startRetransmitTimer(TxTimer::Trying, config().trying);
}

void ServerInviteTransaction::sendPendingTrying() {
  if (!trying_) return;
  stopRetransmitTimer();
  const auto trying = std::move(trying_);
  sendResponse(*trying, true);
}

Outcome ServerInviteTransaction::onRetransmission() {
  switch (state_) {
    case State::Proceeding:
      // The client already retransmits: quench it now.
      if (trying_) {
        sendPendingTrying();
        return Outcome::absorb();
      }
      [[fallthrough]];
    case State::Completed:
      // §17.2.1: the most recent provisional, or the final response, again.
      if (!resendLast()) return fail();
      return Outcome::absorb();
    case State::Confirmed:
    case State::Accepted:
    case State::Terminated:
      break;
  }
  return Outcome::absorb();
}

Outcome ServerInviteTransaction::respond(const Message& response) {
  const int status = response.status();
  if (status < 100 || status > 699) return {};
  if (status > 100) {
    setToTag(response.toTag());
  }
  if (trying_) {  // the TU's own response makes the 100 Trying unnecessary
    trying_.reset();
    stopRetransmitTimer();
  }
  switch (state_) {
    case State::Proceeding:
      if (status < 200) {
        sendResponse(response, true);
        return {};
      }
      if (status < 300) {
        // RFC 6026 §7.1: the TU (UAS core or proxy) retransmits the 2xx, not
        // this transaction, so the bytes are not kept.
        if (!sendResponse(response, false)) return {};
        state_ = State::Accepted;
        dropLastResponse();  // the last provisional: never resent from here
        startLifetimeTimer(TxTimer::TimerL, config().timerL());
        return {};
      }
      if (!sendResponse(response, true)) return {};
      state_ = State::Completed;
      if (!reliable()) {
        timerG_ = config().timerG();
        startRetransmitTimer(TxTimer::TimerG, timerG_);
      }
      startLifetimeTimer(TxTimer::TimerH, config().timerH());
      return {};
    case State::Accepted:
      if (status >= 200 && status < 300) sendResponse(response, false);
      return {};
    case State::Completed:
    case State::Confirmed:
    case State::Terminated:
      break;
  }
  return {};
}

Outcome ServerInviteTransaction::onAck() {
  switch (state_) {
    case State::Completed:
      state_ = State::Confirmed;
      stopTimers();
      dropLastResponse();  // Confirmed only absorbs ACKs
      if (reliable()) {
        state_ = State::Terminated;  // Timer I is 0
        return Outcome::terminate();
      }
      startLifetimeTimer(TxTimer::TimerI, config().timerI());
      return {};
    case State::Accepted:
      return Outcome::tell(Outcome::Report::AckToUser);
    case State::Proceeding:
    case State::Confirmed:
    case State::Terminated:
      break;
  }
  return Outcome::absorb();
}

Outcome ServerInviteTransaction::onTimer(TxTimer which) {
  switch (which) {
    case TxTimer::Trying:
      if (state_ == State::Proceeding) sendPendingTrying();
      return {};
    case TxTimer::TimerG:
      if (state_ != State::Completed) return {};
      if (!resendLast()) return fail();
      timerG_ = std::min(2 * timerG_, config().t2);
      startRetransmitTimer(TxTimer::TimerG, timerG_);
      return {};
    case TxTimer::TimerH:
    case TxTimer::TimerI:
    case TxTimer::TimerL:
      // Timer H: the ACK never came. The TU has sent its final response and
      // has nothing left to do, so nothing is reported.
      state_ = State::Terminated;
      stopTimers();
      return Outcome::terminate();
    default:
      return {};
  }
}

}  // namespace tandem::sip
