// Streaming line reader: zlib's gzread over a 1 MiB buffer (transparent for plain files), lines
// split with memchr, over-long lines cut and drained instead of buffered.
#include "nf/data/line_reader.h"

#include <fcntl.h>
#include <unistd.h>
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

LineReader::LineReader(std::string path, int64_t max_line_bytes, LineRange range)
    : path_(std::move(path)),
      max_line_bytes_(max_line_bytes),
      range_(range),
      offset_(range.begin),
      buffer_(kBufferBytes),
      at_start_(range.begin == 0),
      line_number_(range.first_line - 1) {
  NF_CHECK(max_line_bytes_ > 0, UsageError, "max line bytes must be positive, got ", max_line_bytes_);
  // open + lseek + gzdopen starts reading at range.begin; gzseek would read up to it instead.
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::lseek(fd, range_.begin, SEEK_SET) < 0) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw IoError("cannot open input '" + path_ + "': " + reason, "check the path and its permissions");
  }
  // A range past the start is a share of a plain file (split_inputs never splits a gzip file), read
  // as plain bytes: zlib would take gzip magic at the cut, a line that happens to start with
  // 1f 8b, for a compressed stream and refuse the share, when the whole file reads as plain text.
  if (range_.begin > 0) {
    plain_fd_ = fd;
    return;
  }
  gzFile file = gzdopen(fd, "rb");
  if (file == nullptr) {
    ::close(fd);
    throw IoError("cannot open input '" + path_ + "': out of memory", "");
  }
  gzbuffer(file, kZlibBufferBytes);
  file_ = file;
}

LineReader::~LineReader() {
  if (file_ != nullptr) gzclose(as_gz(file_));
  if (plain_fd_ >= 0) ::close(plain_fd_);
}

int64_t LineReader::disk_bytes() const {
  const int64_t at = plain_fd_ >= 0 ? ::lseek(plain_fd_, 0, SEEK_CUR) : gzoffset(as_gz(file_));
  return at - range_.begin;
}

// Reads up to `size` bytes at `into`; 0 at the end of the file.
int64_t LineReader::read_some(char* into, size_t size) {
  if (plain_fd_ >= 0) {
    ssize_t got;
    do got = ::read(plain_fd_, into, size);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
      throw IoError(
          "cannot read input '" + path_ + "' after line " + std::to_string(line_number_) + ": " + std::strerror(errno),
          "check the file and the disk it is on");
    }
    return got;
  }
  const int got = gzread(as_gz(file_), into, static_cast<unsigned>(size));
  int code = Z_OK;
  const char* message = gzerror(as_gz(file_), &code);
  // A truncated stream is no hard error to gzread (Z_BUF_ERROR, "unexpected end of file"): it
  // returns what it could decompress, then 0, so the error code is checked at every read.
  if (got < 0 || (got == 0 && code != Z_OK)) {
    throw DataError("input '" + path_ + "' after line " + std::to_string(line_number_) +
                        ": corrupt or truncated gzip data (" + message + ")",
                    "check the file with `gzip -t " + path_ + "`, then re-create or re-download it");
  }
  return got;
}

// Moves unread bytes to the front and reads more after them; false when nothing more came.
bool LineReader::refill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const int64_t got = read_some(buffer_.data() + end_, buffer_.size() - end_);
  if (got == 0) eof_ = true;
  end_ += static_cast<size_t>(got);
  // A UTF-8 byte order mark (Windows editors write one) is no part of the first line.
  // Its bytes count in offset_, or a share of the file would read on past its range's end.
  if (at_start_ && end_ >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) {
    begin_ = 3;
    offset_ += 3;
  }
  if (end_ >= 3 || eof_) at_start_ = false;
  return got > 0;
}

bool LineReader::next(std::string& line) {
  line.clear();
  truncated_ = false;
  if (range_.end >= 0 && offset_ >= range_.end) return false;
  const size_t cap = static_cast<size_t>(max_line_bytes_);
  size_t length = 0;  // bytes of the whole line before its "\n", kept or not
  char last = 0;
  bool any = false;  // whether this line has any byte, including its "\n"
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
    offset_ += static_cast<int64_t>(newline ? take + 1 : take);
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
  return true;
}

}  // namespace nf::data
