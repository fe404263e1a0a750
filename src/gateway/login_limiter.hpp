#pragma once
// Slows down password guessing on the site protocol: after `maxFailures`
// failed logins from one IP address within `window`, further logins from that
// address are refused without looking at the credentials until the window
// (counted from the first failure) has passed. A successful login does not
// clear the count: a guesser who also owns one valid account gains nothing.
//
// Bounded: at most `maxTracked` addresses are remembered; when full, expired
// entries are dropped first, then the oldest.

#include "core/timer_service.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace tandem::gateway {

class LoginLimiter {
 public:
  LoginLimiter(int maxFailures, core::Millis window, std::size_t maxTracked = 65536);

  // Zero when `address` may try to log in now; otherwise how long it must wait.
  core::Millis retryAfter(const std::string& address, core::Clock::time_point now) const;
  void failed(const std::string& address, core::Clock::time_point now);

  std::size_t tracked() const { return entries_.size(); }

 private:
  struct Entry {
    core::Clock::time_point first;  // the window's start
    int failures = 0;
  };
  void makeRoom(core::Clock::time_point now);

  int maxFailures_;
  core::Millis window_;
  std::size_t maxTracked_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace tandem::gateway
