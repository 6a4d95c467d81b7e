// Typed exceptions with context. Library code throws; only the program's main wrapper
// (nf/dist/job.h) catches, prints one line, and turns the type into an exit code.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace nf {

// Exit codes, documented in docs/exit-codes.md. One place, so scripts and Slurm templates agree.
enum class ExitCode : int {
  kOk = 0,
  kInternal = 1,     // a bug or an unexpected failure
  kUsage = 2,        // bad command line or config
  kData = 3,         // bad input data or dataset
  kCheckpoint = 4,   // bad or missing checkpoint
  kDistributed = 5,  // a collective failed or stalled, a rank died
  kIo = 6,           // the filesystem refused a read or write
  kDiverged = 7,     // training stopped: too many non-finite losses in a row
  kPreempted = 75,   // stopped by SIGTERM/SIGUSR1/SIGINT after saving a checkpoint: requeue me (EX_TEMPFAIL)
};

// Base of every NeuralFlow exception: a message that says what went wrong and where
// (file, line, key, rank, offset), and an optional hint that says what to do about it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = {})
      : std::runtime_error(message), hint_(std::move(hint)) {}
  const std::string& hint() const { return hint_; }
  virtual ExitCode exit_code() const { return ExitCode::kInternal; }
  virtual const char* kind() const { return "error"; }

 private:
  std::string hint_;
};

#define NF_DEFINE_ERROR(Name, code, label)                         \
  class Name : public Error {                                      \
   public:                                                         \
    using Error::Error;                                            \
    ExitCode exit_code() const override { return ExitCode::code; } \
    const char* kind() const override { return label; }            \
  };

NF_DEFINE_ERROR(UsageError, kUsage, "usage error")
NF_DEFINE_ERROR(ConfigError, kUsage, "config error")
NF_DEFINE_ERROR(DataError, kData, "data error")
NF_DEFINE_ERROR(CheckpointError, kCheckpoint, "checkpoint error")
NF_DEFINE_ERROR(DistError, kDistributed, "distributed error")
NF_DEFINE_ERROR(IoError, kIo, "I/O error")
NF_DEFINE_ERROR(DivergedError, kDiverged, "training diverged")
#undef NF_DEFINE_ERROR

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace nf

// NF_CHECK(cond, ErrorType, parts...): throws ErrorType(concat(parts...)) when cond is false.
#define NF_CHECK(cond, ErrorType, ...)                               \
  do {                                                               \
    if (!(cond)) throw ErrorType(::nf::detail::concat(__VA_ARGS__)); \
  } while (0)
