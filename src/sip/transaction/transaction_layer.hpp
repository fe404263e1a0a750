#pragma once
// The transaction layer (RFC 3261 §17, RFC 6026): the four transaction state
// machines, matching of requests and responses to them (§17.1.3, §17.2.3 with the
// RFC 2543 fallback), and the entry point for every message the transports
// deliver: parse, 400 for invalid requests, Via received/rport (RFC 3581).

#include "core/timer_service.hpp"
#include "sip/message/message.hpp"
#include "sip/transaction/timers.hpp"
#include "sip/transport/flow.hpp"

#include <array>
#include <cstdint>
#include <memory>

namespace tandem::sip {

using TransactionId = std::uint64_t;  // 0 is never valid

// Per client transaction callbacks. Called on the loop; may send and respond
// (re-entering the layer is safe), but must not destroy the TransactionLayer.
class ClientTransactionUser {
 public:
  virtual ~ClientTransactionUser() = default;
  // Every provisional and final response, including 2xx retransmissions that
  // arrive while an INVITE client transaction is in the Accepted state (RFC 6026).
  virtual void onResponse(TransactionId tx, const Message& response) = 0;
  // The same call, with the message handed over: a user that forwards or
  // keeps the response may take it (leaving `response` empty) instead of
  // copying it. The layer calls this one; the default lends it to onResponse().
  virtual void onResponseOwned(TransactionId tx, std::unique_ptr<Message>& response) {
    onResponse(tx, *response);
  }
  // Timer B or F fired, or the transport failed: no final response will come.
  // The TU treats it as a 408 (timeout) or 503 (transport error). The
  // transaction is gone once the callback returns. A send the transport refuses
  // at once is reported from a 0 ms timer, never from inside sendRequest().
  virtual void onTimeout(TransactionId tx) = 0;
  virtual void onTransportError(TransactionId tx) = 0;
};

// The transaction user: registrar/proxy core.
class TransactionUser {
 public:
  virtual ~TransactionUser() = default;
  // A new request; a server transaction `tx` has been created for it (for
  // INVITE a 100 Trying has been sent already). ACKs that match no INVITE server
  // transaction (ACK for a 2xx) arrive with tx == 0. Retransmissions never get here.
  virtual void onRequest(TransactionId tx, std::unique_ptr<Message> request, const Flow& from) = 0;
  // A CANCEL matched the INVITE server transaction `inviteTx` (§9.2); the layer
  // has answered the CANCEL with 200 already. Unmatched CANCELs get 481 and never
  // reach the TU; nor do CANCELs for an INVITE that has its final response
  // already (they get 200: "a CANCEL has no effect" then, §9.2).
  virtual void onCancel(TransactionId inviteTx, const Message& cancel) = 0;
  // A response that matches no client transaction (a 2xx retransmission after
  // the transaction ended); a proxy forwards it statelessly (§16.7 step 9... §17.1.1.2).
  virtual void onStrayResponse(std::unique_ptr<Message> response, const Flow& from) = 0;
  // A server transaction ended without the TU sending a final response in time
  // (e.g. its transport failed), so the TU can free its state. Also called when
  // sending the TU's final response failed. Never from inside respond().
  virtual void onServerTransactionGone(TransactionId tx) = 0;
  // Offered each non-INVITE request (not ACK or CANCEL) before it is matched
  // to a server transaction or one is made for it. The TU may answer it
  // statelessly (RFC 3261 §8.2.7: a UAS may, e.g. for a challenge) by
  // returning the response: the layer sends it where respond() would
  // (§18.2.2, by the request's top Via), no transaction exists, and a
  // retransmission is offered again and answered afresh. nullptr: the
  // request goes on to a server transaction. The decision must depend on the
  // request's content only (a retransmission must get the same one), and
  // nothing else may be done with the request here.
  virtual std::unique_ptr<Message> answerStatelessly(const Message& request, const Flow& from) {
    (void)request;
    (void)from;
    return nullptr;
  }
};

struct TransactionStats {
  std::uint64_t clientTransactions = 0;       // live now
  std::uint64_t serverTransactions = 0;       // live now
  std::uint64_t parseErrors = 0;              // total since start
  std::uint64_t retransmissionsAbsorbed = 0;  // requests, ACKs and responses
  std::uint64_t statelessResponses = 0;       // requests the TU answered without a transaction
  // Parsed messages received (totals since start): requests by method
  // (indexed by Method; Unknown counts extension methods) and responses by
  // class (index 1..6 for 1xx..6xx).
  std::array<std::uint64_t, kMethodCount> requestsReceived{};
  std::array<std::uint64_t, 7> responsesReceived{};
};

class TransactionLayer final : public TransportListener {
 public:
  TransactionLayer(core::TimerService& timers, TransportSender& transport, TimerConfig config);
  ~TransactionLayer() override;

  void setUser(TransactionUser* user);

  // ---- Server side
  // Sends a response in server transaction `tx` (any number of 1xx, then one
  // final; 2xx for INVITE moves it to Accepted, and 2xx retransmissions the TU
  // sends later are passed through while Accepted). Responses go back where the
  // request came from: over its connection for streams; for UDP to the source
  // address, to the rport/source port when rport was present, else to the Via
  // sent-by port (RFC 3261 §18.2.2, RFC 3581 §4). Unknown tx: ignored.
  void respond(TransactionId tx, std::unique_ptr<Message> response);

  // ---- Client side
  // Sends `request` in a new client transaction to `to`. The request must carry
  // a top Via with a unique RFC 3261 branch (see newBranch()); the layer keys
  // the transaction on it. ACK is not a transaction: use sendStateless.
  // Returns 0 (and logs) when the request cannot start one: an ACK, no branch,
  // or a branch and method already in use.
  TransactionId sendRequest(std::unique_ptr<Message> request, const Flow& to,
                            ClientTransactionUser& user);
  // Forgets the ClientTransactionUser of `tx` (the TU is going away); the
  // machine still runs to completion.
  void detach(TransactionId tx);

  // The request that client transaction `tx` sent (to build a CANCEL, or a
  // retry from inside onResponse). nullptr when the transaction is gone, and
  // once the ClientTransactionUser has handled its final response (onResponse
  // returned): in Completed and Accepted the transaction keeps only what the
  // RFC needs to absorb retransmissions, not the request.
  const Message* clientRequest(TransactionId tx) const;
  const Flow* clientFlow(TransactionId tx) const;

  // ---- Stateless
  // Sends a message outside any transaction (ACK for 2xx, stray 2xx, stateless
  // responses). Returns false if the transport refused; over UDP the message
  // may leave at the end of the batch being received, and a failure then goes
  // to the log only (TransportSender::sendDeferrable).
  bool sendStateless(const Message& message, const Flow& to);

  // A fresh branch: "z9hG4bK" + random token. Cheap: a random per-thread prefix
  // and a per-thread counter.
  static std::string newBranch();

  // Datagrams larger than this are answered with 513 Message Too Large (stream
  // transports enforce the same limit by closing the connection). Default 65535.
  void setMaxMessageSize(std::size_t bytes);

  TransactionStats stats() const;

  // ---- TransportListener
  void onMessage(std::string data, const Flow& from) override;
  void onConnectionClosed(ConnectionId id) override;
  void onSendFailed(const Flow& to) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::sip
