// LD_PRELOAD library that makes writes under one path fail as a full or forbidden filesystem
// would, for the tests of how nf-train and nf-shard meet ENOSPC and EACCES (tests/e2e/test_disk_faults.sh).
// Configured by the environment:
//   NF_FAULT_PATH   a substring of the paths that fail (unset: the library does nothing)
//   NF_FAULT_ERRNO  ENOSPC (default): writes to matching files succeed for NF_FAULT_AFTER bytes in
//                   all (per process), then write only what is left and fail with ENOSPC;
//                   EACCES: opening a matching path for writing, or making a directory there, fails.
//   NF_FAULT_AFTER  the byte budget of ENOSPC (default 0)
// Writes are matched by the path of their file descriptor (/proc/self/fd), so every way of
// writing a file through the C library's write family is covered (HDF5's sec2 driver, nf's
// AtomicFileWriter).
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct Config {
  const char* path = nullptr;
  int error = ENOSPC;
  long long budget = 0;
};

const Config& config() {
  static const Config parsed = [] {
    Config c;
    c.path = std::getenv("NF_FAULT_PATH");
    const char* error = std::getenv("NF_FAULT_ERRNO");
    if (error != nullptr && std::strcmp(error, "EACCES") == 0) c.error = EACCES;
    if (const char* after = std::getenv("NF_FAULT_AFTER")) c.budget = std::atoll(after);
    return c;
  }();
  return parsed;
}

std::atomic<long long> written{0};

bool matches(const char* path) {
  return config().path != nullptr && path != nullptr && std::strstr(path, config().path);
}

bool fd_matches(int fd) {
  if (config().path == nullptr || config().error != ENOSPC) return false;
  char link[64], target[4096];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t length = ::readlink(link, target, sizeof(target) - 1);
  if (length <= 0) return false;
  target[length] = '\0';
  return matches(target);
}

// How many of `size` bytes a write to `fd` may write: all, or what is left of the budget; -1
// (with errno ENOSPC) when none.
ssize_t allowed(int fd, size_t size) {
  if (!fd_matches(fd)) return static_cast<ssize_t>(size);
  const long long before = written.fetch_add(static_cast<long long>(size));
  const long long left = config().budget - before;
  if (left <= 0) {
    errno = ENOSPC;
    return -1;
  }
  return static_cast<ssize_t>(left < static_cast<long long>(size) ? left : static_cast<long long>(size));
}

bool forbidden(const char* path, int flags) {
  return config().error == EACCES && (flags & (O_WRONLY | O_RDWR | O_CREAT)) != 0 && matches(path);
}

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

mode_t mode_of(int flags, va_list args) { return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(args, mode_t) : 0; }

// open or open64 (`symbol`), unless the path is forbidden.
int checked_open(const char* symbol, const char* path, int flags, mode_t mode) {
  if (forbidden(path, flags)) return errno = EACCES, -1;
  return next<int (*)(const char*, int, ...)>(symbol)(path, flags, mode);
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* data, size_t size) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  const ssize_t n = allowed(fd, size);
  return n < 0 ? -1 : real(fd, data, static_cast<size_t>(n));
}

ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  const ssize_t n = allowed(fd, size);
  return n < 0 ? -1 : real(fd, data, static_cast<size_t>(n), offset);
}

ssize_t pwrite64(int fd, const void* data, size_t size, off64_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  const ssize_t n = allowed(fd, size);
  return n < 0 ? -1 : real(fd, data, static_cast<size_t>(n), offset);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  static const auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  size_t size = 0;
  for (int i = 0; i < count; ++i) size += iov[i].iov_len;
  if (allowed(fd, size) != static_cast<ssize_t>(size)) {
    errno = ENOSPC;  // all or nothing: simpler than splitting the vector
    return -1;
  }
  return real(fd, iov, count);
}

int open(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_of(flags, args);
  va_end(args);
  return checked_open("open", path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_of(flags, args);
  va_end(args);
  return checked_open("open64", path, flags, mode);
}

int openat(int dir, const char* path, int flags, ...) {
  static const auto real = next<int (*)(int, const char*, int, ...)>("openat");
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_of(flags, args);
  va_end(args);
  if (forbidden(path, flags)) return errno = EACCES, -1;
  return real(dir, path, flags, mode);
}

int creat(const char* path, mode_t mode) {
  static const auto real = next<int (*)(const char*, mode_t)>("creat");
  if (forbidden(path, O_CREAT)) return errno = EACCES, -1;
  return real(path, mode);
}

int mkdir(const char* path, mode_t mode) {
  static const auto real = next<int (*)(const char*, mode_t)>("mkdir");
  if (forbidden(path, O_CREAT)) return errno = EACCES, -1;
  return real(path, mode);
}

}  // extern "C"
