#pragma once
// Non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6).
//
//   Trying     --Timer E-->  Trying       (retransmit; E = min(2*E, T2))
//   Trying     --1xx-->      Proceeding   (1xx to TU)
//   Proceeding --Timer E-->  Proceeding   (retransmit; E = T2)
//   Trying, Proceeding --Timer F-->  Terminated (timeout to TU)
//   Trying, Proceeding --200-699--> Completed  (response to TU; Timer K)
//   Completed  --any response--> Completed (absorbed)
//   Completed  --Timer K-->  Terminated
//
// Reliable transports: no Timer E, and Timer K is 0.

#include "sip/transaction/transaction.hpp"

namespace tandem::sip {

class ClientNonInviteTransaction final : public ClientTransaction {
 public:
  enum class State : std::uint8_t { Trying, Proceeding, Completed, Terminated };

  using ClientTransaction::ClientTransaction;

  bool isInvite() const override { return false; }
  State state() const { return state_; }

  void start() override;
  Outcome onResponse(const Message& response) override;

 private:
  Outcome onTimer(TxTimer which) override;
  void enterTerminated() override { state_ = State::Terminated; }

  State state_ = State::Trying;
  core::Millis timerE_{0};  // the current Timer E interval
};

}  // namespace tandem::sip
