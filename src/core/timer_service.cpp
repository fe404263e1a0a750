#include "core/timer_service.hpp"

#include <algorithm>

namespace tandem::core {

std::size_t TimerQueue::laneFor(Millis delay) {
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i].delay == delay) return i;
  }
  if (lanes_.size() < kMaxLanes) {
    lanes_.push_back(Lane{delay, {}, 1, true});
    return lanes_.size() - 1;
  }
  // More distinct durations than lanes (not seen in practice): share the lane
  // of the nearest duration; add() then inserts in order rather than at the back.
  std::size_t best = 0;
  for (std::size_t i = 1; i < lanes_.size(); ++i) {
    if ((lanes_[i].delay - delay).count() * (lanes_[i].delay - delay).count() <
        (lanes_[best].delay - delay).count() * (lanes_[best].delay - delay).count())
      best = i;
  }
  return best;
}

TimerService::TimerId TimerQueue::add(Clock::time_point now, Millis delay,
                                      TimerService::Callback cb) {
  const auto lane = laneFor(delay);
  Lane& l = lanes_[lane];
  const TimerService::TimerId id = (l.nextSeq++ << kLaneBits) | lane;
  auto& entries = l.entries;
  Entry entry{now + delay, id, nextOrder_++, std::move(cb)};
  if (entries.empty() || entries.back().due <= entry.due) {
    entries.push_back(std::move(entry));
  } else {
    auto at = std::upper_bound(entries.begin(), entries.end(), entry.due,
                               [](Clock::time_point due, const Entry& e) { return due < e.due; });
    entries.insert(at, std::move(entry));
    l.inSequence = false;
  }
  ++live_;
  return id;
}

void TimerQueue::cancel(TimerService::TimerId id) {
  const auto lane = static_cast<std::size_t>(id & (kMaxLanes - 1));
  if (id == 0 || lane >= lanes_.size()) return;
  auto& entries = lanes_[lane].entries;
  if (entries.empty()) return;
  auto it = entries.end();
  if (lanes_[lane].inSequence) {
    // Sequence numbers run without gaps from the front to the back.
    const std::uint64_t seq = id >> kLaneBits;
    const std::uint64_t front = entries.front().id >> kLaneBits;
    if (seq >= front && seq - front < entries.size()) it = entries.begin() + (seq - front);
  } else {
    it = std::find_if(entries.begin(), entries.end(), [id](const Entry& e) { return e.id == id; });
  }
  if (it == entries.end() || it->id != id || !it->cb) return;
  it->cb = nullptr;
  --live_;
  trim(lanes_[lane]);
}

void TimerQueue::trim(Lane& lane) {
  while (!lane.entries.empty() && !lane.entries.front().cb)
    lane.entries.pop_front();
  // Empty, a shared lane's positions follow its sequence numbers again.
  if (lane.entries.empty()) lane.inSequence = true;
}

std::size_t TimerQueue::earliestLane() {
  std::size_t best = kMaxLanes;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    trim(lanes_[i]);
    if (lanes_[i].entries.empty()) continue;
    const auto& front = lanes_[i].entries.front();
    if (best == kMaxLanes) {
      best = i;
      continue;
    }
    const auto& b = lanes_[best].entries.front();
    if (front.due < b.due || (front.due == b.due && front.order < b.order)) best = i;
  }
  return best;
}

void TimerQueue::runDue(Clock::time_point now) {
  for (;;) {
    const auto lane = earliestLane();
    if (lane == kMaxLanes || lanes_[lane].entries.front().due > now) return;
    auto cb = std::move(lanes_[lane].entries.front().cb);
    lanes_[lane].entries.pop_front();
    trim(lanes_[lane]);
    --live_;
    cb();  // may add or cancel timers (lanes_ may grow: no references kept)
  }
}

Clock::time_point TimerQueue::nextDue() {
  const auto lane = earliestLane();
  return lane == kMaxLanes ? Clock::time_point::max() : lanes_[lane].entries.front().due;
}

TimerService::TimerId FakeTimerService::schedule(Millis delay, Callback cb) {
  return queue_.add(now_, delay, std::move(cb));
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
