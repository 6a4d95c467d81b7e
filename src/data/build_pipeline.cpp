// The per-rank build loop: batch reading (one thread, ahead of the encoders), batch encoding
// (encode_batch on `threads` threads), and in-order writing to the split writers.
#include "build_pipeline.h"

#include <future>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "nf/data/document_encoder.h"
#include "nf/data/document_reader.h"
#include "nf/data/shard_writer.h"
#include "nf/data/tokenizer_batch.h"

namespace nf::data {
namespace {

// Documents of a list of slices, in order, a batch at a time.
class BatchReader {
 public:
  BatchReader(const std::vector<InputSlice>& slices, ReaderOptions options, BadInputReport& bad)
      : slices_(slices), options_(options), bad_(bad) {}

  // The next documents, about `batch_bytes` of text; empty at the end of the last slice.
  std::vector<Document> next(uint64_t batch_bytes) {
    std::vector<Document> batch;
    uint64_t bytes = 0;
    while (bytes < batch_bytes && open_next_if_needed()) {
      Document document;
      if (!reader_->next(document)) {
        done_bytes_ += slices_[index_].bytes();
        reader_.reset();
        ++index_;
        continue;
      }
      for (const Segment& segment : document.segments) bytes += segment.text.size();
      batch.push_back(std::move(document));
    }
    return batch;
  }

  // Bytes on disk consumed so far, for progress (never beyond the slices' total).
  int64_t disk_bytes() const {
    if (!reader_) return done_bytes_;
    return done_bytes_ + std::min(reader_->disk_bytes(), slices_[index_].bytes());
  }

 private:
  bool open_next_if_needed() {
    if (reader_) return true;
    if (index_ >= slices_.size()) return false;
    const InputSlice& slice = slices_[index_];
    reader_ = std::make_unique<DocumentReader>(slice.file.path, slice.range, options_, bad_);
    return true;
  }

  const std::vector<InputSlice>& slices_;
  ReaderOptions options_;
  BadInputReport& bad_;
  size_t index_ = 0;
  std::unique_ptr<DocumentReader> reader_;
  int64_t done_bytes_ = 0;
};

// Every segment of every document of `batch` encoded on `threads` threads, then assembled per
// format. The result does not depend on `threads`.
std::vector<EncodedDocument> encode(const DocumentEncoder& encoder, const Tokenizer& tokenizer,
                                    const std::vector<Document>& batch, int threads, std::vector<BpeCache>& caches) {
  std::vector<std::string_view> texts;
  for (const Document& document : batch) {
    for (const Segment& segment : document.segments) texts.push_back(segment.text);
  }
  std::vector<std::vector<TokenId>> ids = encode_batch(tokenizer, texts, threads, &caches);
  std::vector<EncodedDocument> encoded;
  encoded.reserve(batch.size());
  size_t next = 0;
  for (const Document& document : batch) {
    std::vector<std::vector<TokenId>> segment_tokens;
    for (size_t i = 0; i < document.segments.size(); ++i) segment_tokens.push_back(std::move(ids[next++]));
    encoded.push_back(encoder.encode(document, segment_tokens));
  }
  return encoded;
}

ShardWriterOptions writer_options(const Tokenizer& tokenizer, const BuildOptions& options, const std::string& split,
                                  const std::string& file_stem_suffix) {
  ShardWriterOptions writer;
  writer.directory = options.out_dir;
  writer.split = split;
  writer.file_stem = split + file_stem_suffix;
  writer.format = options.format;
  writer.vocab_size = tokenizer.vocab_size();
  writer.tokenizer_fingerprint = tokenizer.fingerprint();
  writer.target_shard_bytes = options.shard_bytes;
  return writer;
}

}  // namespace

RankBuild build_rank_shards(const Tokenizer& tokenizer, const BuildOptions& options,
                            const std::vector<InputSlice>& slices, const std::string& file_stem_suffix,
                            ProgressReporter* progress) {
  const DocumentEncoder encoder(tokenizer, options.format, options.chat_template);
  RankBuild result{{}, BadInputReport(options.bad_input), 0, 0, 0};
  // Bad input found after tokenization (--max-doc-tokens): a report of its own, because the
  // reader thread owns result.bad while the batches are encoded.
  BadInputReport token_bad(options.bad_input);
  ShardWriter train(writer_options(tokenizer, options, "train", file_stem_suffix));
  ShardWriter val(writer_options(tokenizer, options, "val", file_stem_suffix));
  BatchReader reader(slices, ReaderOptions{options.format, options.layout, options.max_document_bytes}, result.bad);

  std::vector<BpeCache> caches;  // warm across batches
  std::vector<Document> batch = reader.next(options.batch_bytes);
  int64_t reported_bytes = 0;
  while (!batch.empty()) {
    // Read the next batch while this one is encoded; the reader is touched by that thread only.
    std::future<std::vector<Document>> ahead =
        std::async(std::launch::async, [&reader, &options] { return reader.next(options.batch_bytes); });
    std::vector<EncodedDocument> encoded = encode(encoder, tokenizer, batch, options.threads, caches);
    for (size_t i = 0; i < encoded.size(); ++i) {
      EncodedDocument& document = encoded[i];
      if (options.max_doc_tokens > 0 && static_cast<int64_t>(document.tokens.size()) > options.max_doc_tokens) {
        token_bad.add(BadInputKind::kTooLong, document.source,
                      std::to_string(document.tokens.size()) + " tokens, more than --max-doc-tokens " +
                          std::to_string(options.max_doc_tokens));
        continue;
      }
      ShardWriter& writer = is_val_document(batch[i], options.seed, options.val_fraction) ? val : train;
      writer.add(document);
      ++result.documents;
      result.tokens += document.tokens.size();
    }
    const size_t documents = batch.size();
    batch = ahead.get();
    if (progress) {
      const int64_t bytes = reader.disk_bytes();
      progress->add(bytes - reported_bytes, static_cast<int64_t>(documents));
      reported_bytes = bytes;
    }
  }
  result.shards["train"] = train.close();
  result.shards["val"] = val.close();
  result.bad.merge(token_bad);
  for (const InputSlice& slice : slices) result.input_bytes += slice.bytes();
  return result;
}

}  // namespace nf::data
