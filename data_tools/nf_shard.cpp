// nf-shard: tokenizers and HDF5 token datasets for nf-train. A thin main: it registers the
// subcommands of data_tools/commands.h and lets nf::dist::run_job turn errors into exit codes.
//
//   nf-shard tokenizer train --vocab-size 8192 --input corpus.txt --out tok/
//   nf-shard tokenizer encode --tokenizer tok/ --text "Hello"
//   nf-shard tokenizer info tok/tokenizer.json
//   mpirun -n 4 nf-shard build --input corpus/ --tokenizer tok/ --format pretrain --out data/
//   nf-shard verify DATASET
//   nf-shard inspect DATASET --samples 3
#include <hdf5.h>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "nf/core/cli.h"
#include "nf/core/error.h"
#include "nf/data/tokenizer_loader.h"
#include "nf/dist/job.h"

int main(int argc, char** argv) {
  // HDF5 1.10 closes files still open at exit, and crashes on one whose write failed (a full
  // disk): every file nf-shard writes is closed explicitly, so it skips that.
  H5dont_atexit();
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    CLI::App app{"nf-shard: tokenizers and HDF5 token datasets for nf-train", job.program};
    app.require_subcommand(1);
    nf::shard::add_tokenizer_command(app);
    nf::shard::add_build_command(app, job, nf::data::load_tokenizer);
    nf::shard::add_verify_command(app);
    nf::shard::add_inspect_command(app, nf::data::load_tokenizer);
    return nf::run_cli(app, job.args);
  });
}
