// Progress reporting: a redrawn bar on terminals, periodic plain lines elsewhere.
#include "nf/data/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace nf::data {
namespace {

constexpr int kBarWidth = 24;

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string bar(double fraction) {
  const int filled = static_cast<int>(std::floor(fraction * kBarWidth));
  return "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "]";
}

}  // namespace

ProgressClock steady_progress_clock() {
  return [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 5) {
    bytes /= 1000;
    ++unit;
  }
  return fixed(bytes, unit == 0 ? 0 : 1) + " " + kUnits[unit];
}

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof(text), "%llds", static_cast<long long>(total));
  } else if (total < 3600) {
    std::snprintf(text, sizeof(text), "%lldm%02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60));
  }
  return text;
}

ProgressReporter::ProgressReporter(ProgressOptions options, std::ostream& out, ProgressClock clock)
    : options_(std::move(options)), out_(out), clock_(std::move(clock)), start_(clock_()), last_print_(start_) {
  next_fraction_bytes_ = static_cast<int64_t>(std::ceil(options_.total_bytes * options_.line_fraction));
}

std::string ProgressReporter::status_text(double now) const {
  const double elapsed = std::max(now - start_, 1e-9);
  const auto done = static_cast<double>(bytes());
  const double byte_rate = done / elapsed;
  std::string text = options_.label;
  if (options_.total_bytes > 0) {
    text += "  " + fixed(100.0 * std::min(1.0, done / options_.total_bytes), 1) + "%";
    text += "  " + format_bytes(done) + "/" + format_bytes(static_cast<double>(options_.total_bytes));
  } else {
    text += "  " + format_bytes(done);
  }
  text += "  " + fixed(byte_rate / 1e6, 1) + " MB/s";
  text += "  " + fixed(static_cast<double>(documents()) / elapsed, 0) + " docs/s";
  if (options_.total_bytes > 0 && byte_rate > 0 && done < options_.total_bytes) {
    text += "  ETA " + format_duration((options_.total_bytes - done) / byte_rate);
  }
  return text;
}

void ProgressReporter::add(int64_t bytes, int64_t documents) {
  const int64_t total = bytes_.fetch_add(bytes) + bytes;
  documents_.fetch_add(documents);
  // A thread that finds another one printing skips: the next add() prints the newer state.
  std::unique_lock<std::mutex> lock(print_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  const double now = clock_();
  const bool due = options_.terminal ? now - last_print_ >= options_.redraw_seconds
                                     : now - last_print_ >= options_.line_seconds ||
                                           (options_.total_bytes > 0 && total >= next_fraction_bytes_);
  if (due) print(now, false);
}

void ProgressReporter::finish() {
  std::lock_guard<std::mutex> lock(print_mutex_);
  if (finished_) return;
  print(clock_(), true);
  finished_ = true;
}

// Called with print_mutex_ held.
void ProgressReporter::print(double now, bool final) {
  std::string text = status_text(now);
  if (final) text += "  done in " + format_duration(now - start_);
  if (options_.terminal) {
    const std::string shown =
        options_.total_bytes > 0 ? bar(std::min(1.0, static_cast<double>(bytes()) / options_.total_bytes)) + " " : "";
    // "\r" returns to the line start and "\x1b[K" clears what a longer previous line left behind.
    out_ << '\r' << shown << text << "\x1b[K" << (final ? "\n" : "") << std::flush;
  } else {
    out_ << text << '\n' << std::flush;
  }
  last_print_ = now;
  if (options_.total_bytes > 0) {
    const auto step =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options_.total_bytes * options_.line_fraction)));
    while (next_fraction_bytes_ <= bytes()) next_fraction_bytes_ += step;
  }
}

}  // namespace nf::data
