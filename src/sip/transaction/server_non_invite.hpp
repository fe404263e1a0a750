#pragma once
// Non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8).
//
//   Trying     --request-->      Trying      (absorbed: nothing to resend yet)
//   Trying     --1xx from TU-->  Proceeding
//   Proceeding --request-->      Proceeding  (last provisional resent)
//   Proceeding --1xx from TU-->  Proceeding
//   Trying, Proceeding --200-699 from TU--> Completed (Timer J)
//   Completed  --request-->      Completed   (final resent)
//   Completed  --Timer J-->      Terminated
//
// Reliable transports: Timer J is 0.

#include "sip/transaction/transaction.hpp"

namespace tandem::sip {

class ServerNonInviteTransaction final : public ServerTransaction {
 public:
  enum class State : std::uint8_t { Trying, Proceeding, Completed, Terminated };

  using ServerTransaction::ServerTransaction;

  bool isInvite() const override { return false; }
  State state() const { return state_; }

  Outcome onRetransmission() override;
  Outcome respond(const Message& response) override;

 private:
  Outcome onTimer(TxTimer which) override;
  void enterTerminated() override { state_ = State::Terminated; }

  State state_ = State::Trying;
};

}  // namespace tandem::sip
