#include "sip/transaction/transaction_layer.hpp"

#include "core/flat_map.hpp"
#include "core/log.hpp"
#include "sip/transaction/client_invite.hpp"
#include "sip/transaction/client_non_invite.hpp"
#include "sip/transaction/matching.hpp"
#include "sip/transaction/server_invite.hpp"
#include "sip/transaction/server_non_invite.hpp"
#include "sip/transaction/transaction.hpp"
#include "sip/transaction/via_source.hpp"

#include <spdlog/logger.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tandem::sip {

namespace {

// Branches and tags: a random prefix drawn once per thread (each loop runs on
// its own thread) followed by a per-thread counter. Unique within the process
// by construction, across processes and restarts with 60 random bits, and far
// cheaper than drawing randomness per message.
class TokenSource {
 public:
  TokenSource() {
    std::random_device rd;
    std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
    for (char& c : prefix_) {
      c = kAlphabet[r & 31];
      r >>= 5;
    }
  }

  void appendTo(std::string& out) {
    out.append(prefix_.data(), prefix_.size());
    std::uint64_t n = ++counter_;
    do {
      out.push_back(kAlphabet[n & 31]);
      n >>= 5;
    } while (n != 0);
  }

 private:
  static constexpr std::string_view kAlphabet = "0123456789abcdefghijklmnopqrstuv";
  std::array<char, 12> prefix_{};
  std::uint64_t counter_ = 0;
};

TokenSource& tokens() {
  thread_local TokenSource source;
  return source;
}

std::string newTag() {
  std::string tag;
  tag.reserve(24);
  tokens().appendTo(tag);
  return tag;
}

// A parse error becomes a Reason-Phrase: no control characters.
std::string reasonFrom(std::string_view error) {
  std::string reason(error.empty() ? std::string_view("Bad Request") : error);
  for (char& c : reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return reason;
}

// Transactions by their own MatchKey: an open-addressing set of pointers,
// hashed by the key each transaction keeps (its hash computed once), searched
// with the key of an incoming message. A lookup reads one metadata group, one
// slot and the one transaction whose hash bits match. (With the quarter
// million transactions Timer J keeps at 8,000 REGISTERs/s, a node-based table
// cost a cache miss per bucket and per node: 7 % of the server's time.) Two
// transactions with equal keys may both be indexed: elements compare by
// identity, lookups by key.
template <class T>
class KeyIndex {
 public:
  void insert(T* tx) { set_.insert(tx); }
  T* find(const MatchKey& key) const {
    const auto it = set_.find(key);
    return it == set_.end() ? nullptr : *it;
  }
  void erase(T* tx) { set_.erase(tx); }
  void clear() { set_.clear(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const T* tx) const noexcept { return tx->keyHash(); }
    std::size_t operator()(const MatchKey& key) const noexcept { return MatchKeyHash{}(key); }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(const T* a, const T* b) const noexcept { return a == b; }
    bool operator()(const MatchKey& key, const T* tx) const noexcept { return key == tx->key(); }
    bool operator()(const T* tx, const MatchKey& key) const noexcept { return key == tx->key(); }
  };
  core::FlatSet<T*, Hash, Equal> set_;
};

constexpr std::string_view kInvite = "INVITE";
constexpr std::string_view kCancel = "CANCEL";

}  // namespace

struct TransactionLayer::Impl final : TransactionHost {
  Impl(core::TimerService& t, TransportSender& s, TimerConfig c)
      : timers(t), transport(s), config(c), log(core::logger("tx")) {}

  ~Impl() {
    // Transactions cancel their timers as they go, while the layer is whole.
    clients.clear();
    servers.clear();
    legacy.clear();
    all.clear();
  }

  // ---- TransactionHost
  const TimerConfig& timerConfig() const override { return config; }

