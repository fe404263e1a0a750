#include "sip/transaction/transaction.hpp"

namespace tandem::sip {

// ---- Transaction

Transaction::Transaction(TransactionHost& host, TransactionId id, const Flow& flow,
                         const MatchKey& key)
    : host_(host), id_(id), flow_(flow), key_(key) {}

Transaction::~Transaction() {
  stopTimers();
}

Outcome Transaction::fire(TxTimer which) {
  switch (which) {
    case TxTimer::TimerA:
    case TxTimer::TimerE:
    case TxTimer::TimerG:
    case TxTimer::Trying:
      retransmitTimer_ = 0;
      break;
    default:
      lifetimeTimer_ = 0;
      break;
  }
  if (which == TxTimer::Failure) return Outcome::terminate(failureReport());
  return onTimer(which);
}

Outcome Transaction::fail() {
  enterTerminated();
  stopTimers();
  return Outcome::terminate(failureReport());
}

void Transaction::stopTimers() {
  if (retransmitTimer_ != 0) host_.cancelTimer(retransmitTimer_);
  if (lifetimeTimer_ != 0) host_.cancelTimer(lifetimeTimer_);
  retransmitTimer_ = lifetimeTimer_ = 0;
}

void Transaction::startRetransmitTimer(TxTimer which, core::Millis delay) {
  if (retransmitTimer_ != 0) host_.cancelTimer(retransmitTimer_);
  retransmitTimer_ = host_.startTimer(delay, id_, which);
}

void Transaction::stopRetransmitTimer() {
  if (retransmitTimer_ != 0) host_.cancelTimer(retransmitTimer_);
  retransmitTimer_ = 0;
}

void Transaction::startLifetimeTimer(TxTimer which, core::Millis delay) {
  if (lifetimeTimer_ != 0) host_.cancelTimer(lifetimeTimer_);
  lifetimeTimer_ = host_.startTimer(delay, id_, which);
}

void Transaction::deferFailure() {
  enterTerminated();
  stopTimers();
  startLifetimeTimer(TxTimer::Failure, core::Millis(0));
}

// ---- ClientTransaction

ClientTransaction::ClientTransaction(TransactionHost& host, TransactionId id, const Flow& to,
                                     std::unique_ptr<Message> request, const MatchKey& key,
                                     ClientTransactionUser& user)
    : Transaction(host, id, to, key), request_(std::move(request)), user_(&user) {}

bool ClientTransaction::sendRequest() {
  bool ok;
  if (reliable()) {
    ok = sendOnce(request_->serialize(), SendMode::Checked);
  } else {
    bytes_ = request_->serialize();
    ok = sendCopy(bytes_, SendMode::Checked);
  }
  if (!ok) deferFailure();
  return ok;
}

// ---- ServerTransaction

bool ServerTransaction::sendResponse(const Message& response, bool keep) {
  responded_ = true;
  bool ok;
  if (keep && !reliable()) {
    lastResponse_ = response.serialize();
    ok = sendCopy(lastResponse_, SendMode::Deferrable);
  } else {
    ok = sendOnce(response.serialize(), SendMode::Deferrable);
  }
  if (!ok) {
    deferFailure();
    return false;
  }
  if (response.status() >= 200) finalSent_ = true;
  return true;
}

bool ServerTransaction::resendLast() {
  return lastResponse_.empty() || sendCopy(lastResponse_, SendMode::Deferrable);
}

}  // namespace tandem::sip
