// Parsing a program's subcommands with CLI11 the same way in every nf program: --help exits 0,
// a bad command line exits with ExitCode::kUsage after CLI11's own message.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "nf/core/error.h"

namespace nf {

// Parses `args` (without the program name) into `app`, running the chosen subcommand's callback.
inline int run_cli(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them in reverse order
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  }
  return 0;
}

}  // namespace nf
