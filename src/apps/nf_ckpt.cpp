// nf-ckpt: checkpoint tools. So far one subcommand:
//
//   nf-ckpt inspect FILE.safetensors   names, dtypes, shapes and byte ranges, without reading data
#include <CLI/CLI.hpp>
#include <iostream>

#include "nf/ckpt/safetensors.h"
#include "nf/core/error.h"
#include "nf/dist/job.h"

int main(int argc, char** argv) {
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    CLI::App app{"nf-ckpt: checkpoint tools", job.program};
    app.require_subcommand(1);
    std::string file;
    CLI::App* inspect = app.add_subcommand("inspect", "list the tensors of a safetensors file (header only)");
    inspect->add_option("file", file, "a .safetensors file")->required();
    inspect->callback([&] { std::cout << nf::ckpt::describe(nf::ckpt::SafetensorsFile(file)); });
    // CLI11 takes a vector of arguments in reverse order.
    std::vector<std::string> args(job.args.rbegin(), job.args.rend());
    try {
      app.parse(args);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e);
      return code == 0 ? 0 : static_cast<int>(nf::ExitCode::kUsage);
    }
    return 0;
  });
}
