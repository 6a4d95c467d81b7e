// Dataset summaries (counts, length histogram, loss fraction) and sample documents.
#include "nf/data/inspect.h"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <ostream>

#include "nf/data/token_dataset.h"

namespace nf::data {
namespace {

unsigned log2_floor(uint64_t value) {
  unsigned bucket = 0;
  while (value > 1) {
    value >>= 1;
    ++bucket;
  }
  return bucket;
}

SplitSummary summarize_split(const std::string& dataset_dir, const Manifest& manifest, const std::string& name,
                             const SplitRecord& split) {
  SplitSummary summary;
  summary.name = name;
  summary.shards = split.shards.size();
  summary.min_length = UINT64_MAX;
  uint64_t in_loss = 0;
  for (const ShardRecord& record : split.shards) {
    const ShardFile shard((std::filesystem::path(dataset_dir) / record.file).string(),
                          shard_expectations(manifest, name, record));
    const std::vector<uint64_t>& offsets = shard.doc_offsets();
    for (size_t doc = 0; doc + 1 < offsets.size(); ++doc) {
      const uint64_t length = offsets[doc + 1] - offsets[doc];
      summary.min_length = std::min(summary.min_length, length);
      summary.max_length = std::max(summary.max_length, length);
      const unsigned bucket = log2_floor(std::max<uint64_t>(length, 1));
      if (summary.length_histogram.size() <= bucket) summary.length_histogram.resize(bucket + 1);
      ++summary.length_histogram[bucket];
    }
    summary.documents += shard.num_documents();
    summary.tokens += shard.num_tokens();
    if (shard.has_loss_mask()) {
      in_loss += static_cast<uint64_t>(std::count(shard.loss_mask(), shard.loss_mask() + shard.num_tokens(), 1));
    } else {
      in_loss += shard.num_tokens();
    }
  }
  if (summary.documents == 0) summary.min_length = 0;
  if (summary.documents > 0) summary.mean_length = static_cast<double>(summary.tokens) / summary.documents;
  if (summary.tokens > 0) summary.loss_fraction = static_cast<double>(in_loss) / summary.tokens;
  return summary;
}

void print_tokens(std::ostream& out, const char* label, const std::vector<TokenId>& ids, uint64_t total,
                  const Tokenizer* tokenizer) {
  out << "    " << label << " (" << total << " tokens"
      << (ids.size() < total ? ", first " + std::to_string(ids.size()) : "") << "): ";
  if (tokenizer != nullptr) {
    out << std::quoted(tokenizer->decode(ids)) << "\n";
    return;
  }
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? " " : "[") << ids[i];
  out << "]\n";
}

}  // namespace

DatasetSummary inspect_dataset(const std::string& dataset_dir) {
  DatasetSummary summary{read_manifest(dataset_dir), {}};
  for (const auto& [name, split] : summary.manifest.splits) {
    summary.splits.push_back(summarize_split(dataset_dir, summary.manifest, name, split));
  }
  return summary;
}

void print_summary(std::ostream& out, const DatasetSummary& summary) {
  const Manifest& manifest = summary.manifest;
  out << "format " << format_name(manifest.format) << ", version " << manifest.format_version << ", tokens "
      << token_dtype_name(manifest.token_dtype())
      << (manifest.chat_template.empty() ? "" : ", chat template " + manifest.chat_template) << "\n"
      << "tokenizer " << manifest.tokenizer.kind << " (" << manifest.tokenizer.file << "), vocab_size "
      << manifest.tokenizer.vocab_size << ", fingerprint " << manifest.tokenizer.fingerprint << "\n"
      << "seed " << manifest.seed << ", val_fraction " << manifest.val_fraction << "\n";
  for (const SplitSummary& split : summary.splits) {
    out << "\nsplit " << split.name << ": " << split.shards << " shards, " << split.documents << " documents, "
        << split.tokens << " tokens\n"
        << "  document length: min " << split.min_length << ", mean " << std::fixed << std::setprecision(1)
        << split.mean_length << ", max " << split.max_length << "; tokens in loss " << std::setprecision(3)
        << 100.0 * split.loss_fraction << "%\n";
    out.unsetf(std::ios::floatfield);
    const uint64_t largest = split.length_histogram.empty()
                                 ? 1
                                 : *std::max_element(split.length_histogram.begin(), split.length_histogram.end());
    size_t first_bucket = 0;
    while (first_bucket < split.length_histogram.size() && split.length_histogram[first_bucket] == 0) ++first_bucket;
    for (size_t bucket = first_bucket; bucket < split.length_histogram.size(); ++bucket) {
      const uint64_t count = split.length_histogram[bucket];
      const std::string range =
          std::to_string(uint64_t{1} << bucket) + "-" + std::to_string((uint64_t{2} << bucket) - 1);
      out << "  " << std::setw(16) << range << " " << std::setw(9) << count << " "
          << std::string(static_cast<size_t>(40.0 * count / largest + 0.5), '#') << "\n";
    }
  }
}

void print_samples(std::ostream& out, const std::string& dataset_dir, const InspectOptions& options) {
  TokenDatasetOptions open;
  open.split = options.sample_split;
  const TokenDataset dataset(dataset_dir, open);
  const uint64_t shown =
      std::min<uint64_t>(static_cast<uint64_t>(std::max(options.samples, 0)), dataset.num_documents());
  const ShardFile& first_shard = dataset.shards().front();
  std::vector<std::pair<std::string, std::vector<std::string>>> metadata;
  for (const std::string& field : first_shard.metadata_fields())
    metadata.emplace_back(field, first_shard.metadata(field));
  for (uint64_t index = 0; index < shown; ++index) {
    const TokenDataset::DocumentRef doc = dataset.document(index);
    out << "\n" << options.sample_split << " document " << index << ":";
    for (const auto& [field, values] : metadata) {
      if (index < values.size() && !values[index].empty()) out << " " << field << "=" << std::quoted(values[index]);
    }
    out << "\n";
    auto show = [&](const char* label, uint64_t begin, uint64_t length) {
      std::vector<TokenId> ids(std::min(length, options.sample_tokens));
      dataset.copy_tokens(begin, ids.size(), ids.data());
      print_tokens(out, label, ids, length, options.tokenizer);
    };
    if (dataset.format() == DatasetFormat::kDpo) {
      show("prompt", doc.begin, doc.dpo.prompt);
      show("chosen", doc.begin + doc.dpo.prompt, doc.dpo.chosen);
      show("rejected", doc.begin + doc.dpo.prompt + doc.dpo.chosen, doc.dpo.rejected);
    } else {
      show("text", doc.begin, doc.length);
    }
  }
}

}  // namespace nf::data
