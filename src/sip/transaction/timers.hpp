#pragma once
// RFC 3261 §17 timer values (Table 4, "Summary of timers"). T1, T2 and T4 are
// configurable; the others derive from them as the RFC says.

#include <chrono>

namespace tandem::sip {

struct TimerConfig {
  // T1: RTT estimate. 500 ms is the RFC default; smaller values on a known LAN
  // speed retransmission but risk spurious ones.
  std::chrono::milliseconds t1{500};
  // T2: cap on the retransmit interval for non-INVITE requests and INVITE responses.
  std::chrono::milliseconds t2{4000};
  // T4: the longest a message stays in the network.
  std::chrono::milliseconds t4{5000};
  // Not an RFC timer: how long an INVITE server transaction waits for the
  // TU's own provisional or final response before it sends 100 Trying
  // (§17.2.1 asks for a provisional response within 200 ms; reSIProcate's
  // T100 is the same idea, 80 ms). A callee that rings sooner makes the 100
  // unnecessary: one datagram fewer each way. 0 sends it at once.
  std::chrono::milliseconds trying{80};

  std::chrono::milliseconds timerA() const { return t1; }       // INVITE retransmit, doubles
  std::chrono::milliseconds timerB() const { return 64 * t1; }  // INVITE transaction timeout
  // Timer D: "> 32 s" for UDP (Table 4); 0 for reliable transports, as I, J, K.
  std::chrono::milliseconds timerD() const { return std::chrono::milliseconds(32000); }
  std::chrono::milliseconds timerE() const { return t1; }       // non-INVITE retransmit
  std::chrono::milliseconds timerF() const { return 64 * t1; }  // non-INVITE timeout
  std::chrono::milliseconds timerG() const { return t1; }       // INVITE response retransmit
  std::chrono::milliseconds timerH() const { return 64 * t1; }  // wait for ACK
  std::chrono::milliseconds timerI() const { return t4; }       // absorb ACK retransmits
  std::chrono::milliseconds timerJ() const { return 64 * t1; }  // absorb non-INVITE retransmits
  std::chrono::milliseconds timerK() const { return t4; }       // absorb response retransmits
  std::chrono::milliseconds timerL() const { return 64 * t1; }  // RFC 6026: Accepted (server)
  std::chrono::milliseconds timerM() const { return 64 * t1; }  // RFC 6026: Accepted (client)
};

}  // namespace tandem::sip
