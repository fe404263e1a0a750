#include "sip/transaction/server_non_invite.hpp"

namespace tandem::sip {

Outcome ServerNonInviteTransaction::onRetransmission() {
  switch (state_) {
    case State::Proceeding:
    case State::Completed:
      if (!resendLast()) return fail();
      return Outcome::absorb();
    case State::Trying:
    case State::Terminated:
      break;
  }
  return Outcome::absorb();
}

Outcome ServerNonInviteTransaction::respond(const Message& response) {
  const int status = response.status();
  if (status < 100 || status > 699) return {};
  if (state_ != State::Trying && state_ != State::Proceeding) return {};
  if (!sendResponse(response, true)) return {};
  if (status < 200) {
    state_ = State::Proceeding;
    return {};
  }
  state_ = State::Completed;
  if (reliable()) {
    state_ = State::Terminated;  // Timer J is 0
    return Outcome::terminate();
  }
  startLifetimeTimer(TxTimer::TimerJ, config().timerJ());
  return {};
}

Outcome ServerNonInviteTransaction::onTimer(TxTimer which) {
  if (which != TxTimer::TimerJ) return {};
  state_ = State::Terminated;
  return Outcome::terminate();
}

}  // namespace tandem::sip
