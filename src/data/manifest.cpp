// manifest.json: JSON conversion with per-key checks, atomic write, and the merge of the shard
// lists of a multi-rank build.
#include "nf/data/manifest.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <type_traits>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"

namespace nf::data {
namespace {

using nlohmann::json;

// Reads `key` of `object` as T; a missing key or a wrong type is a DataError naming both.
// Integers must be JSON integers (unsigned ones non-negative): nlohmann would convert a float
// such as 1e300 to an integer type out of its range.
template <class T>
T get(const json& object, const std::string& key, const std::string& source) {
  const auto it = object.find(key);
  if (it == object.end()) throw DataError(source + ": missing key '" + key + "'", kRebuildHint);
  bool fits = true;
  if constexpr (std::is_integral_v<T>) fits = std::is_signed_v<T> ? it->is_number_integer() : it->is_number_unsigned();
  try {
    if (fits) return it->get<T>();
  } catch (const json::exception&) {
  }
  throw DataError(source + ": key '" + key + "' has the wrong type (" + it->dump() + ")", kRebuildHint);
}

// An optional string key: `fallback` when absent.
std::string get_or(const json& object, const std::string& key, const std::string& fallback, const std::string& source) {
  return object.contains(key) ? get<std::string>(object, key, source) : fallback;
}

json shard_to_json(const ShardRecord& shard) {
  json out = {{"file", shard.file}, {"tokens", shard.tokens}, {"documents", shard.documents}, {"sha256", shard.sha256}};
  if (!shard.chunk_crc32c.empty()) out["chunk_crc32c"] = shard.chunk_crc32c;
  return out;
}

ShardRecord shard_from_json(const json& object, const std::string& source) {
  ShardRecord shard;
  shard.file = get<std::string>(object, "file", source);
  shard.tokens = get<uint64_t>(object, "tokens", source);
  shard.documents = get<uint64_t>(object, "documents", source);
  shard.sha256 = get<std::string>(object, "sha256", source);
  shard.chunk_crc32c = get_or(object, "chunk_crc32c", "", source);
  return shard;
}

void recompute_totals(SplitRecord& split) {
  split.tokens = 0;
  split.documents = 0;
  for (const ShardRecord& shard : split.shards) {
    split.tokens += shard.tokens;
    split.documents += shard.documents;
  }
}

}  // namespace

const SplitRecord& Manifest::split(const std::string& name, const std::string& dataset_dir) const {
  const auto it = splits.find(name);
  if (it != splits.end()) return it->second;
  std::string known;
  for (const auto& [split_name, record] : splits) known += (known.empty() ? "" : ", ") + split_name;
  throw DataError("dataset '" + dataset_dir + "' has no split '" + name + "' (it has: " + known + ")",
                  "build the dataset with that split, or point data.train_path/val_path elsewhere");
}

ShardExpectations shard_expectations(const Manifest& manifest, const std::string& split, const ShardRecord& record) {
  ShardExpectations expect;
  expect.format = manifest.format;
  expect.split = split;
  expect.vocab_size = manifest.tokenizer.vocab_size;
  expect.tokenizer_fingerprint = manifest.tokenizer.fingerprint;
  expect.chunk_crc32c = record.chunk_crc32c;
  return expect;
}

json manifest_to_json(const Manifest& manifest) {
  json splits = json::object();
  for (const auto& [name, split] : manifest.splits) {
    json shards = json::array();
    for (const ShardRecord& shard : split.shards) shards.push_back(shard_to_json(shard));
    splits[name] = {{"tokens", split.tokens}, {"documents", split.documents}, {"shards", shards}};
  }
  json out = {{"magic", kManifestMagic},
              {"format_version", manifest.format_version},
              {"format", format_name(manifest.format)},
              {"tokenizer",
               {{"kind", manifest.tokenizer.kind},
                {"file", manifest.tokenizer.file},
                {"fingerprint", manifest.tokenizer.fingerprint},
                {"vocab_size", manifest.tokenizer.vocab_size}}},
              {"token_dtype", token_dtype_name(manifest.token_dtype())},
              {"seed", manifest.seed},
              {"val_fraction", manifest.val_fraction},
              {"splits", splits},
              {"created_by", manifest.created_by}};
  if (!manifest.chat_template.empty()) out["chat_template"] = manifest.chat_template;
  return out;
}

Manifest manifest_from_json(const json& object, const std::string& source) {
  if (!object.is_object()) throw DataError(source + ": not a JSON object", kRebuildHint);
  const auto magic = get<std::string>(object, "magic", source);
  if (magic != kManifestMagic) {
    throw DataError(source + ": bad magic '" + magic + "' (expected '" + kManifestMagic + "'): not an nf dataset",
                    kRebuildHint);
  }
  Manifest manifest;
  manifest.format_version = get<int64_t>(object, "format_version", source);
  if (manifest.format_version != kFormatVersion) {
    throw DataError(source + ": format_version " + std::to_string(manifest.format_version) +
                        " is not supported (this build reads version " + std::to_string(kFormatVersion) + ")",
                    "rebuild the dataset with this version's nf-shard build, or use a matching nf-train");
  }
  manifest.format = parse_format(get<std::string>(object, "format", source), source);
  manifest.chat_template = get_or(object, "chat_template", "", source);  // absent before templates existed: nf
  const json tokenizer = get<json>(object, "tokenizer", source);
  const std::string tokenizer_source = source + " [tokenizer]";
  manifest.tokenizer.kind = get<std::string>(tokenizer, "kind", tokenizer_source);
  manifest.tokenizer.file = get<std::string>(tokenizer, "file", tokenizer_source);
  manifest.tokenizer.fingerprint = get<std::string>(tokenizer, "fingerprint", tokenizer_source);
  manifest.tokenizer.vocab_size = get<int64_t>(tokenizer, "vocab_size", tokenizer_source);
  if (manifest.tokenizer.vocab_size <= 0 || manifest.tokenizer.vocab_size > (int64_t{1} << 32)) {
    throw DataError(
        tokenizer_source + ": vocab_size " + std::to_string(manifest.tokenizer.vocab_size) + " is out of range",
        kRebuildHint);
  }
  const auto dtype = get<std::string>(object, "token_dtype", source);
  if (dtype != token_dtype_name(manifest.token_dtype())) {
    throw DataError(source + ": token_dtype '" + dtype + "' does not match vocab_size " +
                        std::to_string(manifest.tokenizer.vocab_size),
                    kRebuildHint);
  }
  manifest.seed = get<uint64_t>(object, "seed", source);
  manifest.val_fraction = get<double>(object, "val_fraction", source);
  manifest.created_by = get_or(object, "created_by", "", source);
  const json splits = get<json>(object, "splits", source);
  for (const auto& [name, split_json] : splits.items()) {
    const std::string split_source = source + " [splits." + name + "]";
    SplitRecord split;
    const json shards = get<json>(split_json, "shards", split_source);
    for (const json& shard : shards) {
      split.shards.push_back(shard_from_json(shard, split_source));
    }
    recompute_totals(split);
    if (split.tokens != get<uint64_t>(split_json, "tokens", split_source) ||
        split.documents != get<uint64_t>(split_json, "documents", split_source)) {
      throw DataError(split_source + ": split totals disagree with the sum over its shards", kRebuildHint);
    }
    manifest.splits[name] = std::move(split);
  }
  return manifest;
}

Manifest read_manifest(const std::string& dataset_dir) {
  const std::string path = (std::filesystem::path(dataset_dir) / kManifestFile).string();
  if (!std::filesystem::exists(path)) {
    throw DataError(
        "no " + std::string(kManifestFile) + " in '" + dataset_dir + "': not a dataset, or its build did not finish",
        "check the path, or re-run nf-shard build (the manifest is written last)");
  }
  json object;
  try {
    object = json::parse(read_file(path));
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number beyond a double
    throw DataError(path + ": not valid JSON (" + e.what() + ")", kRebuildHint);
  }
  return manifest_from_json(object, path);
}

void write_manifest(const std::string& dataset_dir, Manifest manifest) {
  for (auto& [name, split] : manifest.splits) recompute_totals(split);
  const std::string path = (std::filesystem::path(dataset_dir) / kManifestFile).string();
  write_file_atomic(path, manifest_to_json(manifest).dump(2) + "\n");
}

std::string rank_shards_to_json(const RankShards& shards) {
  json splits = json::object();
  for (const auto& [name, records] : shards.splits) {
    json list = json::array();
    for (const ShardRecord& shard : records) list.push_back(shard_to_json(shard));
    splits[name] = list;
  }
  return json{{"rank", shards.rank}, {"splits", splits}}.dump();
}

RankShards rank_shards_from_json(const std::string& text) {
  const std::string source = "rank shard list";
  json object;
  try {
    object = json::parse(text);
  } catch (const json::parse_error& e) {
    throw DataError(source + ": not valid JSON (" + e.what() + ")");
  }
  RankShards shards;
  shards.rank = get<int>(object, "rank", source);
  const json splits = get<json>(object, "splits", source);
  for (const auto& [name, list] : splits.items()) {
    auto& records = shards.splits[name];
    for (const json& shard : list) records.push_back(shard_from_json(shard, source));
  }
  return shards;
}

void merge_rank_shards(Manifest& manifest, std::vector<RankShards> ranks) {
  std::sort(ranks.begin(), ranks.end(), [](const RankShards& a, const RankShards& b) { return a.rank < b.rank; });
  std::set<std::string> files;
  for (const auto& [name, split] : manifest.splits) {
    for (const ShardRecord& shard : split.shards) files.insert(shard.file);
  }
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (i > 0 && ranks[i].rank == ranks[i - 1].rank) {
      throw DataError("merge_rank_shards: rank " + std::to_string(ranks[i].rank) + " reported twice");
    }
    for (const auto& [name, records] : ranks[i].splits) {
      for (const ShardRecord& shard : records) {
        if (!files.insert(shard.file).second) {
          throw DataError("merge_rank_shards: shard file '" + shard.file + "' is listed twice (rank " +
                              std::to_string(ranks[i].rank) + ")",
                          "give every rank its own file stem (ShardWriterOptions::file_stem)");
        }
        manifest.splits[name].shards.push_back(shard);
      }
    }
  }
  for (auto& [name, split] : manifest.splits) recompute_totals(split);
}

}  // namespace nf::data
