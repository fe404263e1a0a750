#include "gateway/login_limiter.hpp"

#include <algorithm>

namespace tandem::gateway {

LoginLimiter::LoginLimiter(int maxFailures, core::Millis window, std::size_t maxTracked)
    : maxFailures_(maxFailures),
      window_(window),
      maxTracked_(std::max<std::size_t>(maxTracked, 1)) {}

core::Millis LoginLimiter::retryAfter(const std::string& address,
                                      core::Clock::time_point now) const {
  if (maxFailures_ <= 0) return core::Millis{0};
  const auto it = entries_.find(address);
  if (it == entries_.end() || it->second.failures < maxFailures_) return core::Millis{0};
  const auto end = it->second.first + window_;
  if (now >= end) return core::Millis{0};
  // Rounded up: "0 ms" would read as "now".
  return std::chrono::ceil<core::Millis>(end - now);
}

void LoginLimiter::failed(const std::string& address, core::Clock::time_point now) {
  if (maxFailures_ <= 0) return;
  auto it = entries_.find(address);
  if (it == entries_.end()) {
    makeRoom(now);
    it = entries_.emplace(address, Entry{now, 0}).first;
  } else if (now >= it->second.first + window_) {
    it->second = Entry{now, 0};  // the old window is over: a new one starts
  }
  ++it->second.failures;
}

void LoginLimiter::makeRoom(core::Clock::time_point now) {
  if (entries_.size() < maxTracked_) return;
  std::erase_if(entries_, [&](const auto& e) { return now >= e.second.first + window_; });
  while (entries_.size() >= maxTracked_) {
    const auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.first < b.second.first; });
    entries_.erase(oldest);
  }
}

}  // namespace tandem::gateway
