// Crash-safe file writes: write a temporary sibling, fsync it, then rename it over the target,
// so a reader sees either the old file or the complete new one, never a partial one; the same
// for a whole output directory.
#pragma once

#include <cstddef>
#include <string>

namespace nf {

// Writes `content` to `path` atomically (temp name + fsync + rename). Creates parent directories.
// Throws IoError naming the path on any failure; the temporary file is removed.
void write_file_atomic(const std::string& path, const std::string& content);

// The streaming form, for files too large to build in memory (checkpoints): write() appends to the
// temporary, commit() fsyncs it, renames it over `path` and fsyncs the directory. Destroyed without commit() (an
// exception on the way), it removes the temporary and leaves `path` as it was.
class AtomicFileWriter {
 public:
  // Creates parent directories and the temporary; throws IoError naming the path.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }
  void commit();

 private:
  [[noreturn]] void fail(int error);

  std::string path_;
  std::string temp_;
  int fd_ = -1;
};

// A directory that appears whole or not at all (exports, consolidated checkpoints): files go into
// OUT.partial.<pid>, and commit() renames it to OUT. Destroyed without commit() (an exception on
// the way), it removes the staging directory. OUT must not exist or be empty: UsageError naming
// it as `what` ("export directory") otherwise, so new output never mixes with older output.
class AtomicDirectory {
 public:
  // Checks OUT and creates the staging directory; IoError naming the path when it cannot.
  AtomicDirectory(const std::string& out_dir, const std::string& what);
  ~AtomicDirectory();
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  const std::string& staging() const { return staging_; }  // where to write the files
  void commit();

 private:
  std::string target_;
  std::string staging_;
  bool committed_ = false;
};

// fsyncs a directory, so that the renames and new names in it survive a crash of the machine;
// IoError naming it when it cannot.
void fsync_directory(const std::string& path);

// Reads a whole file; throws IoError naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace nf