  core::TimerService::TimerId startTimer(core::Millis delay, TransactionId tx,
                                         TxTimer which) override {
    // Id and timer packed in one word keep the callback within std::function's
    // small-object buffer: no allocation per timer.
    static_assert(static_cast<unsigned>(TxTimer::Failure) < 16);
    const std::uint64_t packed = (tx << 4) | static_cast<std::uint64_t>(which);
    return timers.schedule(
        delay, [this, packed] { fire(packed >> 4, static_cast<TxTimer>(packed & 0xF)); });
  }

  void cancelTimer(core::TimerService::TimerId id) override { timers.cancel(id); }

  bool send(const Flow& to, std::string bytes, SendMode mode) override {
    return mode == SendMode::Checked ? transport.send(to, std::move(bytes))
                                     : transport.sendDeferrable(to, std::move(bytes));
  }

  // ---- Lookup
  Transaction* find(TransactionId id) const {
    const auto it = all.find(id);
    return it == all.end() ? nullptr : it->second.get();
  }
  ClientTransaction* client(TransactionId id) const {
    Transaction* tx = find(id);
    return tx != nullptr && tx->isClient() ? static_cast<ClientTransaction*>(tx) : nullptr;
  }
  ServerTransaction* server(TransactionId id) const {
    Transaction* tx = find(id);
    return tx != nullptr && !tx->isClient() ? static_cast<ServerTransaction*>(tx) : nullptr;
  }

  void fire(TransactionId id, TxTimer which) {
    if (Transaction* tx = find(id)) apply(id, tx->fire(which), nullptr);
  }

  // Reports an outcome to the TU, then removes the transaction if it ended.
  // The transaction is looked up again after each callback: the TU may have
  // re-entered the layer.
  // `response`: the response being reported, if any; the user may take it.
  void apply(TransactionId id, const Outcome& o, std::unique_ptr<Message>* response) {
    if (o.absorbed) ++stats.retransmissionsAbsorbed;
    switch (o.report) {
      case Outcome::Report::Response:
      case Outcome::Report::Timeout:
      case Outcome::Report::TransportError: {
        const ClientTransaction* tx = client(id);
        ClientTransactionUser* u = tx != nullptr ? tx->user() : nullptr;
        if (u == nullptr) break;
        if (o.report == Outcome::Report::Response) {
          if (response != nullptr && *response) u->onResponseOwned(id, *response);
        } else if (o.report == Outcome::Report::Timeout) {
          u->onTimeout(id);
        } else {
          u->onTransportError(id);
        }
        break;
      }
      case Outcome::Report::Gone:
        if (user != nullptr) user->onServerTransactionGone(id);
        break;
      case Outcome::Report::None:
      case Outcome::Report::AckToUser:
        break;
    }
    if (o.terminated) {
      remove(id);
    } else if (o.releaseRequest) {
      if (ClientTransaction* tx = client(id)) tx->releaseRequest();
    }
  }

  // ---- Bookkeeping
  void addClient(std::unique_ptr<ClientTransaction> tx) {
    clients.insert(tx.get());
    if (tx->flow().connection != 0) {
      byConnection[tx->flow().connection].insert(tx->id());
    } else if (tx->reliable()) {
      unbound[remoteKey(tx->flow())].insert(tx->id());
    }
    ++stats.clientTransactions;
    const TransactionId id = tx->id();
    all.emplace(id, std::move(tx));
  }

  ServerTransaction* createServer(const Message& request, const Via& via, const Flow& from) {
    const TransactionId id = nextId++;
    const Flow to = responseFlow(via, from);
    const MatchKey key{via.branch(), request.methodText(), via.host, via.port};
    std::unique_ptr<ServerTransaction> tx;
    if (request.method() == Method::Invite) {
      tx = std::make_unique<ServerInviteTransaction>(*this, id, to, key);
    } else {
      tx = std::make_unique<ServerNonInviteTransaction>(*this, id, to, key);
    }
    ServerTransaction* raw = tx.get();
    if (via.hasRfc3261Branch()) {
      servers.insert(raw);
    } else {
      raw->setLegacyRequest(request.clone());
      legacy.emplace(raw->legacyRequest()->callId(), raw);
    }
    if (to.connection != 0) byConnection[to.connection].insert(id);
    ++stats.serverTransactions;
    all.emplace(id, std::move(tx));
    return raw;
  }

