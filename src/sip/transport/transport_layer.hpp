#pragma once
// The SIP transports (RFC 3261 §18): UDP, TCP and TLS listeners, outgoing
// connections, stream framing by Content-Length, keep-alives (RFC 5626 §4.4.1)
// and idle timeouts. Heavy Asio/SSL headers stay in the .cpp files.

#include "sip/transport/flow.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace tandem::sip {

// Whether a TLS listener asks connecting clients for a certificate (mutual
// TLS). Request: asked for, optional, but one that is sent must verify.
// Require: a client without a verified certificate is refused.
enum class TlsClientAuth : std::uint8_t { None, Request, Require };

struct TransportOptions {
  std::size_t maxMessageSize = 65535;              // larger stream messages close the connection
  std::chrono::seconds idleTimeout{300};           // stream connections with no traffic
  std::size_t udpReceiveBuffer = 4 * 1024 * 1024;  // SO_RCVBUF; the kernel may cap it
  // While datagrams come close enough that this long gathers several
  // (tuning::kUdpPauseGather), a UDP socket is read this long after the last
  // read rather than at each arrival (one wake-up for several; see
  // UdpListener). 0: every arrival is read at once.
  std::chrono::microseconds udpBatchDelay{2000};
  // Our certificate chain and key: needed for a TLS listener, and presented
  // as client certificate on outgoing TLS connections when a server asks.
  std::string tlsCertFile, tlsKeyFile;
  std::string tlsCaFile;  // CAs trusted for peers' certificates; "": the system store
  // Outgoing TLS without a domain (Flow::tlsDomain empty: contacts, Route
  // entries by address): verify the server's certificate against its IP.
  bool tlsVerifyPeer = false;
  // Outgoing TLS to a SIP domain (Flow::tlsDomain set): verify the server's
  // certificate chain and that it names the domain (RFC 5922 §7.2).
  bool tlsVerifyDomains = true;
  TlsClientAuth tlsClientAuth = TlsClientAuth::None;  // accepted TLS connections
};

// A message-oriented connection that another component accepted: a WebSocket
// carrying SIP (RFC 7118), where each WebSocket message is one whole SIP
// message. The web server implements it; the SIP stack never sees HTTP.
class MessageChannel {
 public:
  virtual ~MessageChannel() = default;
  virtual void send(std::string message) = 0;
  // Closes the channel; the owner still reports channelClosed() afterwards.
  // `protocolError`: the peer sent something that is not SIP (`why` says what).
  virtual void close(bool protocolError = false, std::string_view why = {}) = 0;
};

class TransportLayer final : public TransportSender {
 public:
  TransportLayer(boost::asio::io_context& io, TransportListener& listener,
                 TransportOptions options);
  ~TransportLayer() override;

  // Opens a listener. Returns an empty string on success, else the reason
  // (address in use, bad certificate, ...). Port 0 picks a free port; the real
  // one is then in advertised().
  std::string listen(Transport t, const core::Endpoint& at);
  // Overrides the address put in Via / Record-Route for a transport. Without
  // it, advertised() is the first listener's address, with a wildcard (0.0.0.0,
  // ::) replaced by loopback of its family: fine for tests on one machine, so a
  // deployment listening on a wildcard must call this.
  void setAdvertised(Transport t, const core::Endpoint& at);

  bool send(const Flow& to, std::string data) override;
  bool sendDeferrable(const Flow& to, std::string data) override;
  std::optional<core::Endpoint> advertised(Transport t) const override;
  bool connectionOpen(ConnectionId id) const override;
  std::string failureReason(const Flow& to) const override;
  const std::vector<std::string>* tlsPeerIdentities(ConnectionId id) const override;

  // WebSocket flows (RFC 7118). The web server adopts each accepted `sip`
  // WebSocket here and gets its connection id; it then reports every message
  // and, once, the close. Messages go to the TransportListener like those of
  // any stream connection (with Flow::connection set), and send() to WS/WSS
  // goes down the channel named by Flow::connection: a browser accepts no
  // connections, so there is no other way to reach it. Blank messages are
  // keep-alives (a double CRLF gets a CRLF pong, as RFC 5626 §4.4.1 on streams).
  // A message whose first line is not a SIP start line closes the channel as
  // a protocol error (as garbage closes a TCP connection); a SIP message with
  // bad headers goes up, and a request gets its 400.
  ConnectionId attachChannel(Transport t, std::shared_ptr<MessageChannel> channel,
                             const core::Endpoint& remote, const core::Endpoint& local);
  void channelMessage(ConnectionId id, std::string message);
  void channelClosed(ConnectionId id);
  std::size_t channelCount() const;

  // Closes listeners and connections (pending writes are flushed best-effort).
  void shutdown();

  std::size_t connectionCount() const;

 private:
  bool send(const Flow& to, std::string data, bool deferrable);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Incremental stream framing (RFC 3261 §18.3). Scans `buffer` for one message:
//   - NeedMore: not enough bytes yet;
//   - KeepAlive: `consumed` bytes of CRLF keep-alive (a double CRLF ping gets a
//     single CRLF pong, RFC 5626 §4.4.1: `pong` is set);
//   - Message: the first `consumed` bytes are one message;
//   - Error: framing is broken (no/bad Content-Length, header section or body
//     larger than maxSize): close the connection.
struct FrameResult {
  enum class Kind { NeedMore, KeepAlive, Message, Error } kind = Kind::NeedMore;
  std::size_t consumed = 0;
  bool pong = false;
  std::string_view error;
  // NeedMore only: the size of the whole message once its header section is
  // complete (0 while it is not), so a reader can wait for that many bytes
  // instead of rescanning after every read.
  std::size_t expected = 0;
};
FrameResult frameStream(std::string_view buffer, std::size_t maxSize);

}  // namespace tandem::sip
