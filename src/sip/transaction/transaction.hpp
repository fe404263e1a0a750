#pragma once
// Internal to sip/transaction: what the four RFC 3261 §17 state machines share,
// and the narrow interface through which they reach the layer (timers, transport).
//
// Machines never call a transaction user. Each event handler returns an Outcome
// and the layer reports it to the TU after the machine returned, then looks the
// transaction up again by id. A TU that re-enters the layer from a callback
// (sends, responds, starts transactions) therefore never runs into a machine in
// the middle of a transition.

#include "core/timer_service.hpp"
#include "sip/message/message.hpp"
#include "sip/transaction/matching.hpp"
#include "sip/transaction/timers.hpp"
#include "sip/transaction/transaction_layer.hpp"
#include "sip/transport/flow.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace tandem::sip {

// RFC 3261 Table 4 plus RFC 6026's Timers L and M. `Failure` is not an RFC
// timer: it reports a transport failure to the TU from a fresh stack (0 ms), so
// a TU never hears of a failure from inside its own sendRequest()/respond() call.
enum class TxTimer : std::uint8_t {
  TimerA,
  TimerB,
  TimerD,
  TimerE,
  TimerF,
  TimerG,
  TimerH,
  TimerI,
  TimerJ,
  TimerK,
  TimerL,
  TimerM,
  Trying,  // the delayed 100 Trying (TimerConfig::trying), INVITE server only
  Failure,
};

// What the layer does after a machine handled an event.
struct Outcome {
  enum class Report : std::uint8_t {
    None,
    Response,        // client: pass the response to the ClientTransactionUser
    Timeout,         // client: Timer B or F fired
    TransportError,  // client: the transport failed
    Gone,            // server: ended before a final response reached the transport
    AckToUser,       // server INVITE in Accepted: the ACK goes to the TU (RFC 6026 §8.7)
  };
  Report report = Report::None;
  bool terminated = false;  // the machine reached Terminated: the layer removes it
  bool absorbed = false;    // a retransmission was absorbed (statistics)
  // Client: the final response arrived; once the TU has seen it, the layer
  // frees the request (ClientTransaction::releaseRequest).
  bool releaseRequest = false;

  static Outcome tell(Report r) { return {r, false, false, false}; }
  static Outcome terminate(Report r = Report::None) { return {r, true, false, false}; }
  static Outcome absorb() { return {Report::None, false, true, false}; }
  // Client: a final response that leaves the machine in Completed or Accepted.
  static Outcome finalResponse() { return {Report::Response, false, false, true}; }
};

// Checked: the sender learns at once whether the message left (a client
// transaction's request: a failure fails it over). Deferrable: a response or
// an ACK, which may wait for the end of the batch being received
// (TransportSender::sendDeferrable).
enum class SendMode : std::uint8_t { Checked, Deferrable };

// Implemented by the layer.
class TransactionHost {
 public:
  virtual const TimerConfig& timerConfig() const = 0;
  virtual core::TimerService::TimerId startTimer(core::Millis delay, TransactionId tx,
                                                 TxTimer which) = 0;
  virtual void cancelTimer(core::TimerService::TimerId id) = 0;
  // False when the transport refused the message (known at once for Checked).
  virtual bool send(const Flow& to, std::string bytes, SendMode mode) = 0;

 protected:
  ~TransactionHost() = default;
};

class Transaction {
 public:
  // `key` may view a message that goes away: the transaction copies it.
  Transaction(TransactionHost& host, TransactionId id, const Flow& flow, const MatchKey& key);
  virtual ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  TransactionId id() const { return id_; }
  // Client: where the request goes. Server: where responses go.
  const Flow& flow() const { return flow_; }
  // The stream connection a client transaction's responses arrived on, once known.
  void setConnection(ConnectionId c) { flow_.connection = c; }
  bool reliable() const { return isReliable(flow_.transport); }
  // Client: branch and CSeq method (§17.1.3). Server: branch, sent-by and
  // method (§17.2.3). Owned by the transaction, for its whole life.
  MatchKey key() const { return key_.get(); }
  std::size_t keyHash() const { return key_.hash(); }

  virtual bool isClient() const = 0;
  virtual bool isInvite() const = 0;

  // A timer this transaction started fired.
  Outcome fire(TxTimer which);
  // The connection closed or an asynchronous send failed: Terminated now.
  Outcome fail();
  // Stops every timer (the layer is going away).
  void stopTimers();

 protected:
  const TimerConfig& config() const { return host_.timerConfig(); }
  virtual Outcome onTimer(TxTimer which) = 0;
  // Moves the machine to its Terminated state.
  virtual void enterTerminated() = 0;
  // How a transport failure is reported to the TU.
  virtual Outcome::Report failureReport() const = 0;

