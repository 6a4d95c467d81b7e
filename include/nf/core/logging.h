// Rank-aware logging. A Logger is built once per process from the rank and the config and is
// passed explicitly; there is no global logger. Every line carries the rank prefix, so the
// interleaved output of many ranks stays readable. By default only rank 0 prints INFO and
// below; warnings and errors print from every rank.
#pragma once

#include <fstream>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "nf/core/error.h"

namespace nf {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error"; throws ConfigError naming the value otherwise.
// The config names of the levels (logging.level), the one place they are spelled.
const std::vector<std::pair<std::string, LogLevel>>& log_level_names();

struct LoggerOptions {
  int rank = 0;
  int world_size = 1;
  LogLevel level = LogLevel::kInfo;
  bool all_ranks = false;  // print INFO/DEBUG from every rank, not only rank 0
};

class Logger {
 public:
  explicit Logger(LoggerOptions options, std::ostream* sink = nullptr);

  // Mirrors this rank's printed lines to a file (e.g. runs/x/logs/train.log), appending.
  void add_file(const std::string& path);

  template <class... Parts>
  void debug(const Parts&... parts) {
    write(LogLevel::kDebug, detail::concat(parts...));
  }
  template <class... Parts>
  void info(const Parts&... parts) {
    write(LogLevel::kInfo, detail::concat(parts...));
  }
  template <class... Parts>
  void warn(const Parts&... parts) {
    write(LogLevel::kWarn, detail::concat(parts...));
  }
  template <class... Parts>
  void error(const Parts&... parts) {
    write(LogLevel::kError, detail::concat(parts...));
  }

  bool enabled(LogLevel level) const;
  const LoggerOptions& options() const { return options_; }
  // The prefix every line of this rank starts with, e.g. "[rank 3/8]".
  std::string prefix() const;

 private:
  void write(LogLevel level, const std::string& message);

  LoggerOptions options_;
  std::ostream* sink_;
  std::unique_ptr<std::ofstream> file_;
  std::mutex mutex_;
};

}  // namespace nf
