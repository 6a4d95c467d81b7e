// Dataset verification: manifest, checksums (whole-file and per chunk), shard structure, counts,
// token ids, masks.
#include "nf/data/verify.h"

#include <algorithm>
#include <filesystem>

#include "nf/core/error.h"
#include "nf/core/hash.h"
#include "nf/data/manifest.h"
#include "nf/data/shard_file.h"

namespace nf::data {
namespace {

namespace fs = std::filesystem;

// Scans every id and mask byte in chunks; returns "" or the first problem found.
std::string scan_contents(const ShardFile& shard, bool token_ids) {
  constexpr uint64_t kChunk = uint64_t{1} << 20;
  std::vector<TokenId> ids(kChunk);
  for (uint64_t begin = 0; begin < shard.num_tokens(); begin += kChunk) {
    const uint64_t count = std::min(kChunk, shard.num_tokens() - begin);
    if (token_ids) shard.copy_tokens(begin, count, ids.data());  // throws DataError naming the offset
    if (shard.has_loss_mask()) {
      const uint8_t* mask = shard.loss_mask() + begin;
      const uint8_t* bad = std::find_if(mask, mask + count, [](uint8_t m) { return m > 1; });
      if (bad != mask + count) {
        return "shard '" + shard.path() + "': loss_mask at offset " + std::to_string(begin + (bad - mask)) + " is " +
               std::to_string(*bad) + ", expected 0 or 1";
      }
    }
  }
  return {};
}

}  // namespace

VerifyReport verify_dataset(const std::string& dataset_dir, const VerifyOptions& options) {
  const Manifest manifest = read_manifest(dataset_dir);
  VerifyReport report;
  for (const auto& [split_name, split] : manifest.splits) {
    for (const ShardRecord& record : split.shards) {
      const std::string path = (fs::path(dataset_dir) / record.file).string();
      ++report.shards;
      if (!fs::exists(path)) {
        report.problems.push_back("shard '" + path + "' listed in the manifest is missing");
        continue;
      }
      if (options.checksums) {
        const std::string actual = sha256_file(path);
        if (actual != record.sha256) {
          report.problems.push_back("checksum mismatch in shard '" + path + "': sha256 " + actual + ", manifest says " +
                                    record.sha256);
        }
      }
      try {
        const ShardFile shard(path, shard_expectations(manifest, split_name, record));
        shard.verify_all_chunks();
        if (!shard.has_chunk_checksums()) ++report.without_chunk_checksums;
        if (shard.num_tokens() != record.tokens || shard.num_documents() != record.documents) {
          report.problems.push_back("shard '" + path + "' has " + std::to_string(shard.num_tokens()) + " tokens and " +
                                    std::to_string(shard.num_documents()) + " documents, the manifest says " +
                                    std::to_string(record.tokens) + " and " + std::to_string(record.documents));
        }
        const std::string content_problem = scan_contents(shard, options.token_ids);
        if (!content_problem.empty()) report.problems.push_back(content_problem);
        report.tokens += shard.num_tokens();
        report.documents += shard.num_documents();
      } catch (const DataError& e) {
        report.problems.push_back(e.what());
      }
    }
  }
  if (report.without_chunk_checksums > 0) {
    report.notes.push_back(std::to_string(report.without_chunk_checksums) +
                           " shards were built before per-chunk checksums: nf-train cannot detect damage in them "
                           "as it reads; re-run nf-shard build to add them");
  }
  for (const auto& entry : fs::directory_iterator(dataset_dir)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
      report.notes.push_back("leftover temporary file '" + entry.path().string() +
                             "' from an interrupted build (safe to delete)");
    }
  }
  return report;
}

void require_valid(const VerifyReport& report, const std::string& dataset_dir) {
  if (report.ok()) return;
  std::string message = "dataset '" + dataset_dir + "' failed verification: " + report.problems.front();
  if (report.problems.size() > 1) message += " (and " + std::to_string(report.problems.size() - 1) + " more problems)";
  throw DataError(message, kRebuildHint);
}

}  // namespace nf::data
