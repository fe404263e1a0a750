#pragma once
// Where a SIP message came from or goes to: transport, addresses and, for
// stream transports, the connection (RFC 5626 "flow").

#include "core/endpoint.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace tandem::sip {

enum class Transport : std::uint8_t { Udp, Tcp, Tls, Ws, Wss };

// "UDP", "TCP", "TLS", "WS", "WSS" (as in Via).
std::string_view transportName(Transport t);
// Case-insensitive; nullopt for anything else.
std::optional<Transport> transportFromName(std::string_view name);
inline bool isReliable(Transport t) {
  return t != Transport::Udp;
}
inline bool isSecure(Transport t) {
  return t == Transport::Tls || t == Transport::Wss;
}

using ConnectionId = std::uint64_t;  // 0: no connection (UDP, or "open one")

struct Flow {
  Transport transport = Transport::Udp;
  core::Endpoint remote;
  core::Endpoint local;  // the listening socket's address (for UDP and accepted streams)
  ConnectionId connection = 0;
  // Outgoing TLS to another SIP domain: the domain the peer must prove
  // (RFC 5922 §7.2), sent as SNI and matched against its certificate. A
  // connection is reused for it only if its certificate names that domain.
  // Empty for everything else (received messages, contacts, Route entries).
  std::string tlsDomain{};

  friend bool operator==(const Flow&, const Flow&) = default;
};

// A destination regardless of connection: transport, address and port. The
// key of what is kept per peer (open connections, why the last one failed,
// transactions waiting for a connection to it).
using RemoteKey = std::tuple<Transport, boost::asio::ip::address, std::uint16_t>;
inline RemoteKey remoteKey(Transport t, const core::Endpoint& remote) {
  return {t, remote.address, remote.port};
}
inline RemoteKey remoteKey(const Flow& f) {
  return remoteKey(f.transport, f.remote);
}

// Anything that can put bytes on the wire. The transaction layer talks to the
// network only through this, so tests replace it with a recorder.
class TransportSender {
 public:
  virtual ~TransportSender() = default;
  // Sends one serialised message. For stream transports, uses `to.connection`
  // when it is still open, otherwise an open connection to `to.remote`, otherwise
  // opens one. Returns false when it cannot be sent at all (no listener for that
  // transport, connection closed and no way to reopen); asynchronous failures
  // after that are reported through TransportListener::onSendFailed.
  virtual bool send(const Flow& to, std::string data) = 0;
  // The same for a message whose sender needs no answer now (responses, ACKs):
  // it may wait until the end of the batch of received datagrams being handled
  // and leave with the others in one system call (UDP). A failure to send it
  // then goes to the log, and the message counts as lost on the way, which
  // retransmissions and timeouts deal with.
  virtual bool sendDeferrable(const Flow& to, std::string data) {
    return send(to, std::move(data));
  }
  // The address to advertise in Via / Record-Route for a transport (the
  // listening address, or the configured advertised address); nullopt when
  // Tandem does not listen on that transport.
  virtual std::optional<core::Endpoint> advertised(Transport t) const = 0;
  // Whether a connection (stream or WebSocket) is still open, so a request
  // meant for a flow that has gone can be answered 430 (RFC 5626 §5.3).
  virtual bool connectionOpen(ConnectionId) const { return true; }
  // Why the last connection attempt to `to` (transport and remote address)
  // failed, e.g. "TLS certificate of b.test does not match the domain"; ""
  // when unknown or when it has since succeeded. For a final response that
  // says more than "transport error".
  virtual std::string failureReason(const Flow& to) const {
    (void)to;
    return {};
  }
  // The SIP domain identities (RFC 5922 §7.1) of the verified certificate
  // the peer of a TLS connection presented: the server's when we connected,
  // the client's when we accepted and asked for one (mutual TLS). Null when
  // there is none (no TLS, no certificate, verification off).
  virtual const std::vector<std::string>* tlsPeerIdentities(ConnectionId id) const {
    (void)id;
    return nullptr;
  }
};

// Receives what the transports deliver. Called on the loop; callbacks must not
// destroy the TransportLayer.
class TransportListener {
 public:
  virtual ~TransportListener() = default;
  // One complete message: a UDP datagram, or one message framed by
  // Content-Length from a stream. Keep-alive CRLFs never get here.
  virtual void onMessage(std::string data, const Flow& from) = 0;
  // A stream connection closed (by the peer, idle timeout, error, or framing
  // error). Bindings and transactions tied to it should go.
  virtual void onConnectionClosed(ConnectionId id) = 0;
  // Sending to `to` failed after send() returned true (e.g. connect refused).
  virtual void onSendFailed(const Flow& to) = 0;
};

}  // namespace tandem::sip