  void remove(TransactionId id) {
    const auto it = all.find(id);
    if (it == all.end()) return;
    Transaction* tx = it->second.get();
    if (tx->isClient()) {
      clients.erase(static_cast<ClientTransaction*>(tx));
      --stats.clientTransactions;
    } else {
      auto* s = static_cast<ServerTransaction*>(tx);
      if (const Message* original = s->legacyRequest()) {
        auto [b, e] = legacy.equal_range(original->callId());
        for (auto l = b; l != e; ++l) {
          if (l->second == s) {
            legacy.erase(l);
            break;
          }
        }
      } else {
        servers.erase(s);
      }
      --stats.serverTransactions;
    }
    unbindConnection(tx->flow().connection, id);
    if (tx->flow().connection == 0 && tx->reliable()) forgetUnbound(tx->flow(), id);
    // Destroyed only once no index points at it; its destructor stops its timers.
    const std::unique_ptr<Transaction> owned = std::move(it->second);
    all.erase(it);
  }

  void unbindConnection(ConnectionId connection, TransactionId id) {
    if (connection == 0) return;
    const auto it = byConnection.find(connection);
    if (it == byConnection.end()) return;
    it->second.erase(id);
    if (it->second.empty()) byConnection.erase(it);
  }

  void forgetUnbound(const Flow& flow, TransactionId id) {
    const auto it = unbound.find(remoteKey(flow));
    if (it == unbound.end()) return;
    it->second.erase(id);
    if (it->second.empty()) unbound.erase(it);
  }

  // The transport failed for these transactions: client transactions report
  // a transport error, server transactions are forgotten.
  void failAll(std::vector<TransactionId> ids) {
    std::sort(ids.begin(), ids.end());  // in creation order, whatever the index's order
    for (const TransactionId id : ids) {
      if (Transaction* tx = find(id)) apply(id, tx->fail(), nullptr);
    }
  }

  // ---- Receiving
  // §17.2.3 matching, with the RFC 2543 fallback for requests whose branch
  // lacks the magic cookie. `method` is the method of the transaction sought.
  ServerTransaction* findServer(const Message& request, const Via& via,
                                std::string_view method) const {
    if (via.hasRfc3261Branch()) {
      return servers.find(MatchKey{via.branch(), method, via.host, via.port});
    }
    auto [b, e] = legacy.equal_range(request.callId());
    for (auto it = b; it != e; ++it) {
      ServerTransaction* tx = it->second;
      const Message& original = *tx->legacyRequest();
      if (original.methodText() == method && legacyMatches(original, tx->toTag(), request)) {
        return tx;
      }
    }
    return nullptr;
  }

  void receiveRequest(std::unique_ptr<Message> request, const Flow& from) {
    const std::optional<Via> via = recordSource(*request, from);
    if (!via) {  // parse() validates the top Via; this is defence only
      ++stats.parseErrors;
      return;
    }
    if (request->method() == Method::Ack) return receiveAck(std::move(request), *via, from);
    if (request->method() == Method::Cancel) return receiveCancel(*request, *via, from);

    // Whether the TU answers statelessly depends on the request alone, so a
    // retransmission gets the same treatment as the original and there is no
    // transaction to look for first.
    if (user != nullptr && request->method() != Method::Invite) {
      if (const auto response = user->answerStatelessly(*request, from)) {
        // Routed by the Via just parsed, as a server transaction would be.
        transport.sendDeferrable(responseFlow(*via, from), response->serialize());
        ++stats.statelessResponses;
        return;
      }
    }
    if (ServerTransaction* tx = findServer(*request, *via, request->methodText())) {
      const TransactionId id = tx->id();
      apply(id, tx->onRetransmission(), nullptr);
      return;
    }
    if (user == nullptr) {
      log->warn("no transaction user; dropping {} Call-ID {}", request->methodText(),
                request->callId());
      return;
    }
    ServerTransaction* tx = createServer(*request, *via, from);
    const TransactionId id = tx->id();
    // §17.2.1: an INVITE server transaction sends 100 Trying "unless it knows
    // that the TU will generate a provisional or final response within 200
    // ms". A TU that answers from inside onRequest() (a 407 challenge, a 404,
    // a 486) has done so; the 100 would be one more datagram each way. For
    // the rest the 100 waits TimerConfig::trying for the TU's own response
    // (a callee's 180, usually).
    std::unique_ptr<Message> trying;
    if (request->method() == Method::Invite) trying = makeResponse(*request, 100);
    user->onRequest(id, std::move(request), from);
    if (trying) {
      ServerTransaction* t = server(id);
      if (t != nullptr && !t->responded())
        static_cast<ServerInviteTransaction*>(t)->sendTrying(std::move(trying));
    }
  }

