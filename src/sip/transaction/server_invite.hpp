#pragma once
// INVITE server transaction: RFC 3261 §17.2.1 (Figure 7) as updated by
// RFC 6026 §7.1 (Figure 7 replaced: 2xx leads to Accepted, not Terminated).
//
//   (created)  --100 Trying sent at once-->       Proceeding
//   Proceeding --INVITE-->     Proceeding  (last provisional resent)
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
  // client stops retransmitting (Timer A) while the TU works. The layer sends
  // it when the TU has not answered by the time onRequest() returns.
  void sendTrying(const Message& trying);

  Outcome onRetransmission() override;
  Outcome respond(const Message& response) override;
  Outcome onAck() override;

 private:
  Outcome onTimer(TxTimer which) override;
  void enterTerminated() override { state_ = State::Terminated; }

  State state_ = State::Proceeding;
  core::Millis timerG_{0};  // the current Timer G interval
};

}  // namespace tandem::sip
