#include "sip/transport/flow.hpp"

#include <array>

namespace tandem::sip {
namespace {

constexpr std::array<std::string_view, 5> kNames = {"UDP", "TCP", "TLS", "WS", "WSS"};

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != b[i]) return false;  // kNames are upper case
  }
  return true;
}

}  // namespace

std::string_view transportName(Transport t) {
  const auto index = static_cast<std::size_t>(t);
  return index < kNames.size() ? kNames[index] : std::string_view("UDP");
}

std::optional<Transport> transportFromName(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (equalsIgnoreCase(name, kNames[i])) return static_cast<Transport>(i);
  }
  return std::nullopt;
}

}  // namespace tandem::sip
