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

namespace nf {
namespace fs = std::filesystem;

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  const fs::path target(path_);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) throw IoError("cannot create directory '" + target.parent_path().string() + "': " + ec.message());
  temp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0)
    throw IoError("cannot create '" + temp_ + "': " + std::strerror(errno), "check permissions and free space");
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
  throw IoError("cannot write '" + path_ + "': " + std::strerror(error), "check permissions and free space");
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

namespace {

void check_fs(const std::error_code& error, const std::string& what, const std::string& path) {
  NF_CHECK(!error, IoError, "cannot ", what, " '", path, "': ", error.message());
}

}  // namespace

AtomicDirectory::AtomicDirectory(const std::string& out_dir, const std::string& what)
    : target_(fs::path(out_dir).lexically_normal().string()) {
  NF_CHECK(!fs::exists(target_) || (fs::is_directory(target_) && fs::is_empty(target_)), UsageError, what, " '",
           out_dir, "' exists and is not empty (remove it or choose a new one)");
  staging_ = target_ + ".partial." + std::to_string(::getpid());
  std::error_code error;
  fs::remove_all(staging_, error);  // a leftover of an earlier run with the same process id
  fs::create_directories(staging_, error);
  check_fs(error, "create directory", staging_);
}

AtomicDirectory::~AtomicDirectory() {
  std::error_code ignored;
  if (!committed_) fs::remove_all(staging_, ignored);
}

void AtomicDirectory::commit() {
  std::error_code error;
  if (fs::exists(target_)) fs::remove(target_, error);  // empty, checked above; rename(2) cannot replace it
  check_fs(error, "remove empty directory", target_);
  fs::rename(staging_, target_, error);
  check_fs(error, "rename '" + staging_ + "' to", target_);
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
