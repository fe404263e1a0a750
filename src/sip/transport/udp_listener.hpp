#pragma once
// One UDP socket (RFC 3261 §18): receives datagrams for the TransportListener
// and sends from the same socket, so that the source port of what Tandem sends
// is its listening port. Also answers STUN Binding requests and drops CRLF
// keep-alives (RFC 5626 §4.4.2). Internal to src/sip/transport.
//
// Under load it works in batches: a wake-up reads up to kUdpSlots datagrams
// with one recvmmsg(), the answers they cause leave together with one
// sendmmsg(), and while datagrams come close together the next read waits
// `batchDelay` for more to gather instead of sleeping in the reactor until the
// next one (see scheduleRead()).
// That trades up to `batchDelay` of latency, only while busy, for far fewer
// system calls and wake-ups per message.
//
// For the pause to save wake-ups the socket must not wake the loop during
// it, and a socket in Asio's reactor would: Asio registers every descriptor
// for input once, edge-triggered, so each arriving datagram wakes a loop
// sleeping in epoll_wait() whether or not a read is pending. So the socket is
// not in Asio's reactor. It sits in an epoll instance of its own, level-
// triggered, and that instance is what the reactor watches; a pause takes
// the socket's interest away and the end of pausing gives it back (one
// epoll_ctl() each). On a virtual machine a wake-up costs the woken process
// several microseconds, about what the work for a REGISTER costs.

#include "sip/transport/flow.hpp"
#include "sip/transport/transport_tuning.hpp"

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace tandem::sip::detail {

class UdpListener : public std::enable_shared_from_this<UdpListener> {
 public:
  // `socket` is open, bound and non-blocking; the listener takes its
  // descriptor out of Asio. `batchDelay` 0 reads as soon as a datagram
  // arrives, always. Throws std::system_error when no epoll instance can be
  // made.
  UdpListener(boost::asio::ip::udp::socket socket, TransportListener& listener,
              std::shared_ptr<spdlog::logger> log, std::chrono::microseconds batchDelay);
  ~UdpListener();
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  const core::Endpoint& local() const { return flow_.local; }
  bool isV6() const { return flow_.local.address.is_v6(); }

  void start();
  // Sends one datagram. While this socket is handling a batch it received, a
  // `deferrable` datagram waits for the end of the batch and leaves with the
  // others in one sendmmsg(); its failure is then logged, not returned (as
  // for a datagram lost on the way). Otherwise it leaves now, behind any that
  // wait, and false means an immediate error (unreachable network, ...).
  // When the socket buffer is full, the datagram waits for it to drain.
  bool send(const core::Endpoint& to, std::string data, bool deferrable);
  // Closes the socket; nothing is delivered afterwards.
  void close();

 private:
  // Sets what the socket's registration in its epoll instance asks for (0
  // while pausing); a system call only when that changes.
  void setInterest(std::uint32_t events);
  // Input, and output while datagrams wait for room (blocked_).
  std::uint32_t wanted() const;
  // The socket's epoll instance reported: reads (and sends what waited).
  void onReady(const boost::system::error_code& ec);
  // Reads what is queued (after onReady(), a pause, or a full batch).
  void onReadable();
  // After a read that took `total` datagrams, `sinceLast` after the read
  // before began: read on at once, in batchDelay_ (pausing), or when the
  // reactor reports more.
  void scheduleRead(int total, std::chrono::microseconds sinceLast);
  // Sends what waits (sendmmsg); whether the last of it left.
  bool flush();
  // Queues a datagram the socket had no room for, until it has (sendBlocked()).
  void sendWhenWritable(const boost::asio::ip::udp::endpoint& to, std::string data);
  void sendBlocked();
  // One received datagram: a message for the listener, a STUN request to
  // answer, or a keep-alive to drop.
  void deliver(char* data, std::size_t n, const boost::asio::ip::udp::endpoint& sender);
  // Answers a STUN Binding request (RFC 5626 §4.4.2).
  void answerStun(const char* data, std::size_t n, const boost::asio::ip::udp::endpoint& sender);

  // recvmmsg() state: one buffer, address and header per datagram slot. The
  // buffers are address space only until a datagram that large arrives.
  struct Slots {
    char buffers[tuning::kUdpSlots * tuning::kMaxDatagram];
    boost::asio::ip::udp::endpoint senders[tuning::kUdpSlots];
    iovec iov[tuning::kUdpSlots];
    mmsghdr headers[tuning::kUdpSlots];
  };

  int fd_ = -1;                  // the UDP socket, outside Asio (see the class comment)
  TransportListener* listener_;  // null once closed
  std::shared_ptr<spdlog::logger> log_;
  Flow flow_;  // Udp and the local address; remote is set per datagram
  std::unique_ptr<Slots> slots_;

  // Datagrams to send: while a received batch is handled (delivering_), those
  // that may wait, sent by flush() at its end; otherwise just the one send()
  // is sending. Never longer than tuning::kUdpSendBatch.
  struct Outgoing {
    boost::asio::ip::udp::endpoint to;
    std::string data;
  };
  std::vector<Outgoing> outgoing_;
  bool delivering_ = false;
  // Datagrams the socket buffer had no room for, oldest first.
  std::deque<Outgoing> blocked_;

  // The epoll instance holding fd_, as the reactor sees it; closed by close().
  boost::asio::posix::stream_descriptor ready_;
  std::uint32_t interest_ = 0;  // the events fd_'s registration asks for

  // Read pacing (see the class comment).
  const std::chrono::microseconds batchDelay_;
  boost::asio::steady_timer paceTimer_;
  std::chrono::steady_clock::time_point lastRead_{};  // when the last read began
  // Average time between arriving datagrams (the time between the starts of
  // two reads over the datagrams the second one read).
  std::chrono::microseconds spacing_ = batchDelay_;
};

}  // namespace tandem::sip::detail
