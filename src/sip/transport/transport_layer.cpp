// TransportLayer: owns the UDP sockets, the TCP/TLS acceptors and every stream
// connection, and routes send() to the right one (RFC 3261 §18).
//
// Teardown: shutdown() (and the destructor) first close the listening sockets,
// then detach every connection (it no longer calls back) and let it flush its
// queued writes for at most kDrainTimeout. Handlers still pending hold
// shared_ptrs to their objects, so the io_context may outlive the layer; it must
// not be destroyed before the layer.
#include "sip/transport/transport_layer.hpp"

#include "core/log.hpp"
#include "sip/transport/connection.hpp"
#include "sip/transport/tls_connection.hpp"
#include "sip/transport/transport_tuning.hpp"
#include "sip/transport/udp_listener.hpp"

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>

#include <algorithm>
#include <array>
#include <deque>
#include <limits>
#include <map>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace tandem::sip {
namespace asio = boost::asio;
using boost::system::error_code;
using detail::Connection;

namespace {

// Receives accepted sockets from an Acceptor.
class AcceptHost {
 public:
  virtual void accepted(Transport transport, const core::Endpoint& local,
                        asio::ip::tcp::socket socket) = 0;

 protected:
  ~AcceptHost() = default;
};

// A TCP or TLS listening socket.
class Acceptor : public std::enable_shared_from_this<Acceptor> {
 public:
  Acceptor(asio::ip::tcp::acceptor acceptor, Transport transport, AcceptHost& host,
           std::shared_ptr<spdlog::logger> log)
      : acceptor_(std::move(acceptor)),
        transport_(transport),
        host_(&host),
        log_(std::move(log)),
        retry_(acceptor_.get_executor()) {
    error_code ignored;
    const auto local = acceptor_.local_endpoint(ignored);
    local_ = core::Endpoint{local.address(), local.port()};
  }

  Transport transport() const { return transport_; }
  const core::Endpoint& local() const { return local_; }

  void start() {
    acceptor_.async_accept(
        [self = shared_from_this()](const error_code& ec, asio::ip::tcp::socket socket) {
          self->onAccept(ec, std::move(socket));
        });
  }

  void close() {
    host_ = nullptr;
    error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  }

 private:
  void onAccept(const error_code& ec, asio::ip::tcp::socket socket) {
    if (host_ == nullptr || ec == asio::error::operation_aborted) return;
    if (ec) {
      log_->warn("{} accept on {} failed: {}", transportName(transport_), local_.toString(),
                 ec.message());
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory) {
        retry_.expires_after(tuning::kAcceptRetryDelay);
        retry_.async_wait([self = shared_from_this()](const error_code& e) {
          if (!e && self->host_ != nullptr) self->start();
        });
        return;
      }
      start();
      return;
    }
    host_->accepted(transport_, local_, std::move(socket));
    if (host_ != nullptr) start();
  }

  asio::ip::tcp::acceptor acceptor_;
  Transport transport_;
  AcceptHost* host_;  // null once closed
  std::shared_ptr<spdlog::logger> log_;
  core::Endpoint local_;
  asio::steady_timer retry_;
};

bool isUsableDestination(const core::Endpoint& e) {
  return e.port != 0 && !e.address.is_unspecified();
}

// A note per destination, for at most tuning::kMaxRemoteNotes of them (the
// oldest go first).
class RemoteNotes {
 public:
  void put(const RemoteKey& key, std::string_view value) {
    if (values_.size() >= tuning::kMaxRemoteNotes && values_.count(key) == 0) {
      values_.erase(order_.front());
      order_.pop_front();
    }
    if (values_.insert_or_assign(key, std::string(value)).second) order_.push_back(key);
  }
  void erase(const RemoteKey& key) {
    if (values_.erase(key) == 0) return;
    order_.erase(std::find(order_.begin(), order_.end(), key));
  }
  const std::string* find(const RemoteKey& key) const {
    const auto it = values_.find(key);
    return it != values_.end() ? &it->second : nullptr;
  }

 private:
  std::map<RemoteKey, std::string> values_;
  std::deque<RemoteKey> order_;  // oldest first
};

}  // namespace

struct TransportLayer::Impl final : detail::ConnectionHost, AcceptHost {
  Impl(asio::io_context& ioContext, TransportListener& transportListener,
       TransportOptions transportOptions)
      : io(ioContext),
        listener(transportListener),
        opts(std::move(transportOptions)),
        logger(core::logger("transport")) {}

  // ---- ConnectionHost / AcceptHost ----------------------------------------

