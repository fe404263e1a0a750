#include "gateway/login_limiter.hpp"

#include "core/endpoint.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace tandem::gateway {

LoginLimiter::LoginLimiter(int maxFailures, core::Millis window, std::size_t maxTracked)
    : maxFailures_(maxFailures),
      window_(window),
      maxTracked_(std::max<std::size_t>(maxTracked, 1)) {}

std::string LoginLimiter::keyFor(const boost::asio::ip::address& address) {
  const auto a = core::unmapped(address);
  if (a.is_v4()) {
    const auto bytes = a.to_v4().to_bytes();
    return std::string(bytes.begin(), bytes.end());
  }
  const auto bytes = a.to_v6().to_bytes();
  return std::string(bytes.begin(), bytes.begin() + 8);
}

std::string LoginLimiter::describe(const boost::asio::ip::address& address) {
  const auto a = core::unmapped(address);
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

core::Millis LoginLimiter::retryAfter(const boost::asio::ip::address& address,
                                      core::Clock::time_point now) const {
  if (maxFailures_ <= 0) return core::Millis{0};
  const auto it = entries_.find(keyFor(address));
  if (it == entries_.end() || it->second.failures < maxFailures_) return core::Millis{0};
  const auto end = it->second.first + window_;
  if (now >= end) return core::Millis{0};
  // Rounded up: "0 ms" would read as "now".
  return std::chrono::ceil<core::Millis>(end - now);
}

bool LoginLimiter::failed(const boost::asio::ip::address& address, core::Clock::time_point now) {
  if (maxFailures_ <= 0) return false;
  auto key = keyFor(address);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    makeRoom(now);
    it = entries_.emplace(std::move(key), Entry{now, 0}).first;
  } else if (now >= it->second.first + window_) {
    it->second = Entry{now, 0};  // the old window is over: a new one starts
  }
  return ++it->second.failures == maxFailures_;
}

void LoginLimiter::makeRoom(core::Clock::time_point now) {
  if (entries_.size() < maxTracked_) return;
  std::erase_if(entries_, [&](const auto& e) { return now >= e.second.first + window_; });
  const std::size_t room = std::max<std::size_t>(maxTracked_ / 8, 1);
  if (entries_.size() + room <= maxTracked_) return;
  const std::size_t drop = entries_.size() + room - maxTracked_;
  // Least worth keeping first: not refused before refused, then fewer
  // failures, then the older window.
  using Rank = std::pair<std::array<long long, 3>, std::string>;
  std::vector<Rank> ranked;
  ranked.reserve(entries_.size());
  for (const auto& [key, e] : entries_) {
    ranked.push_back({{e.failures >= maxFailures_ ? 1 : 0, e.failures,
                       static_cast<long long>(e.first.time_since_epoch().count())},
                      key});
  }
  std::nth_element(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                   ranked.end(), [](const Rank& a, const Rank& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < drop; ++i)
    entries_.erase(ranked[i].second);
}

}  // namespace tandem::gateway
