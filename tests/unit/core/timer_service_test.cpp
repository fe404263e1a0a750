#include "core/timer_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace tandem::core {
namespace {

TEST(FakeTimerService, FiresInDeadlineOrderAtTheirOwnTimes) {
  FakeTimerService timers;
  const auto start = timers.now();
  std::vector<std::pair<int, Millis>> fired;
  auto record = [&](int n) {
    return
        [&, n] { fired.emplace_back(n, std::chrono::duration_cast<Millis>(timers.now() - start)); };
  };
  timers.schedule(Millis(300), record(3));
  timers.schedule(Millis(100), record(1));
  timers.schedule(Millis(200), record(2));
  timers.advance(Millis(250));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0], std::make_pair(1, Millis(100)));
  EXPECT_EQ(fired[1], std::make_pair(2, Millis(200)));
  timers.advance(Millis(50));
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[2], std::make_pair(3, Millis(300)));
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(FakeTimerService, CancelledTimerNeverFires) {
  FakeTimerService timers;
  int count = 0;
  const auto id = timers.schedule(Millis(10), [&] { ++count; });
  timers.cancel(id);
  timers.cancel(id);  // twice is harmless
  timers.advance(Millis(100));
  EXPECT_EQ(count, 0);
}

TEST(FakeTimerService, CallbackMayScheduleAnotherThatFiresInTheSameAdvance) {
  FakeTimerService timers;
  int count = 0;
  timers.schedule(Millis(10), [&] {
    ++count;
    timers.schedule(Millis(10), [&] { ++count; });
  });
  timers.advance(Millis(20));
  EXPECT_EQ(count, 2);
}

}  // namespace
}  // namespace tandem::core

namespace tandem::core {
namespace {

TEST(TimerQueue, KeepsDeadlineOrderAcrossLanesAndCancelsInTheMiddle) {
  FakeTimerService timers;
  std::vector<int> fired;
  std::vector<TimerService::TimerId> ids;
  // Interleave three durations; cancel every third timer.
  for (int i = 0; i < 30; ++i) {
    const Millis delay((i % 3 + 1) * 100);
    ids.push_back(timers.schedule(delay, [&fired, i] { fired.push_back(i); }));
    timers.advance(Millis(1));
  }
  for (std::size_t i = 0; i < ids.size(); i += 3)
    timers.cancel(ids[i]);
  EXPECT_EQ(timers.pending(), 20u);
  timers.advance(Millis(1000));
  ASSERT_EQ(fired.size(), 20u);
  // Due time of timer i is i + (i%3+1)*100 ms after the start.
  for (std::size_t k = 1; k < fired.size(); ++k) {
    const auto due = [](int i) { return i + (i % 3 + 1) * 100; };
    EXPECT_LT(due(fired[k - 1]), due(fired[k]));
  }
  for (int i : fired)
    EXPECT_NE(i % 3, 0);
}

// Cancelling finds an entry by its position in the lane, counted from the
// front: after the front has fired or been trimmed the offsets must still
// land on the right entry, and stale ids must touch nothing.
TEST(TimerQueue, CancelsByPositionAfterTheFrontMovedOn) {
  FakeTimerService timers;
  std::vector<int> fired;
  std::vector<TimerService::TimerId> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(timers.schedule(Millis(50), [&fired, i] { fired.push_back(i); }));
    timers.advance(Millis(10));
  }
  // 0..5 are due at 50..100 ms: the clock is at 100 ms, so 0..5 have fired.
  EXPECT_EQ(fired, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  timers.cancel(ids[2]);  // fired already: a no-op
  timers.cancel(ids[7]);
  timers.cancel(ids[7]);  // twice: still one cancellation
  timers.cancel(ids[6]);  // the front: trimmed, so 8 and 9 are now offsets 0 and 1
  timers.cancel(ids[9] + (std::uint64_t{5} << 8));  // same lane, beyond its back
  timers.cancel(ids[9] ^ 0xFF);                     // a lane that does not exist
  EXPECT_EQ(timers.pending(), 2u);
  ids.push_back(timers.schedule(Millis(50), [&fired] { fired.push_back(10); }));
  timers.cancel(ids[8]);
  EXPECT_EQ(timers.pending(), 2u);
  timers.advance(Millis(100));
  EXPECT_EQ(fired, (std::vector<int>{0, 1, 2, 3, 4, 5, 9, 10}));
}

TEST(TimerQueue, MoreDistinctDurationsThanLanesStillFireInOrder) {
  FakeTimerService timers;
  std::vector<int> fired;
  for (int i = 600; i > 0; --i)
    timers.schedule(Millis(i), [&fired, i] { fired.push_back(i); });
  const auto middle = timers.schedule(Millis(300), [&fired] { fired.push_back(-1); });
  timers.cancel(middle);
  EXPECT_EQ(timers.pending(), 600u);
  timers.advance(Millis(600));
  ASSERT_EQ(fired.size(), 600u);
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
}

}  // namespace
}  // namespace tandem::core
