// The progress reporter with an injected clock and stream: periodic plain lines off a terminal,
// a throttled in-place bar on one, and concurrent updates from worker threads.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "nf/data/progress.h"

namespace nf::data {
namespace {

struct FakeClock {
  double now = 100.0;
  ProgressClock function() {
    return [this] { return now; };
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Progress, OffATerminalPrintsALineEveryTenthOfTheInputOrEveryTenSeconds) {
  FakeClock clock;
  std::ostringstream out;
  ProgressReporter progress({"build", 1000, /*terminal=*/false}, out, clock.function());
  clock.now = 101;
  progress.add(50, 1);
  EXPECT_EQ(out.str(), "");  // 5%, 1 s: nothing due yet
  clock.now = 102;
  progress.add(60, 1);  // 11%: a tenth is done
  clock.now = 103;
  progress.add(10, 0);  // 12%, 1 s after the last line: nothing
  clock.now = 113;
  progress.add(0, 0);  // 10 s since the last line
  clock.now = 120;
  progress.add(880, 18);
  progress.finish();
  progress.finish();  // a second finish prints nothing
  EXPECT_EQ(lines_of(out.str()), (std::vector<std::string>{
                                     "build  11.0%  110 B/1.0 kB  0.0 MB/s  1 docs/s  ETA 16s",
                                     "build  12.0%  120 B/1.0 kB  0.0 MB/s  0 docs/s  ETA 1m35s",
                                     "build  100.0%  1.0 kB/1.0 kB  0.0 MB/s  1 docs/s",
                                     "build  100.0%  1.0 kB/1.0 kB  0.0 MB/s  1 docs/s  done in 20s",
                                 }));
}

TEST(Progress, OnATerminalRedrawsOneLineInPlaceAtMostEveryRedrawInterval) {
  FakeClock clock;
  std::ostringstream out;
  ProgressReporter progress({"build", 50'000'000, /*terminal=*/true}, out, clock.function());
  clock.now = 101;
  progress.add(25'000'000, 5000);
  clock.now = 101.1;
  progress.add(1, 0);  // within 0.2 s of the last redraw: skipped
  clock.now = 102;
  progress.add(24'999'999, 5000);
  progress.finish();
  const std::string text = out.str();
  EXPECT_EQ(text,
            "\r[############------------] build  50.0%  25.0 MB/50.0 MB  25.0 MB/s  5000 docs/s  ETA 1s\x1b[K"
            "\r[########################] build  100.0%  50.0 MB/50.0 MB  25.0 MB/s  5000 docs/s\x1b[K"
            "\r[########################] build  100.0%  50.0 MB/50.0 MB  25.0 MB/s  5000 docs/s  done in 2s\x1b[K\n");
}

TEST(Progress, UnknownTotalShowsBytesAndRatesOnly) {
  FakeClock clock;
  std::ostringstream out;
  ProgressReporter progress({"scan", 0, false}, out, clock.function());
  clock.now = 102;
  progress.add(3'000'000, 10);
  progress.finish();
  EXPECT_EQ(out.str(), "scan  3.0 MB  1.5 MB/s  5 docs/s  done in 2s\n");
}

TEST(Progress, ConcurrentUpdatesFromWorkerThreadsAreAllCounted) {
  std::ostringstream out;
  ProgressReporter progress({"build", 80'000, /*terminal=*/true, /*redraw_seconds=*/0.0}, out);
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) progress.add(1, 1);
    });
  }
  for (auto& worker : workers) worker.join();
  progress.finish();
  EXPECT_EQ(progress.bytes(), 80'000);
  EXPECT_EQ(progress.documents(), 80'000);
  const std::string text = out.str();
  EXPECT_EQ(text.substr(text.rfind('\r')).substr(0, 34), "\r[########################] build ");
  EXPECT_EQ(text.back(), '\n');
}

TEST(Progress, BytesAndDurationsReadNaturally) {
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(4'404'412), "4.4 MB");
  EXPECT_EQ(format_bytes(2.5e12), "2.5 TB");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(138), "2m18s");
  EXPECT_EQ(format_duration(3 * 3600 + 5 * 60 + 7), "3h05m");
}

}  // namespace
}  // namespace nf::data
