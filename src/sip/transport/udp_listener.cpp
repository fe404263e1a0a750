#include "sip/transport/udp_listener.hpp"

#include "sip/transport/transport_tuning.hpp"

#include <spdlog/logger.h>

#include <boost/asio/post.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

namespace tandem::sip::detail {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// RFC 5626 §4.4.1 keep-alives and stray padding: datagrams with nothing but
// CR, LF, SP or HTAB carry no message and get no answer.
bool isBlank(const char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const char c = data[i];
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') return false;
  }
  return true;
}

// STUN keep-alives on UDP flows (RFC 5626 §4.4.2, §8.4): a Binding request on
// the SIP port gets a Binding success response with XOR-MAPPED-ADDRESS, so the
// UA learns its NAT binding and sees that the flow is alive. RFC 5389 §6:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |0 0|     STUN Message Type     |         Message Length        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                         Magic Cookie                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                     Transaction ID (96 bits)                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// XOR-MAPPED-ADDRESS (§15.2): 0x00, family (1: IPv4, 2: IPv6), port XOR the
// cookie's high 16 bits, address XOR the cookie (IPv4) or cookie + transaction
// ID (IPv6). Attributes of the request (FINGERPRINT, SOFTWARE) are ignored.
constexpr std::size_t kStunHeader = 20;
constexpr std::uint8_t kCookie[4] = {0x21, 0x12, 0xA4, 0x42};

// SIP messages start with a letter; STUN with two zero bits (RFC 7983).
bool looksLikeStun(const char* data, std::size_t n) {
  return n > 0 && (static_cast<std::uint8_t>(data[0]) & 0xC0) == 0;
}

// The response to a Binding request, or 0 bytes if `request` is not one.
std::size_t stunBindingResponse(const std::uint8_t* request, std::size_t n,
                                const asio::ip::udp::endpoint& sender, std::uint8_t* out) {
  if (n < kStunHeader || request[0] != 0x00 || request[1] != 0x01) return 0;
  if (std::memcmp(request + 4, kCookie, 4) != 0) return 0;
  if ((static_cast<std::size_t>(request[2]) << 8 | request[3]) != n - kStunHeader) return 0;

  const bool v6 = sender.address().is_v6();
  const std::size_t addressSize = v6 ? 16 : 4;
  const std::size_t attributeSize = 4 + 4 + addressSize;
  out[0] = 0x01;  // Binding success response
  out[1] = 0x01;
  out[2] = 0;
  out[3] = static_cast<std::uint8_t>(attributeSize);
  std::memcpy(out + 4, request + 4, 16);  // cookie and transaction ID
  std::uint8_t* a = out + kStunHeader;
  a[0] = 0x00;  // XOR-MAPPED-ADDRESS
  a[1] = 0x20;
  a[2] = 0;
  a[3] = static_cast<std::uint8_t>(4 + addressSize);
  a[4] = 0;
  a[5] = v6 ? 0x02 : 0x01;
  a[6] = static_cast<std::uint8_t>((sender.port() >> 8) ^ kCookie[0]);
  a[7] = static_cast<std::uint8_t>((sender.port() & 0xFF) ^ kCookie[1]);
  if (v6) {
    const auto bytes = sender.address().to_v6().to_bytes();
    for (std::size_t i = 0; i < 16; ++i)
      a[8 + i] = bytes[i] ^ out[4 + i];
  } else {
    const auto bytes = sender.address().to_v4().to_bytes();
    for (std::size_t i = 0; i < 4; ++i)
      a[8 + i] = bytes[i] ^ kCookie[i];
  }
  return kStunHeader + attributeSize;
}

}  // namespace

UdpListener::UdpListener(asio::ip::udp::socket socket, TransportListener& listener,
                         std::shared_ptr<spdlog::logger> log, std::chrono::microseconds batchDelay)
    : listener_(&listener),
      log_(std::move(log)),
      slots_(std::make_unique_for_overwrite<Slots>()),
      ready_(socket.get_executor()),
      batchDelay_(batchDelay),
      paceTimer_(socket.get_executor()) {
  outgoing_.reserve(tuning::kUdpSendBatch);
  for (std::size_t i = 0; i < tuning::kUdpSlots; ++i) {
    slots_->iov[i].iov_base = slots_->buffers + i * tuning::kMaxDatagram;
    slots_->iov[i].iov_len = tuning::kMaxDatagram;
    slots_->headers[i] = {};
    slots_->headers[i].msg_hdr.msg_iov = &slots_->iov[i];
    slots_->headers[i].msg_hdr.msg_iovlen = 1;
  }
  error_code ignored;
  const auto local = socket.local_endpoint(ignored);
  flow_.transport = Transport::Udp;
  flow_.local = core::Endpoint{local.address(), local.port()};

  // The socket leaves Asio's reactor (see the class comment): its readiness
  // reaches the loop only through the epoll instance in ready_, and only
  // while it has interest there.
  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  ready_.assign(epoll);
  fd_ = socket.release();
  epoll_event ev{};
  ev.events = 0;  // registered, no interest until start()
  ev.data.fd = fd_;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd_, &ev) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::system_error(err, std::generic_category(), "epoll_ctl");
  }
}

