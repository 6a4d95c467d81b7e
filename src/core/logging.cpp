// Rank-aware logging: prefix, level filter, optional file mirror.
#include "nf/core/logging.h"

#include <chrono>
#include <ctime>
#include <iostream>

namespace nf {

const std::vector<std::pair<std::string, LogLevel>>& log_level_names() {
  static const std::vector<std::pair<std::string, LogLevel>> names = {
      {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo}, {"warn", LogLevel::kWarn}, {"error", LogLevel::kError}};
  return names;
}

Logger::Logger(LoggerOptions options, std::ostream* sink) : options_(options), sink_(sink ? sink : &std::cerr) {}

void Logger::add_file(const std::string& path) {
  auto file = std::make_unique<std::ofstream>(path, std::ios::app);
  if (!*file) throw IoError("cannot open log file '" + path + "' for appending", "check the output directory");
  std::lock_guard<std::mutex> lock(mutex_);
  file_ = std::move(file);
}

bool Logger::enabled(LogLevel level) const {
  if (level < options_.level) return false;
  return level >= LogLevel::kWarn || options_.all_ranks || options_.rank == 0;
}

std::string Logger::prefix() const {
  return "[rank " + std::to_string(options_.rank) + "/" + std::to_string(options_.world_size) + "]";
}

void Logger::write(LogLevel level, const std::string& message) {
  if (!enabled(level)) return;
  static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &local);
  std::string line = prefix() + " " + stamp + " " + kNames[static_cast<int>(level)] + " " + message + "\n";
  // One write per line under a lock: lines from this rank's threads never interleave.
  std::lock_guard<std::mutex> lock(mutex_);
  *sink_ << line << std::flush;
  if (file_) *file_ << line << std::flush;
}

}  // namespace nf