  void connectionMessage(Connection& c, std::string data) override {
    guarded("onMessage", [&] { listener.onMessage(std::move(data), c.flow()); });
  }

  // An exception from the listener must not unwind through Asio and stop the
  // loop for every other call; it is logged, the message is lost.
  template <typename F>
  void guarded(std::string_view what, F&& call) {
    try {
      call();
    } catch (const std::exception& e) {
      logger->error("TransportListener::{} threw: {}", what, e.what());
    }
  }

  void connectionClosed(Connection& c, bool wasOpen, const std::vector<Flow>& failed,
                        std::string_view reason) override {
    const ConnectionId id = c.id();
    // Forget it before calling out, so that a send() from the callbacks does
    // not pick this connection.
    const auto key = remoteKey(c.transport(), c.flow().remote);
    if (const auto it = byRemote.find(key); it != byRemote.end()) {
      std::erase(it->second, id);
      if (it->second.empty()) byRemote.erase(it);
    }
    if (!wasOpen && c.transport() == Transport::Tls) {
      // Another domain that cannot be reached, or fails certificate checks,
      // is an operator's concern, as is a client refused for its
      // certificate (mutual TLS). (Phones that went away are not.)
      const bool certificate = c.certificateRefused();
      if (c.outgoing() && !failed.empty() && (certificate || !failed.front().tlsDomain.empty())) {
        logger->warn("TLS connection {} to {}{} failed: {}", id, c.flow().remote.toString(),
                     failed.front().tlsDomain.empty() ? "" : " (" + failed.front().tlsDomain + ")",
                     reason);
      } else if (!c.outgoing() && certificate) {
        logger->info("TLS connection {} from {} refused: {}", id, c.flow().remote.toString(),
                     reason);
      }
    }
    if (!failed.empty()) failures.put(key, reason);
    connections.erase(id);
    for (const Flow& flow : failed) {
      guarded("onSendFailed", [&] { listener.onSendFailed(flow); });
    }
    if (wasOpen) guarded("onConnectionClosed", [&] { listener.onConnectionClosed(id); });
  }

  const TransportOptions& options() const override { return opts; }
  const std::shared_ptr<spdlog::logger>& log() const override { return logger; }