  // An ACK for a non-2xx response ends in its INVITE server transaction. An ACK
  // for a 2xx carries a new branch (§13.2.2.4), matches nothing and goes to the
  // TU, as does one that matches a transaction in Accepted (RFC 6026 §8.7).
  void receiveAck(std::unique_ptr<Message> ack, const Via& via, const Flow& from) {
    if (ServerTransaction* tx = findServer(*ack, via, kInvite)) {
      const TransactionId id = tx->id();
      const Outcome o = tx->onAck();
      apply(id, o, nullptr);
      if (o.report != Outcome::Report::AckToUser) return;
    }
    if (user != nullptr) user->onRequest(0, std::move(ack), from);
  }

  // §9.2: a CANCEL is its own non-INVITE server transaction, answered here: 200
  // when it matches an INVITE server transaction, else 481. The TU hears of it
  // only while that INVITE still awaits its final response.
  void receiveCancel(const Message& cancel, const Via& via, const Flow& from) {
    if (ServerTransaction* own = findServer(cancel, via, kCancel)) {
      const TransactionId id = own->id();
      apply(id, own->onRetransmission(), nullptr);
      return;
    }
    const ServerTransaction* invite = findServer(cancel, via, kInvite);
    const TransactionId inviteId = invite != nullptr ? invite->id() : 0;
    const bool pending = invite != nullptr && !invite->finalSent();
    // §9.2: the 200 carries the To tag of the INVITE's responses, if any.
    std::string tag(invite != nullptr ? invite->toTag() : std::string_view{});
    if (tag.empty()) tag = newTag();

    ServerTransaction* tx = createServer(cancel, via, from);
    const TransactionId id = tx->id();
    const auto response = makeResponse(cancel, invite != nullptr ? 200 : 481, {}, tag);
    apply(id, tx->respond(*response), nullptr);
    if (pending && user != nullptr) user->onCancel(inviteId, cancel);
  }

  // §17.1.3: top Via branch and CSeq method.
  void receiveResponse(std::unique_ptr<Message> response, const Flow& from) {
    if (response->status() < 100) return;
    ClientTransaction* tx = nullptr;
    const auto* via = response->topViaParsed();
    const auto cseq = response->cseq();
    if (via && cseq) {
      tx = clients.find(MatchKey{via->branch(), cseq->method, {}, 0});
    }
    if (tx == nullptr) {
      if (user != nullptr) user->onStrayResponse(std::move(response), from);
      return;
    }
    const TransactionId id = tx->id();
    // A request sent with "any connection" learns its connection from the
    // response, so that connection's closure fails the transaction.
    if (tx->reliable() && tx->flow().connection == 0 && from.connection != 0) {
      forgetUnbound(tx->flow(), id);
      tx->setConnection(from.connection);
      byConnection[from.connection].insert(id);
    }
    apply(id, tx->onResponse(*response), &response);
  }

