// nf-shard build: options, the val-split hash, cleaning an old build, and the rank protocol
// around build_rank_shards (build_pipeline.cpp): clear, write shards, gather, write the manifest.
#include "nf/data/dataset_builder.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "build_pipeline.h"
#include "nf/core/error.h"
#include "nf/data/document_encoder.h"
#include "nf/data/input_files.h"
#include "nf/data/input_split.h"

namespace nf::data {
namespace {

namespace fs = std::filesystem;

uint64_t fnv1a(uint64_t hash, const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  return hash;
}

// splitmix64's finalizer: FNV-1a's high bits alone are not uniform enough for a threshold.
uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void check_options(const BuildOptions& options, const BuildCollective& collective) {
  NF_CHECK(!options.inputs.empty(), UsageError, "nf-shard build: no --input given");
  NF_CHECK(!options.out_dir.empty(), UsageError, "nf-shard build: no --out directory given");
  NF_CHECK(options.val_fraction >= 0.0 && options.val_fraction < 1.0, UsageError, "--val-fraction ",
           options.val_fraction, " is outside [0, 1)");
  NF_CHECK(options.threads >= 1, UsageError, "--threads ", options.threads, " must be at least 1");
  NF_CHECK(options.shard_bytes > 0, UsageError, "--shard-size must be positive");
  NF_CHECK(options.max_doc_tokens >= 0, UsageError, "--max-doc-tokens ", options.max_doc_tokens, " is negative");
  NF_CHECK(collective.world_size == 1 || (collective.gather && collective.barrier), UsageError, "build_dataset: a ",
           collective.world_size, "-rank build needs gather and barrier functions");
}

std::string rank_suffix(const BuildCollective& collective) {
  if (collective.world_size == 1) return "";
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-r%03d", collective.rank);
  return suffix;
}

// What a rank sends to rank 0 once its shards are written.
std::string rank_payload(const RankBuild& build, int rank) {
  RankShards shards{rank, build.shards};
  nlohmann::json payload = {{"shards", rank_shards_to_json(shards)},
                            {"bad", build.bad.to_json()},
                            {"documents", build.documents},
                            {"tokens", build.tokens},
                            {"input_bytes", build.input_bytes}};
  return payload.dump();
}

// Rank 0: every rank's shards into the manifest, every rank's counts and bad input into `result`.
Manifest merge_ranks(const std::vector<std::string>& payloads, const Tokenizer& tokenizer,
                     const std::string& tokenizer_file, const BuildOptions& options, BuildResult& result) {
  Manifest manifest;
  manifest.format = options.format;
  if (options.format == DatasetFormat::kSft || options.format == DatasetFormat::kDpo) {
    manifest.chat_template = chat_template_name(options.chat_template);
  }
  manifest.tokenizer = {tokenizer.kind(), tokenizer_file, tokenizer.fingerprint(), tokenizer.vocab_size()};
  manifest.seed = options.seed;
  manifest.val_fraction = options.val_fraction;
  manifest.created_by = options.created_by;
  manifest.splits["train"];
  manifest.splits["val"];
  std::vector<RankShards> ranks;
  result.bad = BadInputReport(options.bad_input);
  for (const std::string& text : payloads) {
    const nlohmann::json payload = nlohmann::json::parse(text);
    ranks.push_back(rank_shards_from_json(payload.at("shards").get<std::string>()));
    result.bad.merge(BadInputReport::from_json(payload.at("bad"), options.bad_input));
    result.documents += payload.at("documents").get<uint64_t>();
    result.tokens += payload.at("tokens").get<uint64_t>();
    result.input_bytes += payload.at("input_bytes").get<int64_t>();
  }
  merge_rank_shards(manifest, std::move(ranks));
  return manifest;
}

}  // namespace

bool is_val_document(const Document& document, uint64_t seed, double val_fraction) {
  if (val_fraction <= 0.0) return false;
  uint64_t hash = fnv1a(0xcbf29ce484222325ULL, &seed, sizeof(seed));
  for (const Segment& segment : document.segments) {
    const uint64_t header[2] = {static_cast<uint64_t>(segment.role), segment.text.size()};
    hash = fnv1a(hash, header, sizeof(header));
    hash = fnv1a(hash, segment.text.data(), segment.text.size());
  }
  const double unit = static_cast<double>(mix(hash) >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return unit < val_fraction;
}

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  static const std::regex pattern(R"(\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(?:[iI]?[bB])?\s*)");
  std::smatch match;
  const std::string hint = "write a size such as 256MB, 64KiB, 1G or 1048576 (suffixes are binary: 1MB = 2^20 bytes)";
  if (!std::regex_match(text, match, pattern)) throw UsageError(what + " '" + text + "' is not a size", hint);
  const std::string unit = match[2].str();
  const int shift = unit.empty() ? 0 : std::string("KMGT").find(static_cast<char>(std::toupper(unit[0]))) * 10 + 10;
  const double bytes = std::strtod(match[1].str().c_str(), nullptr) * static_cast<double>(uint64_t{1} << shift);
  NF_CHECK(bytes >= 1.0 && bytes < 0x1.0p63, UsageError, what, " '", text, "' is out of range");
  return static_cast<uint64_t>(bytes);
}

void clear_previous_build(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return;
  // The manifest goes first: from here on the directory no longer looks like a complete dataset.
  fs::remove(fs::path(dir) / kManifestFile, error);
  NF_CHECK(!error, IoError, "cannot remove the old '", (fs::path(dir) / kManifestFile).string(),
           "': ", error.message());
  static const std::regex shard(R"((train|val)(-r[0-9]+)?-[0-9]{5}\.h5)");
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !(std::regex_match(name, shard) || name.find(".tmp.") != std::string::npos)) {
      continue;
    }
    fs::remove(entry.path(), error);
    NF_CHECK(!error, IoError, "cannot remove '", entry.path().string(),
             "' left by an earlier build: ", error.message());
  }
}

