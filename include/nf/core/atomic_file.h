// Crash-safe file writes: write a temporary sibling, fsync it, then rename it over the target,
// so a reader sees either the old file or the complete new one, never a partial one.
#pragma once

#include <cstddef>
#include <string>

namespace nf {

// Writes `content` to `path` atomically (temp name + fsync + rename). Creates parent directories.
// Throws IoError naming the path on any failure; the temporary file is removed.
void write_file_atomic(const std::string& path, const std::string& content);

// The streaming form, for files too large to build in memory (checkpoints): write() appends to the
// temporary, commit() fsyncs it and renames it over `path`. Destroyed without commit() (an
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

// Reads a whole file; throws IoError naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace nf
