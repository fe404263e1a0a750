#include "core/asio_timer_service.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace tandem::core {
namespace {

TEST(AsioTimerService, FiresInDeadlineOrderAndNeverEarly) {
  boost::asio::io_context io;
  AsioTimerService timers(io);
  const auto start = Clock::now();
  std::vector<int> order;
  std::vector<Clock::time_point> firedAt(3);
  timers.schedule(Millis{30}, [&] {
    order.push_back(30);
    firedAt[2] = Clock::now();
  });
  timers.schedule(Millis{10}, [&] {
    order.push_back(10);
    firedAt[0] = Clock::now();
  });
  timers.schedule(Millis{20}, [&] {
    order.push_back(20);
    firedAt[1] = Clock::now();
  });
  const auto cancelled = timers.schedule(Millis{15}, [&] { order.push_back(15); });
  timers.cancel(cancelled);
  io.run();
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
  EXPECT_GE(firedAt[0] - start, Millis{10});
  EXPECT_GE(firedAt[1] - start, Millis{20});
  EXPECT_GE(firedAt[2] - start, Millis{30});
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(AsioTimerService, CoalescedDeadlinesShareGridPoints) {
  const Clock::time_point base(
      std::chrono::duration_cast<Clock::duration>(kTimerGranularity * 1000));
  // On the grid: unchanged.
  EXPECT_EQ(coalescedDeadline(base), base);
  // Anything after a grid point, up to the next one, rounds up to it.
  EXPECT_EQ(coalescedDeadline(base + Clock::duration(1)), base + kTimerGranularity);
  EXPECT_EQ(coalescedDeadline(base + kTimerGranularity / 2), base + kTimerGranularity);
  EXPECT_EQ(coalescedDeadline(base + kTimerGranularity), base + kTimerGranularity);
  EXPECT_EQ(coalescedDeadline(base + kTimerGranularity + Clock::duration(1)),
            base + 2 * kTimerGranularity);
  // Never earlier than asked.
  for (int i = 0; i < 100; ++i) {
    const auto t = base + std::chrono::microseconds(137 * i);
    EXPECT_GE(coalescedDeadline(t), t);
    EXPECT_LT(coalescedDeadline(t) - t, kTimerGranularity);
  }
}

}  // namespace
}  // namespace tandem::core
