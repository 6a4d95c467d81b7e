// Progress of a long input pass (nf-shard build): on a terminal, one line redrawn in place with
// a bar, percent, MB/s, docs/s and ETA; in a log file (not a terminal), a plain line every so
// many seconds or every tenth of the input. Worker threads report concurrently; the clock, the
// output stream and the terminal decision are injected so tests can drive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>

namespace nf::data {

struct ProgressOptions {
  std::string label = "build";  // the line's first word
  int64_t total_bytes = 0;      // the input's size; 0 when unknown (no percent, no ETA)
  bool terminal = false;        // redraw one line in place; see stderr_is_terminal()
  double redraw_seconds = 0.2;  // terminal: at most one redraw per this many seconds
  double line_seconds = 10.0;   // not a terminal: a line at least this often...
  double line_fraction = 0.10;  // ...and each time another this fraction of the bytes is done
};

// Seconds on a monotonic clock.
using ProgressClock = std::function<double()>;
ProgressClock steady_progress_clock();

// Whether stderr is a terminal (isatty), for ProgressOptions::terminal.
bool stderr_is_terminal();

class ProgressReporter {
 public:
  ProgressReporter(ProgressOptions options, std::ostream& out, ProgressClock clock = steady_progress_clock());

  // Adds work done; safe to call from many threads at once. Prints when a redraw or a line is due.
  void add(int64_t bytes, int64_t documents);
  // Prints the final state (the terminal line is ended with a newline). Call once, at the end.
  void finish();

  int64_t bytes() const { return bytes_.load(); }
  int64_t documents() const { return documents_.load(); }
  // The text of the current state, e.g. "build  42.0%  1.2 GB/2.9 GB  12.3 MB/s  4567 docs/s  ETA 2m18s".
  std::string status_text(double now) const;

 private:
  void print(double now, bool final);

  ProgressOptions options_;
  std::ostream& out_;
  ProgressClock clock_;
  double start_;
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> documents_{0};
  std::mutex print_mutex_;  // guards the fields below and the stream
  double last_print_ = 0;
  int64_t next_fraction_bytes_ = 0;
  bool finished_ = false;
};

// "12.3 MB", "1.2 GB" (decimal units).
std::string format_bytes(double bytes);
// "45s", "2m18s", "3h05m".
std::string format_duration(double seconds);

}  // namespace nf::data