  void accepted(Transport transport, const core::Endpoint& local,
                asio::ip::tcp::socket socket) override {
    error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) return;  // already reset by the peer
    const ConnectionId id = nextId++;
    auto connection = transport == Transport::Tls
                          ? tls->makeAccepted(*this, id, std::move(socket))
                          : detail::makeTcpConnection(*this, id, std::move(socket));
    const core::Endpoint remote{peer.address(), peer.port()};
    connections.emplace(id, connection);
    byRemote[remoteKey(transport, remote)].push_back(id);
    connection->startAccepted(remote, local);
  }

  // ---- Listening ----------------------------------------------------------

  std::string listenUdp(const core::Endpoint& at) {
    const asio::ip::udp::endpoint endpoint(at.address, at.port);
    asio::ip::udp::socket socket(io);
    error_code ec;
    auto fail = [&](std::string_view what) {
      return "UDP " + at.toString() + ": " + std::string(what) + ": " + ec.message();
    };
    socket.open(endpoint.protocol(), ec);
    if (ec) return fail("open");
    // One socket per address family; see advertised() and pickUdp().
    if (at.address.is_v6()) socket.set_option(asio::ip::v6_only(true), ec);
    const auto size = static_cast<int>(
        std::min<std::size_t>(opts.udpReceiveBuffer, std::numeric_limits<int>::max()));
    socket.set_option(asio::socket_base::receive_buffer_size(size), ec);
    if (ec) {
      logger->warn("UDP {}: cannot set SO_RCVBUF to {}: {}", at.toString(), size, ec.message());
    }
    socket.bind(endpoint, ec);
    if (ec) return fail("bind");
    socket.non_blocking(true, ec);
    if (ec) return fail("non-blocking mode");
    std::shared_ptr<detail::UdpListener> udpListener;
    try {
      udpListener = std::make_shared<detail::UdpListener>(std::move(socket), listener, logger,
                                                          opts.udpBatchDelay);
    } catch (const std::system_error& e) {
      return "UDP " + at.toString() + ": " + e.what();
    }
    udp.push_back(udpListener);
    udpListener->start();
    logger->info("listening on UDP {}", udpListener->local().toString());
    return {};
  }

  std::string listenStream(Transport transport, const core::Endpoint& at) {
    const asio::ip::tcp::endpoint endpoint(at.address, at.port);
    asio::ip::tcp::acceptor acceptor(io);
    error_code ec;
    auto fail = [&](std::string_view what) {
      return std::string(transportName(transport)) + " " + at.toString() + ": " +
             std::string(what) + ": " + ec.message();
    };
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return fail("open");
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (at.address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    acceptor.bind(endpoint, ec);
    if (ec) return fail("bind");
    acceptor.listen(tuning::kListenBacklog, ec);
    if (ec) return fail("listen");
    auto entry = std::make_shared<Acceptor>(std::move(acceptor), transport, *this, logger);
    acceptors.push_back(entry);
    entry->start();
    logger->info("listening on {} {}", transportName(transport), entry->local().toString());
    return {};
  }

  // ---- Sending ------------------------------------------------------------

  // The socket whose address is `to.local` if there is one, else the first of
  // the remote's address family.
  detail::UdpListener* pickUdp(const Flow& to) {
    detail::UdpListener* sameFamily = nullptr;
    for (const auto& candidate : udp) {
      if (candidate->isV6() != to.remote.address.is_v6()) continue;
      if (candidate->local() == to.local) return candidate.get();
      if (sameFamily == nullptr) sameFamily = candidate.get();
    }
    return sameFamily;
  }

  const Acceptor* findAcceptor(Transport transport, const asio::ip::address* family) const {
    const Acceptor* any = nullptr;
    for (const auto& acceptor : acceptors) {
      if (acceptor->transport() != transport) continue;
      if (family == nullptr || acceptor->local().address.is_v6() == family->is_v6()) {
        return acceptor.get();
      }
      if (any == nullptr) any = acceptor.get();
    }
    return family == nullptr ? nullptr : any;
  }

  bool sendStream(const Flow& to, std::string data) {
    const Transport transport = to.transport;
    const Acceptor* acceptor = findAcceptor(transport, &to.remote.address);
    if (acceptor == nullptr) return false;
    if (to.connection != 0) {
      const auto it = connections.find(to.connection);
      if (it != connections.end() && it->second->usable() && it->second->transport() == transport) {
        it->second->send(std::move(data), to);
        return true;
      }
    }
    if (!isUsableDestination(to.remote)) return false;
    if (const auto it = byRemote.find(remoteKey(transport, to.remote)); it != byRemote.end()) {
      // The newest first; TLS ones only for the domain they proved.
      for (auto id = it->second.rbegin(); id != it->second.rend(); ++id) {
        const auto found = connections.find(*id);
        if (found != connections.end() && found->second->usable() && found->second->mayCarry(to)) {
          found->second->send(std::move(data), to);
          return true;
        }
      }
    }
    return connect(*acceptor, to, std::move(data));
  }

  bool connect(const Acceptor& acceptor, const Flow& to, std::string data) {
    const auto protocol = to.remote.address.is_v6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
    asio::ip::tcp::socket socket(io);
    error_code ec;
    socket.open(protocol, ec);
    if (ec) {
      logger->warn("{} connect to {}: {}", transportName(to.transport), to.remote.toString(),
                   ec.message());
      return false;
    }
    // Leave from the listening address when it is a specific one, so that the
    // peer sees the address Via and Record-Route name.
    const auto& local = acceptor.local().address;
    if (!local.is_unspecified() && local.is_v6() == to.remote.address.is_v6()) {
      socket.bind(asio::ip::tcp::endpoint(local, 0), ec);
    }
    const ConnectionId id = nextId++;
    const auto key = remoteKey(to.transport, to.remote);
    // TLS to an address once reached for a domain (a Record-Route entry of
    // that domain's server, after the first connection closed) is checked
    // for that domain again: the address has proven nothing else.
    Flow checked = to;
    if (to.transport == Transport::Tls) {
      if (!to.tlsDomain.empty()) {
        tlsDomains.put(key, to.tlsDomain);
      } else if (const auto* domain = tlsDomains.find(key)) {
        checked.tlsDomain = *domain;
      }
    }
    auto connection = to.transport == Transport::Tls
                          ? tls->makeOutgoing(*this, id, std::move(socket), checked)
                          : detail::makeTcpConnection(*this, id, std::move(socket));
    connections.emplace(id, connection);
    byRemote[key].push_back(id);
    failures.erase(key);
    connection->startConnect(to.remote);  // completes later, never from here
    connection->send(std::move(data), to);
    logger->debug("{} connection {} connecting to {}{}", transportName(to.transport), id,
                  to.remote.toString(),
                  checked.tlsDomain.empty() ? "" : " for " + checked.tlsDomain);
    return true;
  }

  // ---- Teardown -------------------------------------------------------------

  void shutdown(bool notify) {
    stopped = true;
    for (auto& socket : udp)
      socket->close();
    udp.clear();
    for (auto& acceptor : acceptors)
      acceptor->close();
    acceptors.clear();
    auto closingChannels = std::move(channels);
    channels.clear();
    for (auto& entry : closingChannels) {
      const ConnectionId id = entry.first;
      entry.second.channel->close();
      if (notify) guarded("onConnectionClosed", [&] { listener.onConnectionClosed(id); });
    }
    auto closing = std::move(connections);
    connections.clear();
    byRemote.clear();
    for (auto& entry : closing) {
      const ConnectionId id = entry.first;  // (clang 14 cannot capture structured bindings)
      auto& connection = entry.second;
      const bool wasOpen = connection->state() == Connection::State::Open;
      connection->detachAndDrain();
      if (notify && wasOpen) {
        guarded("onConnectionClosed", [&] { listener.onConnectionClosed(id); });
      }
    }
  }

  // ---- WebSocket channels ---------------------------------------------------

  struct Channel {
    std::shared_ptr<MessageChannel> channel;
    Flow flow;
  };

  bool sendChannel(const Flow& to, std::string data) {
    const auto it = channels.find(to.connection);
    if (it == channels.end() || it->second.flow.transport != to.transport) return false;
    it->second.channel->send(std::move(data));
    return true;
  }

  asio::io_context& io;
  TransportListener& listener;
  TransportOptions opts;
  std::shared_ptr<spdlog::logger> logger;

  std::vector<std::shared_ptr<detail::UdpListener>> udp;
  std::vector<std::shared_ptr<Acceptor>> acceptors;
  std::unique_ptr<detail::TlsFactory> tls;
  std::unordered_map<ConnectionId, std::shared_ptr<Connection>> connections;
  std::unordered_map<ConnectionId, Channel> channels;
  // Open (or opening) connections per remote address, accepted ones
  // included, oldest first, for reuse (RFC 3261 §18.1.1, §18.2.2). Usually
  // one; TLS to several domains served at one address has one per domain.
  std::map<RemoteKey, std::vector<ConnectionId>> byRemote;
  // Why the last connection to a destination failed (failureReason()).
  RemoteNotes failures;
  // The SIP domain TLS destinations were last reached for.
  RemoteNotes tlsDomains;
  std::array<std::optional<core::Endpoint>, 5> advertisedOverride;
  ConnectionId nextId = 1;
  bool stopped = false;
};

