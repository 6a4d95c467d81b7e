// `nf-shard verify DATASET`: checksums, structure, counts, token ids and masks of every shard.
// Prints every problem found, then fails with a data error (exit code 3) if there was any.
#include <iostream>
#include <memory>

#include "commands.h"
#include "nf/data/verify.h"

namespace nf::shard {

void add_verify_command(CLI::App& app) {
  struct Arguments {
    std::string dataset;
    bool skip_checksums = false;
    bool skip_token_scan = false;
  };
  auto args = std::make_shared<Arguments>();
  CLI::App* command = app.add_subcommand("verify", "check a dataset's checksums, structure and token ids");
  command->add_option("dataset", args->dataset, "the dataset directory (holds manifest.json)")->required();
  command->add_flag("--no-checksums", args->skip_checksums, "skip recomputing SHA-256 of every shard");
  command->add_flag("--no-token-scan", args->skip_token_scan, "skip checking every token id against vocab_size");
  command->callback([args] {
    data::VerifyOptions options;
    options.checksums = !args->skip_checksums;
    options.token_ids = !args->skip_token_scan;
    const data::VerifyReport report = data::verify_dataset(args->dataset, options);
    for (const std::string& note : report.notes) std::cout << "note: " << note << "\n";
    for (const std::string& problem : report.problems) std::cout << "problem: " << problem << "\n";
    std::cout << args->dataset << ": " << report.shards << " shards, " << report.documents << " documents, "
              << report.tokens << " tokens; " << (report.ok() ? "OK" : "FAILED") << std::endl;
    data::require_valid(report, args->dataset);
  });
}

}  // namespace nf::shard
