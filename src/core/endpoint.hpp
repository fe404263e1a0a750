#pragma once
// An IP address and port. Used by every layer that names a network peer.

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>

namespace tandem::core {

struct Endpoint {
  boost::asio::ip::address address;
  std::uint16_t port = 0;

  // "1.2.3.4:5060" or "[::1]:5060".
  std::string toString() const;
  // Host part as it is written in a SIP URI or Via: IPv6 in brackets.
  std::string hostForUri() const;
  // The same endpoint with a wildcard address (0.0.0.0, ::) replaced by
  // loopback of its family: what a server listening on all addresses can put
  // in a Via or Record-Route when told nothing better (right on one machine).
  Endpoint withLoopbackForWildcard() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace tandem::core
