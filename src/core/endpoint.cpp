#include "core/endpoint.hpp"

namespace tandem::core {

std::string Endpoint::hostForUri() const {
  if (address.is_v6()) return "[" + address.to_string() + "]";
  return address.to_string();
}

std::string Endpoint::toString() const {
  return hostForUri() + ":" + std::to_string(port);
}

Endpoint Endpoint::withLoopbackForWildcard() const {
  Endpoint out = *this;
  if (address.is_unspecified()) {
    out.address = address.is_v6()
                      ? boost::asio::ip::address(boost::asio::ip::address_v6::loopback())
                      : boost::asio::ip::address(boost::asio::ip::address_v4::loopback());
  }
  return out;
}

}  // namespace tandem::core
