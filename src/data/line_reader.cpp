// Streaming line reader: zlib's gzread over a 1 MiB buffer (transparent for plain files), lines
// split with memchr, over-long lines cut and drained instead of buffered.
#include "nf/data/line_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "nf/core/error.h"

namespace nf::data {
namespace {

constexpr size_t kBufferBytes = 1 << 20;
constexpr unsigned kZlibBufferBytes = 1 << 18;

gzFile as_gz(void* file) { return static_cast<gzFile>(file); }

}  // namespace

LineReader::LineReader(std::string path, int64_t max_line_bytes)
    : path_(std::move(path)), max_line_bytes_(max_line_bytes), buffer_(kBufferBytes) {
  NF_CHECK(max_line_bytes_ > 0, UsageError, "max line bytes must be positive, got ", max_line_bytes_);
  gzFile file = gzopen(path_.c_str(), "rb");
  if (file == nullptr) {
    throw IoError("cannot open input '" + path_ + "': " + std::strerror(errno), "check the path and its permissions");
  }
  gzbuffer(file, kZlibBufferBytes);
  file_ = file;
}

LineReader::~LineReader() {
  if (file_ != nullptr) gzclose(as_gz(file_));
}

int64_t LineReader::disk_bytes() const { return static_cast<int64_t>(gzoffset(as_gz(file_))); }

// Moves unread bytes to the front and reads more after them; false when nothing more came.
bool LineReader::refill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const int got = gzread(as_gz(file_), buffer_.data() + end_, static_cast<unsigned>(buffer_.size() - end_));
  if (got < 0) {
    int code = 0;
    const char* message = gzerror(as_gz(file_), &code);
    throw DataError("input '" + path_ + "' after line " + std::to_string(line_number_) +
                        ": corrupt or truncated gzip data (" + message + ")",
                    "check the file with `gzip -t " + path_ + "`, then re-create or re-download it");
  }
  if (got == 0) eof_ = true;
  end_ += static_cast<size_t>(got);
  return got > 0;
}

bool LineReader::next(std::string& line) {
  line.clear();
  truncated_ = false;
  const size_t cap = static_cast<size_t>(max_line_bytes_);
  size_t length = 0;  // bytes of the whole line before its "\n", kept or not
  char last = 0;
  bool any = false;   // whether this line has any byte, including its "\n"
  for (;;) {
    if (begin_ == end_ && !refill()) break;
    any = true;
    const char* start = buffer_.data() + begin_;
    const char* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    const size_t take = newline ? static_cast<size_t>(newline - start) : end_ - begin_;
    if (take > 0) last = start[take - 1];
    length += take;
    // Keep at most cap + 1 bytes: one past the cap tells a trailing "\r" from a long line.
    if (line.size() <= cap) line.append(start, std::min(take, cap + 1 - line.size()));
    begin_ += newline ? take + 1 : take;
    if (newline) break;
  }
  if (!any) return false;
  ++line_number_;
  const bool crlf = last == '\r';
  if (length - (crlf ? 1 : 0) > cap) {
    line.resize(cap);
    truncated_ = true;
  } else if (crlf) {
    line.pop_back();
  }
  if (line_number_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  return true;
}

}  // namespace nf::data