TransportLayer::TransportLayer(asio::io_context& io, TransportListener& listener,
                               TransportOptions options)
    : impl_(std::make_unique<Impl>(io, listener, std::move(options))) {}

TransportLayer::~TransportLayer() {
  impl_->shutdown(false);
}

std::string TransportLayer::listen(Transport t, const core::Endpoint& at) {
  if (impl_->stopped) return "the transport layer is shut down";
  switch (t) {
    case Transport::Udp:
      return impl_->listenUdp(at);
    case Transport::Tcp:
      return impl_->listenStream(t, at);
    case Transport::Tls:
      if (!impl_->tls) {
        std::string error;
        impl_->tls = detail::TlsFactory::create(impl_->opts, error);
        if (!impl_->tls) return error;
      }
      return impl_->listenStream(t, at);
    case Transport::Ws:
    case Transport::Wss:
      break;
  }
  return std::string(transportName(t)) + " is not served by the SIP transport layer";
}

void TransportLayer::setAdvertised(Transport t, const core::Endpoint& at) {
  impl_->advertisedOverride.at(static_cast<std::size_t>(t)) = at;
}

bool TransportLayer::send(const Flow& to, std::string data) {
  return send(to, std::move(data), false);
}

bool TransportLayer::sendDeferrable(const Flow& to, std::string data) {
  return send(to, std::move(data), true);
}

bool TransportLayer::send(const Flow& to, std::string data, bool deferrable) {
  if (impl_->stopped) return false;
  // `--log-level trace`: every message's first line, both ways (the other
  // way in onMessage's caller), for following a call through the server.
  if (impl_->logger->should_log(spdlog::level::trace)) {
    impl_->logger->trace("send {} {} (conn {}): {}", transportName(to.transport),
                         to.remote.toString(), to.connection, data.substr(0, data.find('\r')));
  }
  switch (to.transport) {
    case Transport::Udp: {
      if (!isUsableDestination(to.remote)) return false;
      detail::UdpListener* socket = impl_->pickUdp(to);
      return socket != nullptr && socket->send(to.remote, std::move(data), deferrable);
    }
    case Transport::Tcp:
    case Transport::Tls:
      return impl_->sendStream(to, std::move(data));
    case Transport::Ws:
    case Transport::Wss:
      return impl_->sendChannel(to, std::move(data));
  }
  return false;
}

