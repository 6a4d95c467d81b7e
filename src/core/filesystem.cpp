// Filesystem calls with IoErrors naming the path (filesystem.h).
#include "nf/core/filesystem.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "nf/core/error.h"

namespace nf {
namespace {

namespace fs = std::filesystem;

void check(const std::error_code& error, const std::string& what, const std::string& path) {
  if (error)
    throw IoError("cannot " + what + " '" + path + "': " + error.message(), write_failure_hint(path, error.value()));
}

// The directory a failure at `path` is about: the path itself when it is one, else its parent.
std::string directory_of(const std::string& path) {
  std::error_code ignored;
  if (fs::is_directory(path, ignored)) return path;
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

void create_directories(const std::string& path) {
  std::error_code error;
  fs::create_directories(path, error);
  check(error, "create the directory", path);
}

void rename_path(const std::string& from, const std::string& to) {
  std::error_code error;
  fs::rename(from, to, error);
  check(error, "rename '" + from + "' to", to);
}

void remove_path(const std::string& path) {
  std::error_code error;
  fs::remove(path, error);
  check(error, "remove", path);
}

void remove_all(const std::string& path) {
  std::error_code error;
  fs::remove_all(path, error);
  check(error, "remove", path);
}

void copy_file(const std::string& from, const std::string& to) {
  std::error_code error;
  fs::copy_file(from, to, error);
  check(error, "copy '" + from + "' to", to);
}

std::optional<uint64_t> free_bytes(const std::string& path) {
  fs::path existing = fs::path(path).empty() ? fs::path(".") : fs::path(path);
  std::error_code ignored;
  while (!fs::exists(existing, ignored) && existing.has_parent_path() && existing != existing.parent_path()) {
    existing = existing.parent_path();
  }
  struct statvfs info {};
  if (::statvfs(existing.c_str(), &info) != 0) return std::nullopt;
  return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) value /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

std::string write_failure_hint(const std::string& path, int error, uint64_t needed) {
  const std::string dir = directory_of(path);
  if (error == EACCES || error == EPERM || error == EROFS) {
    return "'" + dir +
           "' is not writable by this user (or is on a read-only filesystem): fix its permissions, or "
           "choose a directory you can write to";
  }
  std::string hint;
  if (const std::optional<uint64_t> free = free_bytes(dir)) {
    hint = format_bytes(*free) + " free on the filesystem of '" + dir + "'";
  } else {
    hint = "the free space of '" + dir + "' is unknown";
  }
  if (needed > 0) hint += ", and this write needs " + format_bytes(needed);
  hint += error == ENOSPC || error == EDQUOT ? ": free space (or quota) there, or write to a larger filesystem"
                                             : ": check free space and permissions there";
  return hint;
}

}  // namespace nf
