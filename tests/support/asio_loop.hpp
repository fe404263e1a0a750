#pragma once
// Running a real io_context in tests: until a condition holds, or for a while.
// Shared by the transport and web tests.

#include "core/endpoint.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <functional>

namespace tandem::testkit {

inline core::Endpoint loopback(std::uint16_t port = 0) {
  return {boost::asio::ip::make_address("127.0.0.1"), port};
}

// Runs `io` until `done` holds; false after `timeout`.
inline bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(2));
  }
  return true;
}

inline void runFor(boost::asio::io_context& io, std::chrono::milliseconds d) {
  runUntil(
      io, [] { return false; }, d);
}

}  // namespace tandem::testkit
