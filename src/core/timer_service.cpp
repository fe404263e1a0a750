#include "core/timer_service.hpp"

namespace tandem::core {

TimerService::TimerId TimerQueue::add(Clock::time_point due, TimerService::Callback cb) {
  const auto id = nextId_++;
  queue_.emplace(Key{due, id}, std::move(cb));
  byId_.emplace(id, due);
  return id;
}

void TimerQueue::cancel(TimerService::TimerId id) {
  auto it = byId_.find(id);
  if (it == byId_.end()) return;
  queue_.erase(Key{it->second, id});
  byId_.erase(it);
}

void TimerQueue::runDue(Clock::time_point now) {
  while (!queue_.empty()) {
    auto first = queue_.begin();
    if (first->first.first > now) break;
    auto cb = std::move(first->second);
    byId_.erase(first->first.second);
    queue_.erase(first);
    cb();  // may add or cancel timers
  }
}

Clock::time_point TimerQueue::nextDue() const {
  return queue_.empty() ? Clock::time_point::max() : queue_.begin()->first.first;
}

TimerService::TimerId FakeTimerService::schedule(Millis delay, Callback cb) {
  return queue_.add(now_ + delay, std::move(cb));
}

void FakeTimerService::advance(Millis d) {
  const auto end = now_ + d;
  while (queue_.nextDue() <= end) {
    now_ = queue_.nextDue();
    queue_.runDue(now_);
  }
  now_ = end;
}

}  // namespace tandem::core
