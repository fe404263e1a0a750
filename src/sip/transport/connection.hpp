#pragma once
// One SIP stream connection (TCP, or TLS over TCP): connect or accept,
// handshake, Content-Length framing of what it reads, a queue of writes, and an
// idle timeout. Internal to src/sip/transport; TcpConnection and TlsConnection
// supply the socket operations.
//
// Lifetime: the TransportLayer owns connections through shared_ptr in its map;
// every pending asynchronous operation also holds one, so a handler never runs
// on a destroyed object. When the layer goes away it detaches (host = null) and
// closes them; late handlers then see Closed and return.

#include "sip/transport/transport_layer.hpp"
#include "sip/transport/transport_tuning.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace tandem::sip::detail {

class Connection;

// What a connection reports to the TransportLayer. Called on the loop.
class ConnectionHost {
 public:
  // One framed message.
  virtual void connectionMessage(Connection& c, std::string data) = 0;
  // Called once per connection when it closes, whatever the reason. `wasOpen`:
  // it had completed connect and handshake. `failed`: the destinations of
  // messages queued on an outgoing connection that never opened. `reason`:
  // why it closed ("connect failed: ...", "TLS certificate of ...", ...).
  virtual void connectionClosed(Connection& c, bool wasOpen, const std::vector<Flow>& failed,
                                std::string_view reason) = 0;
  virtual const TransportOptions& options() const = 0;
  virtual const std::shared_ptr<spdlog::logger>& log() const = 0;

 protected:
  ~ConnectionHost() = default;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { Connecting, Handshaking, Open, Draining, Closed };

  Connection(ConnectionHost& host, ConnectionId id, Transport transport,
             const boost::asio::any_io_executor& executor);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ConnectionId id() const { return flow_.connection; }
  Transport transport() const { return flow_.transport; }
  // transport, remote, local and id, as handed to TransportListener::onMessage.
  const Flow& flow() const { return flow_; }
  State state() const { return state_; }
  // Still takes messages (open, or about to be).
  bool usable() const { return state_ <= State::Open; }
  bool outgoing() const { return outgoing_; }
  // Whether the handshake failed over a certificate (ours refused, or the
  // peer's untrusted or naming someone else): an operator's concern.
  bool certificateRefused() const { return certificateRefused_; }

  // TLS: the SIP domain identities of the peer's verified certificate
  // (RFC 5922 §7.1); empty when there is none (and always for TCP).
  virtual const std::vector<std::string>& peerIdentities() const;
  // Whether a message for `to` may go on this connection: always, except
  // that TLS to a SIP domain (Flow::tlsDomain) needs a connection whose
  // certificate names that domain, or one opening to verify exactly that.
  virtual bool mayCarry(const Flow& to) const;

  // An accepted socket: handshake (TLS) then read. `local` is the listener's.
  void startAccepted(const core::Endpoint& remote, const core::Endpoint& local);
  // An outgoing connection: the socket is open (and bound); connect, handshake,
  // then write what send() queued meanwhile.
  void startConnect(const core::Endpoint& remote);
  // Queues one message. `to` is remembered until the connection opens, for
  // onSendFailed. Never closes or calls back synchronously.
  void send(std::string data, const Flow& to);
  // Closes the socket now and reports to the host (if still attached).
  void close(std::string_view reason);
  // For shutdown: forgets the host, then flushes queued writes (bounded by
  // kDrainTimeout) and closes.
  void detachAndDrain();

 protected:
  // The TCP socket underneath (the TLS stream's lowest layer).
  virtual boost::asio::ip::tcp::socket& socket() = 0;
  // Each completes by calling the matching handler below, exactly once.
  virtual void asyncHandshake(bool server) = 0;                  // → onHandshake
  virtual void asyncRead(boost::asio::mutable_buffer into) = 0;  // → onRead
  virtual void asyncWrite(std::span<const boost::asio::const_buffer> buffers) = 0;  // → onWrite

  void onHandshake(const boost::system::error_code& ec);
  // The reason a failed handshake closes the connection with.
  virtual std::string handshakeFailure(const boost::system::error_code& ec) const;
  // Whether `ec`, a failed handshake, was about a certificate.
  virtual bool isCertificateFailure(const boost::system::error_code&) const { return false; }
  void onRead(const boost::system::error_code& ec, std::size_t n);
  void onWrite(const boost::system::error_code& ec, std::size_t n);

 private:
  void onConnect(const boost::system::error_code& ec);
  // Frames everything buffered; false when the connection closed meanwhile.
  bool processInput();
  void readMore();
  void startWrite();
  void touch();
  void armTimer(std::chrono::steady_clock::time_point at);
  void onTimer();

  ConnectionHost* host_;  // null once detached
  std::shared_ptr<spdlog::logger> log_;
  const std::size_t maxMessageSize_;
  const std::chrono::steady_clock::duration idleTimeout_;
  Flow flow_;
  State state_ = State::Connecting;
  bool outgoing_ = false;
  bool certificateRefused_ = false;

  // Read side: bytes [head_, tail_) of buffer_ are received but not yet framed.
  std::vector<char> buffer_;
  std::size_t head_ = 0, tail_ = 0;
  std::size_t expected_ = 0;  // size of the message being received, when known

  // Write side: queue_.front() .. queue_[inFlight_-1] are being written.
  std::deque<std::string> queue_;
  std::size_t queuedBytes_ = 0;
  std::size_t inFlight_ = 0;
  std::array<boost::asio::const_buffer, tuning::kMaxWriteGather> gather_;
  std::vector<Flow> pendingFlows_;  // outgoing, before open

  // One timer for connect/handshake timeout, idle timeout and drain limit.
  // generation_ tells a stale wake-up from the current one.
  boost::asio::steady_timer timer_;
  std::uint64_t timerGeneration_ = 0;
  std::chrono::steady_clock::time_point lastActivity_;
};

// Plain TCP.
std::shared_ptr<Connection> makeTcpConnection(ConnectionHost& host, ConnectionId id,
                                              boost::asio::ip::tcp::socket socket);

}  // namespace tandem::sip::detail
