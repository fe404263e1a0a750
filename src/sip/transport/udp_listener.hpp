#pragma once
// One UDP socket (RFC 3261 §18): receives datagrams for the TransportListener
// and sends from the same socket, so that the source port of what Tandem sends
// is its listening port. Also answers STUN Binding requests and drops CRLF
// keep-alives (RFC 5626 §4.4.2). Internal to src/sip/transport.

#include "sip/transport/flow.hpp"
#include "sip/transport/transport_tuning.hpp"

#include <boost/asio/ip/udp.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace tandem::sip::detail {

class UdpListener : public std::enable_shared_from_this<UdpListener> {
 public:
  // `socket` is open, bound and non-blocking.
  UdpListener(boost::asio::ip::udp::socket socket, TransportListener& listener,
              std::shared_ptr<spdlog::logger> log);

  const core::Endpoint& local() const { return flow_.local; }
  bool isV6() const { return flow_.local.address.is_v6(); }

  void start();
  // Sends now (one sendto); when the socket buffer is full, queues it. False
  // on an immediate error (unreachable network, ...).
  bool send(const core::Endpoint& to, std::string data);
  // Closes the socket; nothing is delivered afterwards.
  void close();

 private:
  void onReadable(const boost::system::error_code& ec);
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

  boost::asio::ip::udp::socket socket_;
  TransportListener* listener_;  // null once closed
  std::shared_ptr<spdlog::logger> log_;
  Flow flow_;  // Udp and the local address; remote is set per datagram
  std::unique_ptr<Slots> slots_;
};

}  // namespace tandem::sip::detail