  // Bytes that do not parse: a request whose top Via is readable gets a
  // stateless 400 carrying the reason (never an ACK, which has no response);
  // anything else is dropped.
  void rejectInvalid(ParseResult& result, const Flow& from, int status, std::string_view reason) {
    ++stats.parseErrors;
    Message* m = result.message.get();
    if (log->should_log(spdlog::level::debug)) {
      log->debug("unparsable message from {}: {}", from.remote.toString(), result.error);
    }
    if (m == nullptr || !m->isRequest() || m->method() == Method::Ack) return;
    // Only the top Via is needed to route the answer; the other headers are
    // copied as they came (even unparsable, or missing), so the sender can
    // still match the 400 by branch and learn what was wrong.
    const std::optional<Via> via = recordSource(*m, from);
    if (!via) return;
    const auto to = m->to();
    const bool needTag = !to || to->tag().empty();
    const auto response =
        makeResponse(*m, status, reason.empty() ? reasonFrom(result.error) : std::string(reason),
                     needTag && m->has(HeaderId::To) ? newTag() : "");
    transport.sendDeferrable(responseFlow(*via, from), response->serialize());
  }

  core::TimerService& timers;
  TransportSender& transport;
  const TimerConfig config;
  std::shared_ptr<spdlog::logger> log;
  TransactionUser* user = nullptr;
  TransactionId nextId = 1;
  TransactionStats stats;
  std::size_t maxMessageSize = 65535;

