// What every fuzz target shares: the contract that a parser of outside input either accepts it or
// refuses it with one of nf's typed errors (anything else escaping is a bug: the user would see
// "internal error" instead of what is wrong and where), and a scratch file for the parsers that
// read from a path.
#pragma once

#include <cxxabi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>

#include "nf/core/error.h"

namespace nf::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts (libFuzzer reports a crash and saves the input) naming the exception that escaped.
[[noreturn]] inline void unexpected(const std::exception* error) {
  std::string type = "a non-std exception";
  if (const std::type_info* info = abi::__cxa_current_exception_type()) {
    int status = 0;
    const std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(info->name(), nullptr, nullptr, &status),
                                                      std::free);
    type = status == 0 ? name.get() : info->name();
  }
  std::fprintf(stderr, "nf fuzz: %s escaped the parser: %s\n", type.c_str(), error ? error->what() : "");
  std::abort();
}

// Runs `parse`; the nf errors in Accepted... are the parser's documented refusals, anything else
// aborts.
template <class... Accepted, class Parse>
void expect_refusals(Parse&& parse) {
  try {
    parse();
  } catch (const std::exception& error) {
    if ((... || (dynamic_cast<const Accepted*>(&error) != nullptr))) return;
    unexpected(&error);
  } catch (...) {
    unexpected(nullptr);
  }
}

// A file of this process under $TMPDIR (scripts/fuzz.sh points it into the run's scratch
// directory), rewritten with each input for the parsers that take a path.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / ("nf-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    path_ = (dir / name).string();
  }
  ~ScratchFile() {
    std::error_code ignored;
    std::filesystem::remove_all(std::filesystem::path(path_).parent_path(), ignored);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& write(std::string_view content) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc).write(content.data(), std::streamsize(content.size()));
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace nf::fuzz
