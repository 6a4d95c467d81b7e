// A temporary directory for a test, removed with everything in it when the test ends. Plain C++
// and header-only (no LibTorch): the data tests, which link nf_base only, use it too.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace nf::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nf-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: cannot create " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The same path as a string, for the APIs and messages that take one.
  const std::string& path_string() const { return path_.native(); }
  // The full path of `relative` inside the directory, creating its parent directories.
  std::string file(const std::string& relative) const {
    const std::filesystem::path full = path_ / relative;
    std::filesystem::create_directories(full.parent_path());
    return full.string();
  }
  // Writes `content` to `relative` inside the directory (creating parents); returns its full path.
  std::string write(const std::string& relative, const std::string& content) const {
    const std::string file_path = file(relative);
    std::ofstream(file_path, std::ios::binary) << content;
    return file_path;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace nf::testing
