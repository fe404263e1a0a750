#include "core/asio_timer_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tandem::core {

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
  if (next >= armedFor_) return;
  armedFor_ = next;
  impl_->timer.expires_at(next);
  impl_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: a newer, earlier deadline re-armed the timer
    armedFor_ = Clock::time_point::max();
    queue_.runDue(Clock::now());
    rearm();
  });
}

}  // namespace tandem::core
