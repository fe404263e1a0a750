#pragma once
// INVITE server transaction: RFC 3261 §17.2.1 (Figure 7) as updated by
// RFC 6026 §7.1 (Figure 7 replaced: 2xx leads to Accepted, not Terminated).
//
//   (created)  --(Trying timer, TimerConfig::trying)--> Proceeding
//   Proceeding --Trying timer--> Proceeding (100 Trying, if the TU sent nothing)
//   Proceeding --INVITE-->     Proceeding  (last provisional resent; the
//                                           100 Trying if it was still waiting)
//   Proceeding --1xx from TU-> Proceeding
//   Proceeding --2xx from TU-> Accepted    (Timer L)
//   Proceeding --300-699 from TU--> Completed (Timers G and H)
//   Completed  --INVITE-->     Completed   (final resent)
//   Completed  --Timer G-->    Completed   (final resent; G = min(2*G, T2))
//   Completed  --ACK-->        Confirmed   (Timer I)
//   Completed  --Timer H-->    Terminated  (no ACK came)
//   Confirmed  --ACK-->        Confirmed   (absorbed)
//   Confirmed  --Timer I-->    Terminated
//   Accepted   --INVITE-->     Accepted    (absorbed, RFC 6026 §8.7)
//   Accepted   --2xx from TU-> Accepted    (passed to the transport)
//   Accepted   --ACK-->        Accepted    (passed to the TU, RFC 6026 §8.7)
//   Accepted   --Timer L-->    Terminated
//
// Reliable transports: no Timer G, and Timer I is 0.

#include "sip/transaction/transaction.hpp"

namespace tandem::sip {

class ServerInviteTransaction final : public ServerTransaction {
 public:
  enum class State : std::uint8_t { Proceeding, Completed, Confirmed, Accepted, Terminated };

  using ServerTransaction::ServerTransaction;

  bool isInvite() const override { return true; }
  State state() const { return state_; }

  // §17.2.1: the 100 Trying (made with makeResponse(invite, 100)), so the
  // client stops retransmitting (Timer A) while the TU works. The layer hands
  // it over when the TU has not answered by the time onRequest() returns; it
  // leaves when TimerConfig::trying passes without a response from the TU, or
  // at once when the INVITE is retransmitted first (or the delay is 0).
  void sendTrying(std::unique_ptr<Message> trying);

  Outcome onRetransmission() override;
  Outcome respond(const Message& response) override;
  Outcome onAck() override;

 private:
  Outcome onTimer(TxTimer which) override;
  void enterTerminated() override { state_ = State::Terminated; }

  // Sends the waiting 100 Trying, if any.
  void sendPendingTrying();

  State state_ = State::Proceeding;
  core::Millis timerG_{0};  // the current Timer G interval
  // The 100 Trying while its timer runs; gone once any response was sent.
  std::unique_ptr<Message> trying_;
};

}  // namespace tandem::sip
