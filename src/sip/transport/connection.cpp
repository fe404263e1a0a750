#include "sip/transport/connection.hpp"

#include <spdlog/logger.h>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

namespace tandem::sip::detail {
namespace asio = boost::asio;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

Connection::Connection(ConnectionHost& host, ConnectionId id, Transport transport,
                       const asio::any_io_executor& executor)
    : host_(&host),
      log_(host.log()),
      maxMessageSize_(host.options().maxMessageSize),
      idleTimeout_(host.options().idleTimeout),
      flow_{transport, {}, {}, id},
      timer_(executor) {}

Connection::~Connection() = default;

void Connection::startAccepted(const core::Endpoint& remote, const core::Endpoint& local) {
  flow_.remote = remote;
  flow_.local = local;
  state_ = State::Handshaking;
  error_code ignored;
  socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  armTimer(SteadyClock::now() +
           std::min<SteadyClock::duration>(tuning::kConnectTimeout, idleTimeout_));
  asyncHandshake(true);
}

void Connection::startConnect(const core::Endpoint& remote) {
  outgoing_ = true;
  flow_.remote = remote;
  state_ = State::Connecting;
  armTimer(SteadyClock::now() +
           std::min<SteadyClock::duration>(tuning::kConnectTimeout, idleTimeout_));
  socket().async_connect(
      asio::ip::tcp::endpoint(remote.address, remote.port),
      [this, self = shared_from_this()](const error_code& ec) { onConnect(ec); });
}

void Connection::onConnect(const error_code& ec) {
  if (state_ != State::Connecting) return;
  if (ec) {
    close("connect failed: " + ec.message());
    return;
  }
  error_code ignored;
  socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  const auto local = socket().local_endpoint(ignored);
  flow_.local = core::Endpoint{local.address(), local.port()};
  if (flow_.local == flow_.remote) {
    // TCP simultaneous open with itself: the remote port was free and the
    // kernel picked it as our ephemeral port. Nobody listens there.
    close("connected to itself");
    return;
  }
  state_ = State::Handshaking;
  asyncHandshake(false);
}

const std::vector<std::string>& Connection::peerIdentities() const {
  static const std::vector<std::string> none;
  return none;
}

bool Connection::mayCarry(const Flow& /*to*/) const {
  return true;
}

std::string Connection::handshakeFailure(const error_code& ec) const {
  return "handshake failed: " + ec.message();
}

void Connection::onHandshake(const error_code& ec) {
  if (state_ != State::Handshaking) return;
  if (ec) {
    certificateRefused_ = isCertificateFailure(ec);
    close(handshakeFailure(ec));
    return;
  }
  state_ = State::Open;
  pendingFlows_ = {};
  if (log_->should_log(spdlog::level::debug)) {
    std::string names;
    for (const auto& identity : peerIdentities())
      names += (names.empty() ? "; peer certificate names " : ", ") + identity;
    log_->debug("{} connection {} open: {} ({}{})", transportName(flow_.transport),
                flow_.connection, flow_.remote.toString(), outgoing_ ? "outgoing" : "accepted",
                names);
  }
  touch();
  armTimer(lastActivity_ + idleTimeout_);
  readMore();
  if (!queue_.empty() && inFlight_ == 0) startWrite();
}

// ---- Reading ---------------------------------------------------------------

void Connection::readMore() {
  if (buffer_.empty()) buffer_.resize(tuning::kStreamInitialBuffer);
  if (buffer_.size() - tail_ < tuning::kStreamMinReadSpace) {
    if (head_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + head_, tail_ - head_);
      tail_ -= head_;
      head_ = 0;
    }
    // After processInput() fewer than maxMessageSize bytes stay unframed, so
    // the buffer never grows much beyond that.
    if (buffer_.size() - tail_ < tuning::kStreamMinReadSpace) {
      buffer_.resize(std::max(buffer_.size() * 2, tail_ + tuning::kStreamMinReadSpace));
    }
  }
  asyncRead(asio::buffer(buffer_.data() + tail_, buffer_.size() - tail_));
}

void Connection::onRead(const error_code& ec, std::size_t n) {
  if (state_ != State::Open) return;  // Draining reads no more; Closed is done
  if (ec) {
    close(ec == asio::error::eof ? std::string("closed by peer") : "read failed: " + ec.message());
    return;
  }
  touch();
  tail_ += n;
  if (!processInput()) return;
  readMore();
}

bool Connection::processInput() {
  while (head_ < tail_) {
    const std::string_view pending(buffer_.data() + head_, tail_ - head_);
    if (pending.size() < expected_) break;  // the body is still arriving
    const FrameResult frame = frameStream(pending, maxMessageSize_);
    switch (frame.kind) {
      case FrameResult::Kind::NeedMore:
        expected_ = frame.expected;
        return true;
      case FrameResult::Kind::KeepAlive:
        head_ += frame.consumed;
        if (frame.pong) send(std::string("\r\n"), flow_);
        break;
      case FrameResult::Kind::Message: {
        expected_ = 0;
        std::string message(pending.substr(0, frame.consumed));
        head_ += frame.consumed;
        if (host_ != nullptr) host_->connectionMessage(*this, std::move(message));
        // The listener may have shut the layer down or closed us.
        if (state_ != State::Open) return false;
        break;
      }
      case FrameResult::Kind::Error:
        log_->warn("{} connection {} from {}: {}; closing", transportName(flow_.transport),
                   flow_.connection, flow_.remote.toString(), frame.error);
        close(frame.error);
        return false;
    }
  }
  if (head_ == tail_) head_ = tail_ = 0;
  return true;
}