UdpListener::~UdpListener() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpListener::setInterest(std::uint32_t events) {
  if (events == interest_) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd_;
  // Level-triggered: a datagram already queued reports at once.
  if (::epoll_ctl(ready_.native_handle(), EPOLL_CTL_MOD, fd_, &ev) != 0) {
    log_->error("UDP {}: cannot wait for the socket: {}", flow_.local.toString(),
                std::strerror(errno));
    return;
  }
  interest_ = events;
}

std::uint32_t UdpListener::wanted() const {
  return EPOLLIN | (blocked_.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
}

void UdpListener::start() {
  setInterest(wanted());
  ready_.async_wait(asio::posix::descriptor_base::wait_read,
                    [self = shared_from_this()](const error_code& ec) { self->onReady(ec); });
}

void UdpListener::onReady(const error_code& ec) {
  if (listener_ == nullptr || ec == asio::error::operation_aborted) return;
  if (ec) log_->warn("UDP {}: wait failed: {}", flow_.local.toString(), ec.message());
  onReadable();
}

// Readiness, then recvmmsg() batches of up to kUdpSlots datagrams, up to
// kUdpReadBatch per readiness event. A batch that comes back short means the
// queue was empty at that moment: the reactor reports any datagram that
// arrives later (or is already there when start() registers interest again),
// so no extra read has to see EAGAIN first (one system call fewer per
// wake-up, which is most of them at moderate load).
// Unconnected UDP sockets get no ICMP errors (no IP_RECVERR), so a short batch
// is not an error left pending in front of more data. What the datagrams of a
// batch cause to be sent waits for the end of the batch (flush()).
void UdpListener::onReadable() {
  if (listener_ == nullptr) return;
  // What waited for room goes first: at every wake-up, paused or not (a
  // socket paced without end is never handed back to the reactor).
  if (!blocked_.empty()) sendBlocked();
  const int fd = fd_;
  int total = 0;
  // Time since the last read began, for scheduleRead()'s estimate.
  std::chrono::microseconds sinceLast{0};
  if (batchDelay_.count() > 0) {
    const auto now = std::chrono::steady_clock::now();
    sinceLast = std::chrono::duration_cast<std::chrono::microseconds>(now - lastRead_);
    lastRead_ = now;
  }
  while (total < tuning::kUdpReadBatch) {
    for (std::size_t i = 0; i < tuning::kUdpSlots; ++i) {
      auto& h = slots_->headers[i].msg_hdr;
      h.msg_name = slots_->senders[i].data();
      h.msg_namelen = static_cast<socklen_t>(slots_->senders[i].capacity());
      h.msg_flags = 0;
    }
    const int n = ::recvmmsg(fd, slots_->headers, tuning::kUdpSlots, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log_->debug("UDP {}: receive failed: {}", flow_.local.toString(), std::strerror(errno));
        ++total;  // consumed an error; keep reading what may be behind it
        continue;
      }
      break;
    }
    delivering_ = true;
    for (int i = 0; i < n; ++i) {
      auto& sender = slots_->senders[i];
      sender.resize(slots_->headers[i].msg_hdr.msg_namelen);
      deliver(slots_->buffers + static_cast<std::size_t>(i) * tuning::kMaxDatagram,
              slots_->headers[i].msg_len, sender);
      if (listener_ == nullptr) return;  // the listener shut the layer down (close() flushed)
    }
    delivering_ = false;
    flush();
    total += n;
    if (static_cast<std::size_t>(n) < tuning::kUdpSlots) break;
  }
  scheduleRead(total, sinceLast);
}

// While datagrams arrive closely enough that a pause of batchDelay_ is
// expected to gather kUdpPauseGather of them, the socket is read after such a
// pause instead of at each arrival: one timer wake-up then serves what would
// have been several reactor wake-ups, and their answers leave together. The
// socket is disarmed during a pause, so arrivals do not wake the loop (see the
// class comment). The expectation comes from an average of the time per
// datagram over the last few reads, whatever woke them; a pause that gathers
// little raises that average and so ends pausing. A pause costs a timer
// wake-up and two epoll_ctl() calls: for one or two datagrams that is more
// than the reactor's wake-ups it replaces (measured: +22 % CPU per REGISTER
// at 500 REGISTERs/s with 2 ms pauses taken whenever wake-ups came quicker).
void UdpListener::scheduleRead(int total, std::chrono::microseconds sinceLast) {
  if (total >= tuning::kUdpReadBatch) {
    // Yield to other handlers, then read on: more may be queued.
    asio::post(ready_.get_executor(), [self = shared_from_this()] { self->onReadable(); });
    return;
  }
  if (batchDelay_.count() > 0) {
    const auto sample =
        std::min<std::chrono::microseconds>(sinceLast / std::max(total, 1), 16 * batchDelay_);
    spacing_ += (sample - spacing_) / 4;
    if (spacing_ * tuning::kUdpPauseGather <= batchDelay_) {
      setInterest(0);  // arrivals must not wake the loop now
      paceTimer_.expires_after(batchDelay_);
      paceTimer_.async_wait([self = shared_from_this()](const error_code& e) {
        if (e || self->listener_ == nullptr) return;
        self->onReadable();
      });
      return;
    }
  }
  start();
}

