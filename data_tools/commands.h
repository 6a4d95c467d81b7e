// nf-shard's subcommands. Each file of data_tools/ registers one subcommand on the top-level
// CLI11 app; its callback runs after parsing and reports failures by throwing nf::Error.
#pragma once

#include <CLI/CLI.hpp>

namespace nf::shard {

// `nf-shard tokenizer train|encode|info` (cmd_tokenizer.cpp).
void add_tokenizer_command(CLI::App& app);

}  // namespace nf::shard
