// `nf-shard tokenizer`: train a byte-level BPE on text files, encode text with any tokenizer
// nf reads, and print a tokenizer's summary.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <thread>

#include "commands.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/data/bpe_trainer.h"
#include "nf/data/tokenizer_loader.h"

namespace nf::shard {
namespace {

struct TrainArguments {
  int64_t vocab_size = 0;
  std::vector<std::string> inputs;
  std::string out;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string pre_tokenizer = "gpt2";
};

struct EncodeArguments {
  std::string tokenizer;
  std::vector<std::string> texts;
  std::string input;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run_train(const TrainArguments& args) {
  data::BpeTrainerOptions options;
  options.vocab_size = args.vocab_size;
  options.threads = args.threads;
  const auto pattern = data::pretokenizer_from_name(args.pre_tokenizer);
  NF_CHECK(pattern, UsageError, "unknown --pre-tokenizer '", args.pre_tokenizer, "': use gpt2, llama3 or qwen2");
  options.pattern = *pattern;
  const auto start = std::chrono::steady_clock::now();
  const data::PieceCounts counts = data::count_pieces_in_files(args.inputs, options.pattern, options.threads);
  const double count_seconds = seconds_since(start);
  const data::BpeTokenizer tokenizer = data::train_bpe(counts, options);
  const std::string file = tokenizer.save(args.out);
  std::cout << "counted " << counts.size() << " unique pre-tokens in " << count_seconds << " s (" << args.threads
            << " threads); learned " << tokenizer.merges().size() << " merges in "
            << seconds_since(start) - count_seconds << " s\n";
  if (tokenizer.vocab_size() < args.vocab_size) {
    std::cerr << "warning: the corpus supports only " << tokenizer.vocab_size() << " of the " << args.vocab_size
              << " requested ids (every pre-token is a single token)\n";
  }
  std::cout << "wrote " << (std::filesystem::path(args.out) / file).string() << ": vocab_size "
            << tokenizer.vocab_size() << ", fingerprint " << tokenizer.fingerprint() << "\n";
}

void print_ids(const std::vector<data::TokenId>& ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::cout << line << "\n";
}

void run_encode(const EncodeArguments& args) {
  const std::unique_ptr<data::Tokenizer> tokenizer = data::load_tokenizer(args.tokenizer);
  if (!args.texts.empty()) {
    for (const std::string& text : args.texts) print_ids(tokenizer->encode(text));
  } else if (!args.input.empty()) {
    print_ids(tokenizer->encode(read_file(args.input)));
  } else {
    const std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    print_ids(tokenizer->encode(text));
  }
}

void run_info(const std::string& path) {
  const std::unique_ptr<data::Tokenizer> tokenizer = data::load_tokenizer(path);
  std::cout << "kind         " << tokenizer->kind() << "\n"
            << "vocab_size   " << tokenizer->vocab_size() << "\n"
            << "fingerprint  " << tokenizer->fingerprint() << "\n";
  const std::pair<data::SpecialRole, const char*> roles[] = {{data::SpecialRole::kBos, "bos"},
                                                             {data::SpecialRole::kEos, "eos"},
                                                             {data::SpecialRole::kPad, "pad"},
                                                             {data::SpecialRole::kSystem, "system"},
                                                             {data::SpecialRole::kUser, "user"},
                                                             {data::SpecialRole::kAssistant, "assistant"},
                                                             {data::SpecialRole::kEndOfTurn, "end_of_turn"}};
  for (const auto& [role, name] : roles) {
    const auto id = tokenizer->special(role);
    if (id) std::cout << "special      " << name << " = " << *id << " " << tokenizer->decode({*id}) << "\n";
  }
}

}  // namespace

void add_tokenizer_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("tokenizer", "train, use and inspect tokenizers");
  command->require_subcommand(1);

  auto train = std::make_shared<TrainArguments>();
  CLI::App* train_command = command->add_subcommand("train", "learn a byte-level BPE from text files");
  train_command->add_option("--vocab-size", train->vocab_size, "ids in the vocabulary: 7 specials + 256 bytes + merges")
      ->required()
      ->check(CLI::PositiveNumber);
  train_command->add_option("--input", train->inputs, "UTF-8 text files")->required()->check(CLI::ExistingFile);
  train_command->add_option("--out", train->out, "directory to write tokenizer.json into")->required();
  train_command->add_option("--threads", train->threads, "threads counting pre-tokens")->check(CLI::PositiveNumber);
  train_command->add_option("--pre-tokenizer", train->pre_tokenizer, "split pattern: gpt2, llama3 or qwen2");
  train_command->callback([train] { run_train(*train); });

  auto encode = std::make_shared<EncodeArguments>();
  CLI::App* encode_command = command->add_subcommand("encode", "print token ids (of --text, --input, or stdin)");
  encode_command->add_option("--tokenizer", encode->tokenizer, "tokenizer.json, .model, or a directory")->required();
  encode_command->add_option("--text", encode->texts, "text to encode; one line of ids per --text");
  encode_command->add_option("--input", encode->input, "a file encoded as one text")->check(CLI::ExistingFile);
  encode_command->callback([encode] { run_encode(*encode); });

  auto info_path = std::make_shared<std::string>();
  CLI::App* info_command = command->add_subcommand("info", "print kind, vocabulary size, fingerprint and specials");
  info_command->add_option("path", *info_path, "tokenizer.json, .model, or a directory")->required();
  info_command->callback([info_path] { run_info(*info_path); });
}

}  // namespace nf::shard