// ---- Writing ---------------------------------------------------------------

void Connection::send(std::string data, const Flow& to) {
  if (!usable()) return;
  queuedBytes_ += data.size();
  queue_.push_back(std::move(data));
  if (queuedBytes_ > tuning::kMaxQueuedBytes) {
    // Deferred: send() must not call back into the listener.
    log_->warn("{} connection {} to {}: {} bytes queued, peer not reading; closing",
               transportName(flow_.transport), flow_.connection, flow_.remote.toString(),
               queuedBytes_);
    asio::post(timer_.get_executor(),
               [self = shared_from_this()] { self->close("write queue overflow"); });
    return;
  }
  if (state_ != State::Open) {
    if (outgoing_ &&
        std::find(pendingFlows_.begin(), pendingFlows_.end(), to) == pendingFlows_.end()) {
      pendingFlows_.push_back(to);
    }
    return;
  }
  if (inFlight_ == 0) startWrite();
}

void Connection::startWrite() {
  const std::size_t n = std::min(queue_.size(), gather_.size());
  for (std::size_t i = 0; i < n; ++i)
    gather_[i] = asio::buffer(queue_[i]);
  inFlight_ = n;
  asyncWrite(std::span<const asio::const_buffer>(gather_.data(), n));
}

void Connection::onWrite(const error_code& ec, std::size_t /*n*/) {
  if (state_ == State::Closed) return;  // queue_ is released with the object
  if (ec) {
    close("write failed: " + ec.message());
    return;
  }
  touch();
  for (; inFlight_ > 0; --inFlight_) {
    queuedBytes_ -= queue_.front().size();
    queue_.pop_front();
  }
  if (!queue_.empty()) {
    startWrite();
  } else if (state_ == State::Draining) {
    close("shutdown");
  }
}

// ---- Timers and closing ------------------------------------------------------

void Connection::touch() {
  lastActivity_ = SteadyClock::now();
}

void Connection::armTimer(SteadyClock::time_point at) {
  const auto generation = ++timerGeneration_;
  timer_.expires_at(at);
  timer_.async_wait([this, self = shared_from_this(), generation](const error_code& ec) {
    if (ec || generation != timerGeneration_) return;
    onTimer();
  });
}

void Connection::onTimer() {
  switch (state_) {
    case State::Connecting:
      close("connect timeout");
      break;
    case State::Handshaking:
      close("handshake timeout");
      break;
    case State::Open:
      // Activity only moves lastActivity_; the timer is re-armed lazily here
      // instead of on every read and write.
      if (SteadyClock::now() - lastActivity_ >= idleTimeout_) {
        close("idle timeout");
      } else {
        armTimer(lastActivity_ + idleTimeout_);
      }
      break;
    case State::Draining:
      close("shutdown (drain timeout)");
      break;
    case State::Closed:
      break;
  }
}

void Connection::close(std::string_view reason) {
  if (state_ == State::Closed) return;
  const auto self = shared_from_this();  // the host drops its reference below
  const bool wasOpen = state_ == State::Open || state_ == State::Draining;
  state_ = State::Closed;
  ++timerGeneration_;
  timer_.cancel();
  error_code ignored;
  socket().close(ignored);
  log_->debug("{} connection {} to {} closed: {}", transportName(flow_.transport), flow_.connection,
              flow_.remote.toString(), reason);
  if (host_ == nullptr) return;
  ConnectionHost* host = std::exchange(host_, nullptr);
  std::vector<Flow> failed;
  if (!wasOpen && outgoing_) failed.swap(pendingFlows_);
  host->connectionClosed(*this, wasOpen, failed, reason);
}

void Connection::detachAndDrain() {
  host_ = nullptr;
  if (state_ == State::Open && (inFlight_ > 0 || !queue_.empty())) {
    state_ = State::Draining;
    armTimer(SteadyClock::now() + tuning::kDrainTimeout);
    if (inFlight_ == 0) startWrite();
    return;
  }
  close("shutdown");
}

// ---- Plain TCP -------------------------------------------------------------

namespace {

class TcpConnection final : public Connection {
 public:
  TcpConnection(ConnectionHost& host, ConnectionId id, asio::ip::tcp::socket socket)
      : Connection(host, id, Transport::Tcp, socket.get_executor()), socket_(std::move(socket)) {}

 protected:
  asio::ip::tcp::socket& socket() override { return socket_; }
  void asyncHandshake(bool /*server*/) override { onHandshake({}); }
  void asyncRead(asio::mutable_buffer into) override {
    socket_.async_read_some(into, [this, self = shared_from_this()](
                                      const error_code& ec, std::size_t n) { onRead(ec, n); });
  }
  void asyncWrite(std::span<const asio::const_buffer> buffers) override {
    asio::async_write(
        socket_, buffers,
        [this, self = shared_from_this()](const error_code& ec, std::size_t n) { onWrite(ec, n); });
  }

 private:
  asio::ip::tcp::socket socket_;
};

}  // namespace

std::shared_ptr<Connection> makeTcpConnection(ConnectionHost& host, ConnectionId id,
                                              asio::ip::tcp::socket socket) {
  return std::make_shared<TcpConnection>(host, id, std::move(socket));
}

}  // namespace tandem::sip::detail
