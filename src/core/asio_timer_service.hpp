#pragma once
// TimerService on a Boost.Asio io_context: one steady_timer armed for the
// earliest deadline of a TimerQueue, rounded up to kTimerGranularity.

#include "core/timer_service.hpp"

#include <memory>

namespace boost::asio {
class io_context;
}

namespace tandem::core {

// Timers fire up to this much after their deadline. SIP timers are 500 ms and
// more (T1), so a few milliseconds are harmless, and they let timers that are
// due close together share one wake-up.
inline constexpr Millis kTimerGranularity{4};
// The first grid point at or after `due`: when the timer is armed for it.
Clock::time_point coalescedDeadline(Clock::time_point due);

class AsioTimerService final : public TimerService {
 public:
  explicit AsioTimerService(boost::asio::io_context& io);
  ~AsioTimerService() override;

  Clock::time_point now() const override { return Clock::now(); }
  TimerId schedule(Millis delay, Callback cb) override;
  void cancel(TimerId id) override;
  std::size_t pending() const override { return queue_.size(); }

 private:
  void rearm();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  TimerQueue queue_;
  Clock::time_point armedFor_ = Clock::time_point::max();
};

}  // namespace tandem::core
