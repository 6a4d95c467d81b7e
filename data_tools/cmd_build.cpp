// `nf-shard build`: input files → tokenized HDF5 shards + manifest (nf/data/dataset_builder.h).
// Under `mpirun -n N` every rank builds its share; the ranks' shard lists are gathered to rank 0
// over MPI_COMM_WORLD, which writes the manifest.
#include <mpi.h>

#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "commands.h"
#include "nf/core/error.h"
#include "nf/data/dataset_builder.h"
#include "nf/data/progress.h"
#include "nf/data/shard_format.h"

namespace nf::shard {
namespace {

struct BuildArguments {
  std::vector<std::string> inputs;
  std::string tokenizer;
  std::string format = "pretrain";
  std::string chat_template = "nf";
  std::string layout = "auto";
  std::string out;
  std::string shard_size = "256MB";
  double val_fraction = 0.01;
  uint64_t seed = 1234;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool strict = false;
  int64_t max_doc_tokens = 0;
  std::string max_document_bytes = "8MiB";
  bool quiet = false;
};

void check_mpi(int code, const char* call) {
  NF_CHECK(code == MPI_SUCCESS, DistError, "nf-shard build: ", call, " failed with MPI error ", code);
}

// Every rank's text on rank 0, in rank order (empty elsewhere).
std::vector<std::string> gather_to_root(const std::string& text, int rank, int world_size) {
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(world_size), displacements(world_size);
  check_mpi(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  int total = 0;
  for (int r = 0; r < world_size; ++r) {
    displacements[r] = total;
    total += lengths[r];
  }
  std::string all(rank == 0 ? total : 0, '\0');
  check_mpi(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), displacements.data(), MPI_CHAR, 0,
                        MPI_COMM_WORLD),
            "MPI_Gatherv");
  std::vector<std::string> parts;
  if (rank == 0) {
    for (int r = 0; r < world_size; ++r) parts.push_back(all.substr(displacements[r], lengths[r]));
  }
  return parts;
}

data::InputLayout parse_layout(const std::string& name) {
  if (name == "auto") return data::InputLayout::kAuto;
  if (name == "jsonl") return data::InputLayout::kJsonl;
  if (name == "paragraphs") return data::InputLayout::kParagraphs;
  throw UsageError("unknown --layout '" + name + "'", "use auto, jsonl or paragraphs");
}

std::string command_line(const std::vector<std::string>& args) {
  std::string line = "nf-shard";
  for (const std::string& arg : args) line += " " + arg;
  return line;
}

void run_build(const BuildArguments& args, const dist::JobContext& job, const TokenizerLoader& load_tokenizer) {
  data::BuildOptions options;
  options.inputs = args.inputs;
  options.format = data::parse_format(args.format, "--format");
  options.chat_template = data::parse_chat_template(args.chat_template, "--chat-template");
  options.layout = parse_layout(args.layout);
  options.out_dir = args.out;
  options.shard_bytes = data::parse_byte_size(args.shard_size, "--shard-size");
  options.val_fraction = args.val_fraction;
  options.seed = args.seed;
  options.threads = args.threads;
  options.bad_input.strict = args.strict;
  options.max_doc_tokens = args.max_doc_tokens;
  options.max_document_bytes =
      static_cast<int64_t>(data::parse_byte_size(args.max_document_bytes, "--max-document-bytes"));
  options.created_by = command_line(job.args);
  if (!args.quiet) {
    options.progress = &std::cerr;
    options.progress_terminal = data::stderr_is_terminal();
  }
  data::BuildCollective collective;
  collective.rank = job.rank;
  collective.world_size = job.world_size;
  collective.gather = [&job](const std::string& text) { return gather_to_root(text, job.rank, job.world_size); };
  collective.barrier = [] { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); };

  const std::unique_ptr<data::Tokenizer> tokenizer = load_tokenizer(args.tokenizer);
  const data::BuildResult result = data::build_dataset(*tokenizer, options, collective);
  if (job.rank != 0) return;
  const std::string bad = result.bad.summary();
  if (!bad.empty()) std::cerr << bad << (bad.back() == '\n' ? "" : "\n");
  std::ostringstream summary;
  summary << "wrote " << args.out << ": " << data::format_name(options.format);
  for (const auto& [name, split] : result.manifest.splits) {
    summary << ", " << name << " " << split.documents << " documents / " << split.tokens << " tokens in "
            << split.shards.size() << " shards";
  }
  const double mb_per_s = result.seconds > 0 ? static_cast<double>(result.input_bytes) / 1e6 / result.seconds : 0.0;
  summary << "\nread " << data::format_bytes(static_cast<double>(result.input_bytes)) << " in " << result.seconds
          << " s (" << mb_per_s << " MB/s, " << job.world_size << " ranks x " << args.threads << " threads); "
          << result.bad.total() << " bad records skipped\n";
  std::cout << summary.str() << std::flush;
}

}  // namespace

void add_build_command(CLI::App& app, const dist::JobContext& job, TokenizerLoader load_tokenizer) {
  auto args = std::make_shared<BuildArguments>();
  CLI::App* command = app.add_subcommand("build", "tokenize text/JSONL inputs into an HDF5 token dataset");
  command->add_option("--input", args->inputs, "input files, directories or globs (plain, JSONL, .gz)")->required();
  command->add_option("--tokenizer", args->tokenizer, "tokenizer.json, tokenizer.model, or a directory")->required();
  command->add_option("--format", args->format, "pretrain, sft, dpo or sequence")->capture_default_str();
  command
      ->add_option("--chat-template", args->chat_template,
                   "sft/dpo: the tokens around each turn: nf (<|user|>…<|end|>), llama3 or chatml")
      ->capture_default_str();
  command->add_option("--layout", args->layout, "auto (*.txt = paragraphs for pretrain), jsonl or paragraphs")
      ->capture_default_str();
  command->add_option("--out", args->out, "the dataset directory to write")->required();
  command->add_option("--shard-size", args->shard_size, "roll to a new shard at this many bytes of tokens + mask")
      ->capture_default_str();
  command->add_option("--val-fraction", args->val_fraction, "fraction of documents for the val split")
      ->capture_default_str();
  command->add_option("--seed", args->seed, "seed of the train/val assignment")->capture_default_str();
  command->add_option("--threads", args->threads, "encoding threads per rank")->check(CLI::PositiveNumber);
  command->add_flag("--strict", args->strict, "stop at the first bad record instead of skipping it");
  command->add_option("--max-doc-tokens", args->max_doc_tokens, "skip (count as bad) longer documents; 0 = no limit")
      ->capture_default_str();
  command->add_option("--max-document-bytes", args->max_document_bytes, "skip (count as bad) longer documents' text")
      ->capture_default_str();
  command->add_flag("--quiet", args->quiet, "no progress output");
  command->callback([args, &job, load_tokenizer] { run_build(*args, job, load_tokenizer); });
}

}  // namespace nf::shard
