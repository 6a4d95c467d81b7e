// The shard writer: appends encoded documents (token ids, optional loss mask, DPO spans and
// metadata) and writes them as HDF5 shards of one split (docs/data-format.md). A shard is
// assembled in memory, written under a temporary name, fsynced and renamed when complete, so an
// interrupted build leaves no file that looks finished. It rolls to a new shard once the
// buffered data reaches `target_shard_bytes`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nf/data/document.h"
#include "nf/data/encoded_document.h"
#include "nf/data/manifest.h"
#include "nf/data/shard_format.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

struct ShardWriterOptions {
  std::string directory;        // the dataset directory (created if missing)
  std::string split = "train";  // "train" or "val"
  std::string file_stem;        // file names are <stem>-00000.h5 …; empty = split. In a
                                // multi-rank build give each rank its own, e.g. train-r003
  DatasetFormat format = DatasetFormat::kPretrain;
  int64_t vocab_size = 0;  // every token id must be < vocab_size
  std::string tokenizer_fingerprint;
  uint64_t target_shard_bytes = uint64_t{256} << 20;  // roll once tokens + mask reach this size
};

class ShardWriter {
 public:
  explicit ShardWriter(ShardWriterOptions options);
  // Without close(), buffered documents are dropped: an interrupted build writes nothing partial.
  ~ShardWriter() = default;
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Checks the document against the format (ids < vocab, mask length, DPO spans) and buffers it;
  // writes a shard when the buffer reaches the target size. Throws DataError naming doc.source.
  void add(const EncodedDocument& doc);
  // Writes the last partial shard and returns every shard written, in order.
  std::vector<ShardRecord> close();
  const std::vector<ShardRecord>& written() const { return written_; }

 private:
  void flush_shard();
  // Writes the buffered documents as a shard at `temp` and fsyncs it; returns its chunk digest.
  std::string write_shard(const std::string& temp, uint64_t documents);
  uint64_t buffered_bytes() const;

  ShardWriterOptions options_;
  TokenDtype dtype_;
  std::vector<uint32_t> tokens_;
  std::vector<uint64_t> doc_offsets_{0};
  std::vector<uint8_t> loss_mask_;
  std::vector<uint64_t> dpo_spans_;                           // 3 per document
  std::map<std::string, std::vector<std::string>> metadata_;  // field -> one value per document
  std::vector<ShardRecord> written_;
  bool closed_ = false;
};

}  // namespace nf::data