BuildResult build_dataset(const Tokenizer& tokenizer, const BuildOptions& options, const BuildCollective& collective) {
  const auto start = std::chrono::steady_clock::now();
  check_options(options, collective);
  // A missing special token, or a chat template for a format without turns, fails here.
  const DocumentEncoder check_specials(tokenizer, options.format, options.chat_template);
  const ReaderOptions reader{options.format, options.layout, options.max_document_bytes};
  const std::vector<InputFile> files = discover_inputs(options.inputs);
  for (const InputFile& file : files) resolve_layout(file.path, reader);  // paragraphs need pretrain
  // Every rank splits the same list the same way, so no rank needs to send it.
  const std::vector<std::vector<InputSlice>> shares = split_inputs(files, collective.world_size, reader);
  const std::vector<InputSlice>& mine = shares[static_cast<size_t>(collective.rank)];

  if (collective.rank == 0) clear_previous_build(options.out_dir);
  if (collective.world_size > 1) collective.barrier();  // nobody writes before the old build is gone

  std::unique_ptr<ProgressReporter> progress;
  if (options.progress && collective.rank == 0) {
    ProgressOptions progress_options;
    for (const InputSlice& slice : mine) progress_options.total_bytes += slice.bytes();
    progress_options.terminal = options.progress_terminal;
    if (collective.world_size > 1) progress_options.label = "build[rank 0]";
    progress = std::make_unique<ProgressReporter>(progress_options, *options.progress);
  }
  const RankBuild built = build_rank_shards(tokenizer, options, mine, rank_suffix(collective), progress.get());
  if (progress) progress->finish();

  BuildResult result;
  const std::string payload = rank_payload(built, collective.rank);
  const std::vector<std::string> payloads =
      collective.world_size > 1 ? collective.gather(payload) : std::vector<std::string>{payload};
  if (collective.rank == 0) {
    const std::string tokenizer_file = tokenizer.save(options.out_dir);
    result.manifest = merge_ranks(payloads, tokenizer, tokenizer_file, options, result);
    NF_CHECK(result.documents > 0, DataError, "no document of ", files.size(), " input file(s) was usable as ",
             format_name(options.format), " data", result.bad.total() ? ":\n" + result.bad.summary() : "");
    write_manifest(options.out_dir, result.manifest);
  } else {
    result.bad = built.bad;
    result.documents = built.documents;
    result.tokens = built.tokens;
    result.input_bytes = built.input_bytes;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace nf::data
