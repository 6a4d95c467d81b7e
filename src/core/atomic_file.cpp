// Atomic whole-file writes through a temporary name, fsync and rename.
#include "nf/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nf/core/error.h"
#include "nf/core/filesystem.h"

namespace nf {
namespace fs = std::filesystem;

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  const fs::path target(path_);
  if (target.has_parent_path()) create_directories(target.parent_path().string());
  temp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) {
    const int error = errno;
    throw IoError("cannot create '" + temp_ + "': " + std::strerror(error), write_failure_hint(temp_, error));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void AtomicFileWriter::fail(int error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
  throw IoError("cannot write '" + path_ + "': " + std::strerror(error), write_failure_hint(path_, error));
}

void AtomicFileWriter::write(const void* data, size_t size) {
  NF_CHECK(fd_ >= 0, IoError, "write to '", path_, "' after it was committed or failed");
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd_, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail(written < 0 ? errno : EIO);
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  NF_CHECK(fd_ >= 0, IoError, "commit of '", path_, "' after it was committed or failed");
  if (::fsync(fd_) != 0) fail(errno);
  const int fd = fd_;
  fd_ = -1;  // closed below whatever happens, so fail() must not close it again
  if (::close(fd) != 0) fail(errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) fail(errno);
  const fs::path parent = fs::path(path_).parent_path();
  fsync_directory(parent.empty() ? "." : parent.string());
}

void fsync_directory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw IoError("cannot open directory '" + path + "': " + std::strerror(errno));
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (result != 0) throw IoError("cannot fsync directory '" + path + "': " + std::strerror(error));
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicFileWriter writer(path);
  writer.write(content);
  writer.commit();
}

AtomicDirectory::AtomicDirectory(const std::string& out_dir, const std::string& what)
    : target_(fs::path(out_dir).lexically_normal().string()) {
  NF_CHECK(!fs::exists(target_) || (fs::is_directory(target_) && fs::is_empty(target_)), UsageError, what, " '",
           out_dir, "' exists and is not empty (remove it or choose a new one)");
  staging_ = target_ + ".partial." + std::to_string(::getpid());
  std::error_code ignored;
  fs::remove_all(staging_, ignored);  // a leftover of an earlier run with the same process id
  create_directories(staging_);
}

AtomicDirectory::~AtomicDirectory() {
  std::error_code ignored;
  if (!committed_) fs::remove_all(staging_, ignored);
}

void AtomicDirectory::commit() {
  remove_path(target_);  // empty, checked above; rename(2) cannot replace it
  rename_path(staging_, target_);
  committed_ = true;
  const fs::path parent = fs::path(target_).parent_path();
  fsync_directory(parent.empty() ? "." : parent.string());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read '" + path + "': " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace nf
