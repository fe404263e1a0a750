#include "core/endpoint.hpp"

#include <array>
#include <charconv>

namespace tandem::core {

namespace {

// Appends a dotted quad (what inet_ntop writes, without its sprintf).
void appendV4(std::string& out, const boost::asio::ip::address_v4& a) {
  const auto bytes = a.to_bytes();
  char buffer[16];
  char* p = buffer;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) *p++ = '.';
    p = std::to_chars(p, buffer + sizeof buffer, bytes[i]).ptr;
  }
  out.append(buffer, p);
}

void appendHost(std::string& out, const boost::asio::ip::address& a) {
  if (a.is_v4()) return appendV4(out, a.to_v4());
  out.push_back('[');
  out.append(a.to_string());
  out.push_back(']');
}

}  // namespace

std::string Endpoint::hostForUri() const {
  std::string out;
  appendHost(out, address);
  return out;
}

std::string Endpoint::toString() const {
  std::string out;
  out.reserve(22);
  appendHost(out, address);
  char buffer[8] = {':'};
  out.append(buffer, std::to_chars(buffer + 1, buffer + sizeof buffer, port).ptr);
  return out;
}

boost::asio::ip::address unmapped(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

std::optional<boost::asio::ip::address> parseIpLiteral(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.find(':') != std::string_view::npos) {
    boost::system::error_code ec;
    const auto v6 = boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return std::nullopt;
    return boost::asio::ip::address(v6);
  }
  // inet_pton4: 1-3 digits per octet, at most 255, no leading zero.
  std::array<unsigned char, 4> bytes{};
  std::size_t octet = 0;
  std::size_t digits = 0;
  unsigned value = 0;
  for (const char c : host) {
    if (c >= '0' && c <= '9') {
      if (digits == 1 && value == 0) return std::nullopt;  // leading zero
      value = value * 10 + static_cast<unsigned>(c - '0');
      if (value > 255) return std::nullopt;
      ++digits;
    } else if (c == '.' && digits != 0 && octet < 3) {
      bytes[octet++] = static_cast<unsigned char>(value);
      value = 0;
      digits = 0;
    } else {
      return std::nullopt;
    }
  }
  if (octet != 3 || digits == 0) return std::nullopt;
  bytes[3] = static_cast<unsigned char>(value);
  return boost::asio::ip::address(boost::asio::ip::address_v4(bytes));
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
