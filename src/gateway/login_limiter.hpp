#pragma once
// Slows down password guessing on the site protocol: after `maxFailures`
// failed logins from one source within `window`, further logins from it are
// refused without looking at the credentials until the window (counted from
// the first failure) has passed. A successful login does not clear the count:
// a guesser who also owns one valid account gains nothing.
//
// A source is an IPv4 address, or an IPv6 /64: one host is usually given a
// whole /64 (RFC 7421), so counting single IPv6 addresses would let it pick a
// fresh one per guess. IPv4-mapped IPv6 addresses count as their IPv4 address.
//
// Bounded: at most `maxTracked` sources are remembered. When full, expired
// entries go first, then sources that are not refused (fewest failures, oldest
// first), refused ones last: a guesser cannot free itself by filling the
// table from other addresses. Room is made an eighth of the table at a time,
// so the scan that finds it is paid once per many insertions.

#include "core/timer_service.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace tandem::gateway {

class LoginLimiter {
 public:
  LoginLimiter(int maxFailures, core::Millis window, std::size_t maxTracked = 65536);

  // Zero when `address` may try to log in now; otherwise how long it must wait.
  core::Millis retryAfter(const boost::asio::ip::address& address,
                          core::Clock::time_point now) const;
  // Counts a failure. True when it is the one that starts the refusals (once
  // per window: the moment worth a log line).
  bool failed(const boost::asio::ip::address& address, core::Clock::time_point now);

  // The source `address` is counted under, for logs: "192.0.2.1", "2001:db8::/64".
  static std::string describe(const boost::asio::ip::address& address);

  std::size_t tracked() const { return entries_.size(); }

 private:
  struct Entry {
    core::Clock::time_point first;  // the window's start
    int failures = 0;
  };
  // 4 bytes (IPv4) or 8 (the /64 of IPv6): short enough to stay in the
  // string's own buffer.
  static std::string keyFor(const boost::asio::ip::address& address);
  void makeRoom(core::Clock::time_point now);

  int maxFailures_;
  core::Millis window_;
  std::size_t maxTracked_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace tandem::gateway
