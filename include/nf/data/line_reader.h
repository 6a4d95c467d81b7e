// Streaming line reader over a plain or gzip file (zlib reads both through one interface), with
// line numbers and a cap on line length, so a multi-gigabyte input or a runaway line never has to
// fit in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nf::data {

// A part of a plain (not gzip) file: the lines that start in [begin, end). `begin` is a line start
// and `first_line` that line's number, so messages keep the file's own line numbers. A range that
// begins past 0 is read as plain bytes, whatever they look like.
struct LineRange {
  int64_t begin = 0;
  int64_t end = -1;  // -1: to the end of the file
  int64_t first_line = 1;
};

class LineReader {
 public:
  // Opens `path` at `range.begin`; throws IoError when it cannot. Lines longer than
  // `max_line_bytes` are cut: next() returns their first max_line_bytes bytes and sets truncated().
  LineReader(std::string path, int64_t max_line_bytes, LineRange range = {});
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Reads the next line into `line` without its "\n" or "\r\n"; a UTF-8 byte order mark at the
  // start of the file is dropped. Returns false at the end of the file. Throws DataError naming
  // the file on corrupt or truncated gzip data.
  bool next(std::string& line);

  // 1-based number, in the whole file, of the line last returned by next().
  int64_t line_number() const { return line_number_; }
  // Whether the line last returned was longer than max_line_bytes (and so was cut).
  bool truncated() const { return truncated_; }
  // Bytes of the file on disk consumed so far from range.begin (compressed bytes for gzip), for
  // progress; zlib reads ahead, so this may pass the range's end by up to 256 KiB.
  int64_t disk_bytes() const;
  const std::string& path() const { return path_; }

 private:
  bool refill();
  int64_t read_some(char* into, size_t size);

  std::string path_;
  int64_t max_line_bytes_;
  LineRange range_;
  int64_t offset_;        // file offset of the next line's start (plain files)
  void* file_ = nullptr;  // gzFile, kept opaque so users of this header need no zlib.h
  int plain_fd_ = -1;     // instead of file_ for a range that begins past the file's start
  std::vector<char> buffer_;
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  bool at_start_ = true;  // the first bytes of the file are not yet checked for a byte order mark
  int64_t line_number_ = 0;
  bool truncated_ = false;
};

}  // namespace nf::data
