#include "sip/transaction/client_non_invite.hpp"

#include <algorithm>

namespace tandem::sip {

void ClientNonInviteTransaction::start() {
  if (!sendRequest()) return;
  if (!reliable()) {
    timerE_ = config().timerE();
    startRetransmitTimer(TxTimer::TimerE, timerE_);
  }
  startLifetimeTimer(TxTimer::TimerF, config().timerF());
}

Outcome ClientNonInviteTransaction::onResponse(const Message& response) {
  switch (state_) {
    case State::Trying:
    case State::Proceeding:
      if (response.status() < 200) {
        // Timer E keeps running; from its next firing it uses T2 (§17.1.2.2).
        state_ = State::Proceeding;
        return Outcome::tell(Outcome::Report::Response);
      }
      state_ = State::Completed;
      stopTimers();
      keepOnly();  // Completed only absorbs retransmitted responses
      if (reliable()) return Outcome::terminate(Outcome::Report::Response);  // Timer K is 0
      startLifetimeTimer(TxTimer::TimerK, config().timerK());
      return Outcome::finalResponse();
    case State::Completed:
      return Outcome::absorb();
    case State::Terminated:
      break;
  }
  return {};
}

Outcome ClientNonInviteTransaction::onTimer(TxTimer which) {
  switch (which) {
    case TxTimer::TimerE:
      if (state_ != State::Trying && state_ != State::Proceeding) return {};
      if (!resend()) return fail();
      timerE_ = state_ == State::Trying ? std::min(2 * timerE_, config().t2) : config().t2;
      startRetransmitTimer(TxTimer::TimerE, timerE_);
      return {};
    case TxTimer::TimerF:
      if (state_ != State::Trying && state_ != State::Proceeding) return {};
      state_ = State::Terminated;
      stopTimers();
      return Outcome::terminate(Outcome::Report::Timeout);
    case TxTimer::TimerK:
      state_ = State::Terminated;
      return Outcome::terminate();
    default:
      return {};
  }
}

}  // namespace tandem::sip
