#include "core/asio_timer_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tandem::core {

Clock::time_point coalescedDeadline(Clock::time_point due) {
  constexpr auto grid = std::chrono::duration_cast<Clock::duration>(kTimerGranularity);
  const auto since = due.time_since_epoch();
  return Clock::time_point((since + grid - Clock::duration(1)) / grid * grid);
}

struct AsioTimerService::Impl {
  explicit Impl(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

AsioTimerService::AsioTimerService(boost::asio::io_context& io)
    : impl_(std::make_unique<Impl>(io)) {}

AsioTimerService::~AsioTimerService() {
  impl_->timer.cancel();
}

TimerService::TimerId AsioTimerService::schedule(Millis delay, Callback cb) {
  const auto id = queue_.add(Clock::now(), delay, std::move(cb));
  rearm();
  return id;
}

void AsioTimerService::cancel(TimerId id) {
  queue_.cancel(id);
  // Leaving the timer armed for a cancelled deadline costs one spurious wake-up;
  // cheaper than re-arming on every cancel.
}

void AsioTimerService::rearm() {
  const auto next = queue_.nextDue();
  if (next == Clock::time_point::max()) return;
  // Deadlines are rounded up to a grid, so timers due close together (one
  // Timer J per REGISTER, thousands a second) fire in one wake-up instead of
  // one wake-up and two timerfd_settime calls each.
  const auto at = coalescedDeadline(next);
  if (at >= armedFor_) return;
  armedFor_ = at;
  impl_->timer.expires_at(at);
  impl_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: a newer, earlier deadline re-armed the timer
    armedFor_ = Clock::time_point::max();
    queue_.runDue(Clock::now());
    rearm();
  });
}

}  // namespace tandem::core