void UdpListener::deliver(char* data, std::size_t n, const asio::ip::udp::endpoint& sender) {
  if (isBlank(data, n)) return;
  if (looksLikeStun(data, n)) {
    answerStun(data, n, sender);
    return;
  }
  flow_.remote = core::Endpoint{sender.address(), sender.port()};
  try {
    listener_->onMessage(std::string(data, n), flow_);
  } catch (const std::exception& e) {
    // Must not unwind through Asio and stop the loop for everyone else.
    log_->error("TransportListener::onMessage threw: {}", e.what());
  }
}

void UdpListener::answerStun(const char* data, std::size_t n,
                             const asio::ip::udp::endpoint& sender) {
  std::uint8_t response[kStunHeader + 24];
  const std::size_t size =
      stunBindingResponse(reinterpret_cast<const std::uint8_t*>(data), n, sender, response);
  if (size == 0) return;  // other STUN messages, or noise: dropped
  // Best effort, like the keep-alive itself.
  ::sendto(fd_, response, size, MSG_DONTWAIT, sender.data(), static_cast<socklen_t>(sender.size()));
}

bool UdpListener::send(const core::Endpoint& to, std::string data, bool deferrable) {
  outgoing_.push_back({asio::ip::udp::endpoint(to.address, to.port), std::move(data)});
  if (delivering_ && deferrable && outgoing_.size() < tuning::kUdpSendBatch) return true;
  // Outside a batch this is the only datagram waiting: one sendmmsg() of one
  // costs what a sendto() does. Inside, it leaves last, behind those queued.
  const bool sent = flush();
  return (delivering_ && deferrable) || sent;
}

bool UdpListener::flush() {
  bool lastSent = true;
  std::size_t next = 0;
  while (next < outgoing_.size()) {
    mmsghdr headers[tuning::kUdpSendBatch];
    iovec iov[tuning::kUdpSendBatch];
    const std::size_t count = std::min(outgoing_.size() - next, tuning::kUdpSendBatch);
    for (std::size_t i = 0; i < count; ++i) {
      auto& out = outgoing_[next + i];
      iov[i].iov_base = out.data.data();
      iov[i].iov_len = out.data.size();
      headers[i] = {};
      headers[i].msg_hdr.msg_name = out.to.data();
      headers[i].msg_hdr.msg_namelen = static_cast<socklen_t>(out.to.size());
      headers[i].msg_hdr.msg_iov = &iov[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(fd_, headers, static_cast<unsigned>(count), MSG_DONTWAIT);
    if (sent > 0) {
      next += static_cast<std::size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Rare (send buffer full): these go one by one when it drains.
      for (; next < outgoing_.size(); ++next)
        sendWhenWritable(outgoing_[next].to, std::move(outgoing_[next].data));
      break;
    }
    // sendmmsg() reports an error for the first datagram it could not send
    // (after a partial success, on the call that retries from there).
    const auto& failed = outgoing_[next];
    log_->debug("UDP send to {} failed: {}",
                core::Endpoint{failed.to.address(), failed.to.port()}.toString(),
                sent < 0 ? std::strerror(errno) : "nothing sent");
    if (next + 1 == outgoing_.size()) lastSent = false;
    ++next;
  }
  outgoing_.clear();
  return lastSent;
}

void UdpListener::sendWhenWritable(const asio::ip::udp::endpoint& to, std::string data) {
  blocked_.push_back({to, std::move(data)});
  // Waiting for datagrams already: wait for room too. Otherwise (pausing)
  // the next start() asks for it, after batchDelay_ at most.
  if (interest_ != 0) setInterest(wanted());
}

void UdpListener::sendBlocked() {
  while (!blocked_.empty()) {
    const auto& out = blocked_.front();
    const auto sent = ::sendto(fd_, out.data.data(), out.data.size(), MSG_DONTWAIT, out.to.data(),
                               static_cast<socklen_t>(out.to.size()));
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // still full
    if (sent < 0) {
      log_->debug("UDP send to {} failed: {}",
                  core::Endpoint{out.to.address(), out.to.port()}.toString(), std::strerror(errno));
    }
    blocked_.pop_front();
  }
}

void UdpListener::close() {
  listener_ = nullptr;
  delivering_ = false;
  flush();  // best effort, like the rest of a shutdown
  error_code ignored;
  paceTimer_.cancel();
  ready_.close(ignored);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace tandem::sip::detail
