// Filesystem calls with IoErrors naming the path (filesystem.h).
#include "nf/core/filesystem.h"

#include <filesystem>
#include <system_error>

#include "nf/core/error.h"

namespace nf {
namespace {

namespace fs = std::filesystem;

void check(const std::error_code& error, const std::string& what, const std::string& path) {
  NF_CHECK(!error, IoError, "cannot ", what, " '", path, "': ", error.message(),
           "; check that the file system has space and is writable");
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

}  // namespace nf
