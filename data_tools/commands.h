// nf-shard's subcommands. Each file of data_tools/ registers one subcommand on the top-level
// CLI11 app; its callback runs after parsing and reports failures by throwing nf::Error.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "nf/data/tokenizer.h"
#include "nf/dist/job.h"

namespace nf::shard {

// Loads a tokenizer file (tokenizer.json or tokenizer.model); nf::data::load_tokenizer fits.
using TokenizerLoader = std::function<std::unique_ptr<data::Tokenizer>(const std::string& path)>;

// `nf-shard verify DATASET` (cmd_verify.cpp).
void add_verify_command(CLI::App& app);
// `nf-shard inspect DATASET` (cmd_inspect.cpp). With a loader, samples are decoded with the
// dataset's tokenizer (or --tokenizer); without one they print as token ids.
void add_inspect_command(CLI::App& app, TokenizerLoader load_tokenizer = {});
// `nf-shard build --input ... --tokenizer T --out DIR` (cmd_build.cpp); under mpirun every rank
// builds its share and rank 0 writes the manifest. `job` must outlive the app.
void add_build_command(CLI::App& app, const dist::JobContext& job, TokenizerLoader load_tokenizer);
// `nf-shard tokenizer train|encode|info` (cmd_tokenizer.cpp).
void add_tokenizer_command(CLI::App& app);

}  // namespace nf::shard
