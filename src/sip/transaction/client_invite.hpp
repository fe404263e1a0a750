#pragma once
// INVITE client transaction: RFC 3261 §17.1.1 (Figure 5) as updated by
// RFC 6026 §7.2 (Figure 5 replaced: 2xx leads to Accepted, not Terminated).
//
//   Calling    --1xx-->      Proceeding   (Timers A and B stop; 1xx to TU)
//   Calling    --Timer A-->  Calling      (retransmit; A doubles: T1, 2*T1, ...)
//   Calling    --Timer B-->  Terminated   (timeout to TU)
//   Calling, Proceeding --300-699--> Completed (ACK sent; response to TU; Timer D)
//   Calling, Proceeding --2xx-->     Accepted  (2xx to TU; Timer M)
//   Completed  --300-699-->  Completed    (ACK resent, not passed up)
//   Accepted   --2xx-->      Accepted     (passed up: retransmissions, forks)
//   Completed  --Timer D-->  Terminated;  Accepted --Timer M--> Terminated
//
// Reliable transports: no Timer A, and Timer D is 0.
//
// On the final response the request is freed: Completed keeps only the ACK's
// bytes (UDP), Accepted nothing but the key and flow (2xx go to the TU).

#include "sip/transaction/transaction.hpp"

#include <string>

namespace tandem::sip {

class ClientInviteTransaction final : public ClientTransaction {
 public:
  enum class State : std::uint8_t { Calling, Proceeding, Completed, Accepted, Terminated };

  using ClientTransaction::ClientTransaction;

  bool isInvite() const override { return true; }
  State state() const { return state_; }

  void start() override;
  Outcome onResponse(const Message& response) override;

 private:
  Outcome onTimer(TxTimer which) override;
  void enterTerminated() override { state_ = State::Terminated; }
  Outcome complete(const Message& response);

  State state_ = State::Calling;
  core::Millis timerA_{0};  // the current Timer A interval
};

// The ACK a client INVITE transaction sends for a 300-699 response (§17.1.1.3):
// the request's Request-URI, Call-ID, From, CSeq number and Route headers, a
// single Via equal to the request's top Via, and the response's To.
std::string buildAckForNon2xx(const Message& invite, const Message& response);

}  // namespace tandem::sip
