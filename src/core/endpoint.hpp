#pragma once
// An IP address and port. Used by every layer that names a network peer.

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// The address a host written in a URI or Via names when it is an IP literal
// ("192.0.2.1", "[2001:db8::1]", also "2001:db8::1" unbracketed), nullopt for
// a host name or anything else. Dotted quads are read here, exactly as
// inet_pton() reads them (four decimal octets, no leading zeros); only IPv6
// goes through the library. Hosts are checked per message on the request
// path, where make_address() (a std::string, two parse attempts) showed up.
std::optional<boost::asio::ip::address> parseIpLiteral(std::string_view host);

// An IPv4-mapped IPv6 address (::ffff:192.0.2.1, what a dual-stack socket
// reports for IPv4 peers) as the IPv4 address it is; others unchanged.
boost::asio::ip::address unmapped(const boost::asio::ip::address& a);

}  // namespace tandem::core