  // Owns every live transaction. The indexes below hold plain pointers, erased
  // before the transaction is destroyed.
  core::FlatMap<TransactionId, std::unique_ptr<Transaction>> all;
  KeyIndex<ClientTransaction> clients;
  KeyIndex<ServerTransaction> servers;
  std::unordered_multimap<std::string_view, ServerTransaction*> legacy;  // by Call-ID
  // The transactions of each connection (a federation peer's TCP connection
  // carries thousands): erasing one must not scan the others.
  std::unordered_map<ConnectionId, std::unordered_set<TransactionId>> byConnection;
  // Client transactions on a stream transport sent on "any connection" that
  // have not learnt theirs from a response yet, by destination: what a failed
  // connect fails (onSendFailed), without a scan of every transaction.
  std::map<RemoteKey, std::unordered_set<TransactionId>> unbound;
};

TransactionLayer::TransactionLayer(core::TimerService& timers, TransportSender& transport,
                                   TimerConfig config)
    : impl_(std::make_unique<Impl>(timers, transport, config)) {}

TransactionLayer::~TransactionLayer() = default;

void TransactionLayer::setUser(TransactionUser* user) {
  impl_->user = user;
}

void TransactionLayer::respond(TransactionId tx, std::unique_ptr<Message> response) {
  ServerTransaction* server = impl_->server(tx);
  if (server == nullptr || !response || !response->isResponse()) return;
  impl_->apply(tx, server->respond(*response), nullptr);
}

TransactionId TransactionLayer::sendRequest(std::unique_ptr<Message> request, const Flow& to,
                                            ClientTransactionUser& user) {
  if (!request || !request->isRequest() || request->method() == Method::Ack) {
    impl_->log->error("sendRequest: not a request that starts a transaction");
    return 0;
  }
  const auto* via = request->topViaParsed();
  if (!via || via->branch().empty()) {
    impl_->log->error("sendRequest: no branch in top Via; Call-ID {}", request->callId());
    return 0;
  }
  // Views into the request; the transaction copies them.
  const MatchKey key{via->branch(), request->methodText(), {}, 0};
  if (impl_->clients.find(key) != nullptr) {
    impl_->log->error("sendRequest: branch {} already in use", via->branch());
    return 0;
  }
  const TransactionId id = impl_->nextId++;
  std::unique_ptr<ClientTransaction> tx;
  if (request->method() == Method::Invite) {
    tx = std::make_unique<ClientInviteTransaction>(*impl_, id, to, std::move(request), key, user);
  } else {
    tx =
        std::make_unique<ClientNonInviteTransaction>(*impl_, id, to, std::move(request), key, user);
  }
  ClientTransaction* raw = tx.get();
  impl_->addClient(std::move(tx));
  raw->start();  // a refused send is reported later, through Timer "Failure"
  return id;
}

void TransactionLayer::detach(TransactionId tx) {
  if (ClientTransaction* c = impl_->client(tx)) c->detach();
}

const Message* TransactionLayer::clientRequest(TransactionId tx) const {
  const ClientTransaction* c = impl_->client(tx);
  return c != nullptr ? c->request() : nullptr;
}

const Flow* TransactionLayer::clientFlow(TransactionId tx) const {
  const ClientTransaction* c = impl_->client(tx);
  return c != nullptr ? &c->flow() : nullptr;
}

bool TransactionLayer::sendStateless(const Message& message, const Flow& to) {
  return impl_->transport.sendDeferrable(to, message.serialize());
}

std::string TransactionLayer::newBranch() {
  std::string branch;
  branch.reserve(32);
  branch.append("z9hG4bK");
  tokens().appendTo(branch);
  return branch;
}

void TransactionLayer::setMaxMessageSize(std::size_t bytes) {
  impl_->maxMessageSize = bytes;
}

TransactionStats TransactionLayer::stats() const {
  return impl_->stats;
}

void TransactionLayer::onMessage(std::string data, const Flow& from) {
  if (const auto& log = impl_->log; log->should_log(spdlog::level::trace)) {
    log->trace("recv {} {} (conn {}): {}", transportName(from.transport), from.remote.toString(),
               from.connection, std::string_view(data).substr(0, data.find('\r')));
  }
  const bool tooLarge = data.size() > impl_->maxMessageSize;
  ParseResult result = Message::parse(std::move(data));
  if (tooLarge) {
    // Streams close the connection before this; a datagram gets 513 (RFC 3261
    // §21.5.14) when it is a readable request, else it is dropped.
    impl_->rejectInvalid(result, from, 513, "Message Too Large");
    return;
  }
  if (!result.ok()) {
    impl_->rejectInvalid(result, from, 400, {});
    return;
  }
  if (result.message->isRequest()) {
    ++impl_->stats.requestsReceived[static_cast<std::size_t>(result.message->method())];
    impl_->receiveRequest(std::move(result.message), from);
  } else {
    const int status = result.message->status();
    ++impl_->stats.responsesReceived[status >= 100 && status < 700 ? status / 100 : 0];
    impl_->receiveResponse(std::move(result.message), from);
  }
}

void TransactionLayer::onConnectionClosed(ConnectionId id) {
  std::vector<TransactionId> ids;
  if (const auto it = impl_->byConnection.find(id); it != impl_->byConnection.end())
    ids.assign(it->second.begin(), it->second.end());
  impl_->failAll(ids);
}

// Only stream transports report failures after send() returned: a lost
// datagram is left to retransmissions and timeouts. What fails is what was
// waiting for that destination on no particular connection, and what was
// bound to the connection named, if any. (This used to be a scan of every
// transaction per failed message: with the hundreds of thousands a busy proxy
// keeps, a peer refusing connections stalled the loop.)
void TransactionLayer::onSendFailed(const Flow& to) {
  if (!isReliable(to.transport)) return;
  std::vector<TransactionId> ids;
  if (const auto it = impl_->unbound.find(remoteKey(to)); it != impl_->unbound.end())
    ids.assign(it->second.begin(), it->second.end());
  if (to.connection != 0) {
    if (const auto it = impl_->byConnection.find(to.connection); it != impl_->byConnection.end()) {
      for (const TransactionId id : it->second) {
        const Transaction* tx = impl_->find(id);
        if (tx != nullptr && tx->flow().transport == to.transport && tx->flow().remote == to.remote)
          ids.push_back(id);
      }
    }
  }
  impl_->failAll(std::move(ids));
}

}  // namespace tandem::sip