namespace {

// "SIP/2.0 " (a status line) or "METHOD SP Request-URI SP SIP/2.0" (a request
// line), judged on the first line only: enough to tell SIP from junk.
bool looksLikeSipStartLine(std::string_view message) {
  const auto eol = message.find("\r\n");
  const auto line = message.substr(0, eol == std::string_view::npos ? message.size() : eol);
  if (line.starts_with("SIP/2.0 ")) return true;
  const auto sp = line.find(' ');
  if (sp == 0 || sp == std::string_view::npos) return false;
  for (char c : line.substr(0, sp)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("-.!%*_+`'~").find(c) == std::string_view::npos)
      return false;
  }
  return line.ends_with(" SIP/2.0") && line.size() > sp + 1 + 8;
}

}  // namespace

ConnectionId TransportLayer::attachChannel(Transport t, std::shared_ptr<MessageChannel> channel,
                                           const core::Endpoint& remote,
                                           const core::Endpoint& local) {
  if (impl_->stopped || (t != Transport::Ws && t != Transport::Wss) || !channel) return 0;
  const ConnectionId id = impl_->nextId++;
  Flow flow;
  flow.transport = t;
  flow.remote = remote;
  flow.local = local;
  flow.connection = id;
  impl_->channels.emplace(id, Impl::Channel{std::move(channel), flow});
  impl_->logger->debug("{} connection {} from {}", transportName(t), id, remote.toString());
  return id;
}

void TransportLayer::channelMessage(ConnectionId id, std::string message) {
  const auto it = impl_->channels.find(id);
  if (it == impl_->channels.end()) return;
  if (message.find_first_not_of("\r\n \t") == std::string::npos) {
    if (message.size() >= 4 && message.compare(0, 4, "\r\n\r\n") == 0) {
      it->second.channel->send("\r\n");
    }
    return;
  }
  if (!looksLikeSipStartLine(message)) {
    impl_->logger->info("{} connection {} from {}: not a SIP message, closing",
                        transportName(it->second.flow.transport), id,
                        it->second.flow.remote.toString());
    it->second.channel->close(true, "not a SIP message");
    return;
  }
  const Flow flow = it->second.flow;  // the listener may close the channel
  impl_->guarded("onMessage", [&] { impl_->listener.onMessage(std::move(message), flow); });
}

void TransportLayer::channelClosed(ConnectionId id) {
  if (impl_->channels.erase(id) == 0) return;
  impl_->guarded("onConnectionClosed", [&] { impl_->listener.onConnectionClosed(id); });
}

std::string TransportLayer::failureReason(const Flow& to) const {
  const auto* reason = impl_->failures.find(remoteKey(to.transport, to.remote));
  return reason != nullptr ? *reason : std::string();
}

const std::vector<std::string>* TransportLayer::tlsPeerIdentities(ConnectionId id) const {
  const auto it = impl_->connections.find(id);
  if (it == impl_->connections.end() || it->second->peerIdentities().empty()) return nullptr;
  return &it->second->peerIdentities();
}

bool TransportLayer::connectionOpen(ConnectionId id) const {
  return impl_->channels.count(id) != 0 || impl_->connections.count(id) != 0;
}

std::size_t TransportLayer::channelCount() const {
  return impl_->channels.size();
}

// The first listener of the transport. A wildcard address (0.0.0.0 or ::)
// cannot go into a Via, so it is advertised as loopback of the same family:
// right for tests on one machine; a real deployment calls setAdvertised().
std::optional<core::Endpoint> TransportLayer::advertised(Transport t) const {
  const auto index = static_cast<std::size_t>(t);
  if (index < impl_->advertisedOverride.size() && impl_->advertisedOverride[index]) {
    return impl_->advertisedOverride[index];
  }
  std::optional<core::Endpoint> local;
  if (t == Transport::Udp) {
    if (!impl_->udp.empty()) local = impl_->udp.front()->local();
  } else if (const Acceptor* acceptor = impl_->findAcceptor(t, nullptr)) {
    local = acceptor->local();
  }
  if (local) return local->withLoopbackForWildcard();
  return local;
}

void TransportLayer::shutdown() {
  impl_->shutdown(true);
}

std::size_t TransportLayer::connectionCount() const {
  return impl_->connections.size();
}

}  // namespace tandem::sip
