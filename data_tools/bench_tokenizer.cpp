// bench-tokenizer: single-process encode throughput of tokenizers on one text file, printed as
// a table (MB/s, tokens/s, documents/s). Each line of the file is one document; every
// tokenizer encodes the same documents through encode_batch, as the shard builder does.
//
//   bench-tokenizer --input corpus.txt --tokenizer tok/tokenizer.json --tokenizer sp.model [--ids ids.txt]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/data/tokenizer_batch.h"
#include "nf/data/tokenizer_loader.h"

namespace {

struct Measurement {
  double seconds = 0;
  size_t tokens = 0;
};

Measurement measure(const nf::data::Tokenizer& tokenizer, const std::vector<std::string_view>& documents, int threads) {
  const auto start = std::chrono::steady_clock::now();
  const auto ids = nf::data::encode_batch(tokenizer, documents, threads);
  Measurement result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& document : ids) result.tokens += document.size();
  return result;
}

struct Arguments {
  std::string input;
  std::vector<std::string> tokenizers;
  int threads = 1;
  int repeats = 3;
  std::string ids_out;  // the first tokenizer's ids, one line per document
};

// Every document's ids as one line of space-separated numbers, for comparing with other libraries.
void write_ids(const std::string& path, const nf::data::Tokenizer& tokenizer,
               const std::vector<std::string_view>& documents) {
  std::string out;
  for (const auto& ids : nf::data::encode_batch(tokenizer, documents, 1)) {
    for (size_t i = 0; i < ids.size(); ++i) (out += i ? " " : "") += std::to_string(ids[i]);
    out += '\n';
  }
  nf::write_file_atomic(path, out);
}

void run(const Arguments& args) {
  const std::string text = nf::read_file(args.input);
  std::vector<std::string_view> documents;
  for (size_t begin = 0; begin < text.size();) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    if (end > begin) documents.push_back(std::string_view(text).substr(begin, end + 1 - begin));
    begin = end + 1;
  }
  const double megabytes = static_cast<double>(text.size()) / 1e6;
  std::printf("input: %s, %.2f MB, %zu documents, %d thread(s), best of %d\n", args.input.c_str(), megabytes,
              documents.size(), args.threads, args.repeats);
  std::printf("| %-34s | %-13s | %6s | %8s | %13s | %10s |\n", "tokenizer", "kind", "vocab", "MB/s", "tokens/s",
              "docs/s");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(15, '-').c_str(),
              std::string(8, '-').c_str(), std::string(10, '-').c_str(), std::string(15, '-').c_str(),
              std::string(12, '-').c_str());
  for (const std::string& path : args.tokenizers) {
    const auto tokenizer = nf::data::load_tokenizer(path);
    Measurement best{1e30, 0};
    for (int run = 0; run < args.repeats; ++run) {
      const Measurement m = measure(*tokenizer, documents, args.threads);
      if (m.seconds < best.seconds) best = m;
    }
    // Figures are per core: total throughput divided by the threads used.
    const double per_core = 1.0 / (best.seconds * args.threads);
    if (!args.ids_out.empty() && path == args.tokenizers.front()) write_ids(args.ids_out, *tokenizer, documents);
    const std::string name = "nf C++ (" + std::filesystem::path(path).filename().string() + ")";
    std::printf("| %-34s | %-13s | %6lld | %8.2f | %13.0f | %10.0f |\n", name.c_str(), tokenizer->kind().c_str(),
                static_cast<long long>(tokenizer->vocab_size()), megabytes * per_core,
                static_cast<double>(best.tokens) * per_core, static_cast<double>(documents.size()) * per_core);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-tokenizer: encode throughput of tokenizers"};
  Arguments args;
  app.add_option("--input", args.input, "text file; one document per line")->required()->check(CLI::ExistingFile);
  app.add_option("--tokenizer", args.tokenizers, "tokenizer.json, .model or directory (repeatable)")->required();
  app.add_option("--threads", args.threads, "encoding threads (figures are per core: total / threads)")
      ->check(CLI::PositiveNumber);
  app.add_option("--repeats", args.repeats, "runs per tokenizer; the fastest counts")->check(CLI::PositiveNumber);
  app.add_option("--ids", args.ids_out, "write the first tokenizer's ids here, one line per document");
  CLI11_PARSE(app, argc, argv);
  try {
    run(args);
  } catch (const nf::Error& e) {
    std::fprintf(stderr, "bench-tokenizer: %s: %s\n  hint: %s\n", e.kind(), e.what(), e.hint().c_str());
    return static_cast<int>(e.exit_code());
  }
  return 0;
}
