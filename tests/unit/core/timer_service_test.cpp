#include "core/timer_service.hpp"

#include <gtest/gtest.h>

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
