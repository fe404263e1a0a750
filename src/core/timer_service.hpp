#pragma once
// Timers for protocol state machines. Components take a TimerService& so that
// tests drive them with FakeTimerService (virtual time, no sleeping) and the
// server with AsioTimerService (one steady_timer for all pending timers).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

namespace tandem::core {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

class TimerService {
 public:
  using TimerId = std::uint64_t;  // 0 is never a valid id
  using Callback = std::function<void()>;

  virtual ~TimerService() = default;
  virtual Clock::time_point now() const = 0;
  // Runs `cb` once, `delay` from now, on the loop. The callback may schedule and
  // cancel timers (re-entrancy is allowed).
  virtual TimerId schedule(Millis delay, Callback cb) = 0;
  // Cancelling an id that already fired or was cancelled is a no-op.
  virtual void cancel(TimerId id) = 0;
  virtual std::size_t pending() const = 0;
};

// Shared bookkeeping: an ordered queue of deadlines. Not a TimerService itself.
class TimerQueue {
 public:
  TimerService::TimerId add(Clock::time_point due, TimerService::Callback cb);
  void cancel(TimerService::TimerId id);
  // Runs every timer due at or before `now`, in deadline order.
  void runDue(Clock::time_point now);
  // Earliest deadline, or time_point::max() when empty.
  Clock::time_point nextDue() const;
  std::size_t size() const { return byId_.size(); }

 private:
  using Key = std::pair<Clock::time_point, TimerService::TimerId>;
  std::map<Key, TimerService::Callback> queue_;
  std::unordered_map<TimerService::TimerId, Clock::time_point> byId_;
  TimerService::TimerId nextId_ = 1;
};

// Virtual time for tests: nothing fires until advance().
class FakeTimerService final : public TimerService {
 public:
  Clock::time_point now() const override { return now_; }
  TimerId schedule(Millis delay, Callback cb) override;
  void cancel(TimerId id) override { queue_.cancel(id); }
  std::size_t pending() const override { return queue_.size(); }
  // Moves time forward by `d`, firing timers in order at their own deadlines.
  void advance(Millis d);

 private:
  Clock::time_point now_{std::chrono::hours(1)};
  TimerQueue queue_;
};

}  // namespace tandem::core
