#include "core/endpoint.hpp"

namespace tandem::core {

std::string Endpoint::hostForUri() const {
  if (address.is_v6()) return "[" + address.to_string() + "]";
  return address.to_string();
}

std::string Endpoint::toString() const {
  return hostForUri() + ":" + std::to_string(port);
}

}  // namespace tandem::core
