// `nf-shard inspect DATASET`: counts, document-length histogram, loss fraction per split, and a
// few sample documents, decoded when a tokenizer can be loaded.
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "nf/data/inspect.h"

namespace nf::shard {

void add_inspect_command(CLI::App& app, TokenizerLoader load_tokenizer) {
  struct Arguments {
    std::string dataset;
    std::string tokenizer;
    std::string split = "train";
    int samples = 2;
    uint64_t sample_tokens = 64;
  };
  auto args = std::make_shared<Arguments>();
  CLI::App* command = app.add_subcommand("inspect", "print a dataset's counts, length histogram and samples");
  command->add_option("dataset", args->dataset, "the dataset directory (holds manifest.json)")->required();
  command->add_option("--split", args->split, "the split to take samples from")->capture_default_str();
  command->add_option("--samples", args->samples, "documents to print")->capture_default_str();
  command->add_option("--sample-tokens", args->sample_tokens, "tokens printed per document")->capture_default_str();
  if (load_tokenizer) {
    command->add_option("--tokenizer", args->tokenizer, "decode samples with this tokenizer (default: the dataset's)");
  }
  command->callback([args, load_tokenizer] {
    const data::DatasetSummary summary = data::inspect_dataset(args->dataset);
    data::print_summary(std::cout, summary);
    std::unique_ptr<data::Tokenizer> tokenizer;
    if (load_tokenizer) {
      std::string path = args->tokenizer;
      const auto bundled = std::filesystem::path(args->dataset) / summary.manifest.tokenizer.file;
      if (path.empty() && std::filesystem::exists(bundled)) path = bundled.string();
      if (!path.empty()) tokenizer = load_tokenizer(path);
    }
    data::InspectOptions options;
    options.sample_split = args->split;
    options.samples = args->samples;
    options.sample_tokens = args->sample_tokens;
    options.tokenizer = tokenizer.get();
    if (options.samples > 0) data::print_samples(std::cout, args->dataset, options);
  });
}

}  // namespace nf::shard