  // Each machine runs at most one retransmission timer (A, E, G) and one
  // lifetime timer (B, D, F, H, I, J, K, L, M) at a time.
  // The INVITE server transaction's Trying timer runs in the retransmission
  // slot: it ends before Timer G can start.
  void startRetransmitTimer(TxTimer which, core::Millis delay);
  void stopRetransmitTimer();
  void startLifetimeTimer(TxTimer which, core::Millis delay);
  // Terminated now; the TU hears of it when TxTimer::Failure fires.
  void deferFailure();

  // Sends bytes the caller keeps for retransmission (one copy goes to the transport).
  bool sendCopy(const std::string& bytes, SendMode mode) { return host_.send(flow_, bytes, mode); }
  bool sendOnce(std::string bytes, SendMode mode) {
    return host_.send(flow_, std::move(bytes), mode);
  }

 private:
  TransactionHost& host_;
  const TransactionId id_;
  Flow flow_;
  OwnedKey key_;
  core::TimerService::TimerId retransmitTimer_ = 0;
  core::TimerService::TimerId lifetimeTimer_ = 0;
};

// ---- Client side (RFC 3261 §17.1)

class ClientTransaction : public Transaction {
 public:
  // `key`: the request's top Via branch and its method.
  ClientTransaction(TransactionHost& host, TransactionId id, const Flow& to,
                    std::unique_ptr<Message> request, const MatchKey& key,
                    ClientTransactionUser& user);

  bool isClient() const final { return true; }
  // The request, until the TU has handled the final response; nullptr after
  // (Completed, Accepted), when the transaction keeps only what the RFC needs.
  const Message* request() const { return request_.get(); }
  void releaseRequest() { request_.reset(); }
  ClientTransactionUser* user() const { return user_; }
  void detach() { user_ = nullptr; }

  // Sends the request and starts the first timers.
  virtual void start() = 0;
  virtual Outcome onResponse(const Message& response) = 0;

 protected:
  Outcome::Report failureReport() const final { return Outcome::Report::TransportError; }
  // Serialises the request once; sends it. On unreliable transports keeps the
  // bytes for retransmission. False when the transport refused it.
  bool sendRequest();
  // Sends the kept bytes again: the request before the final response, the
  // ACK for a non-2xx final after it (INVITE, Completed).
  bool resend() { return bytes_.empty() || sendCopy(bytes_, SendMode::Checked); }
  // The final response arrived: frees the request's bytes (the request goes
  // once the TU has seen the response, see Outcome::releaseRequest). With
  // `ack` (INVITE, non-2xx, unreliable transports) the ACK's bytes stay for
  // resend().
  void keepOnly(std::string ack = {}) {
    // Swapped rather than move-assigned: assigning a short string would keep
    // the request's buffer.
    std::string(std::move(ack)).swap(bytes_);
  }

 private:
  std::unique_ptr<Message> request_;
  ClientTransactionUser* user_;
  std::string bytes_;
};

// ---- Server side (RFC 3261 §17.2)

class ServerTransaction : public Transaction {
 public:
  // `key` views the request, which goes to the TU: the transaction copies it.
  using Transaction::Transaction;

  bool isClient() const final { return false; }
  // True once a final response was handed to the transport.
  bool finalSent() const { return finalSent_; }
  // True once any response was handed to the transport (or failed to go).
  bool responded() const { return responded_; }

  // RFC 2543 fallback (§17.2.3): requests without the magic cookie are matched
  // against a copy of the request that created the transaction.
  void setLegacyRequest(std::unique_ptr<Message> request) { legacy_ = std::move(request); }
  const Message* legacyRequest() const { return legacy_.get(); }
  // The To tag of the last response above 100 (INVITE only): the tag an ACK
  // for a non-2xx response carries, and the tag a 200 to CANCEL reuses (§9.2).
  std::string_view toTag() const { return toTag_; }

  // A retransmission of the request arrived.
  virtual Outcome onRetransmission() = 0;
  // The TU sends a response.
  virtual Outcome respond(const Message& response) = 0;
  // An ACK matched this transaction (INVITE only).
  virtual Outcome onAck() { return Outcome::absorb(); }

 protected:
  Outcome::Report failureReport() const final {
    return finalSent_ ? Outcome::Report::None : Outcome::Report::Gone;
  }
  // Serialises and sends `response`. With `keep` (and on unreliable transports
  // only) the bytes stay for resending on retransmitted requests. On failure
  // the transaction is Terminated and the failure reported later.
  bool sendResponse(const Message& response, bool keep);
  bool resendLast();
  // Nothing left to resend (INVITE in Accepted or Confirmed): frees the bytes.
  void dropLastResponse() { std::string().swap(lastResponse_); }
  void setToTag(std::string_view tag) { toTag_.assign(tag); }

 private:
  std::string lastResponse_;
  std::string toTag_;
  std::unique_ptr<Message> legacy_;
  bool finalSent_ = false;
  bool responded_ = false;
};

}  // namespace tandem::sip
