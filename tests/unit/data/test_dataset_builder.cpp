// The dataset builder on real text (the KJV bible, the Tang poems) with a BPE trained on it:
// thread-count independence, the val split, SFT masks, DPO spans, metadata, bad input, strict
// mode, shard sizes and what an interrupted rebuild leaves behind.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "corpus.h"
#include "nf/core/error.h"
#include "nf/data/bpe_trainer.h"
#include "nf/data/dataset_builder.h"
#include "nf/data/shard_file.h"
#include "nf/data/verify.h"

namespace nf::data {
namespace {

using nlohmann::json;
using testing::bible_verses;
using testing::tang_poems;
using testing::TempDir;
using testing::write_text;

// A small BPE (600 ids) trained on Genesis, shared by every test.
const BpeTokenizer& tokenizer() {
  static const BpeTokenizer trained = [] {
    std::vector<std::string_view> texts;
    for (const auto& verse : bible_verses()) {
      if (verse.chapter.rfind("Ge", 0) == 0) texts.push_back(verse.text);
    }
    PieceCounts counts;
    count_pieces(texts, PreTokenizerPattern::kGpt2, 1, counts);
    BpeTrainerOptions options;
    options.vocab_size = 600;
    return train_bpe(counts, options);
  }();
  return trained;
}

// The first `chapters` chapters, one paragraph each (a verse per line, blank line between).
std::string bible_paragraphs(size_t chapters) {
  std::string text;
  std::string chapter;
  size_t seen = 0;
  for (const auto& verse : bible_verses()) {
    if (verse.chapter != chapter) {
      if (++seen > chapters) break;
      if (!chapter.empty()) text += "\n";
      chapter = verse.chapter;
    }
    text += verse.text + "\n";
  }
  return text;
}

struct StoredDocument {
  std::vector<TokenId> tokens;
  std::vector<uint8_t> mask;
  DpoSpans dpo;
  std::map<std::string, std::string> metadata;
};

// Every document of `split`, in manifest order, as read back through ShardFile.
std::vector<StoredDocument> read_split(const std::string& dir, const std::string& split) {
  const Manifest manifest = read_manifest(dir);
  std::vector<StoredDocument> documents;
  for (const ShardRecord& record : manifest.split(split, dir).shards) {
    const ShardFile shard(dir + "/" + record.file, shard_expectations(manifest, split, record));
    std::map<std::string, std::vector<std::string>> metadata;
    for (const std::string& field : shard.metadata_fields()) metadata[field] = shard.metadata(field);
    const auto& offsets = shard.doc_offsets();
    for (size_t d = 0; d + 1 < offsets.size(); ++d) {
      StoredDocument document;
      document.tokens.resize(offsets[d + 1] - offsets[d]);
      shard.copy_tokens(offsets[d], document.tokens.size(), document.tokens.data());
      if (shard.loss_mask()) document.mask.assign(shard.loss_mask() + offsets[d], shard.loss_mask() + offsets[d + 1]);
      if (!shard.dpo_spans().empty()) document.dpo = shard.dpo_spans()[d];
      for (const auto& [field, values] : metadata) document.metadata[field] = values[d];
      documents.push_back(std::move(document));
    }
  }
  return documents;
}

std::vector<TokenId> all_tokens(const std::vector<StoredDocument>& documents) {
  std::vector<TokenId> tokens;
  for (const auto& document : documents) tokens.insert(tokens.end(), document.tokens.begin(), document.tokens.end());
  return tokens;
}

BuildOptions options_for(const std::string& input, const std::string& out, DatasetFormat format) {
  BuildOptions options;
  options.inputs = {input};
  options.out_dir = out;
  options.format = format;
  options.val_fraction = 0.0;
  options.batch_bytes = 16 << 10;  // many batches even on small inputs
  return options;
}

std::string jsonl(const std::vector<json>& records) {
  std::string text;
  for (const json& record : records) text += record.dump() + "\n";
  return text;
}

TEST(DatasetBuilder, OneAndTwoThreadsWriteIdenticalTokensInInputOrder) {
  TempDir dir;
  write_text(dir.file("kjv.txt"), bible_paragraphs(120));
  std::vector<std::vector<TokenId>> tokens;
  for (int threads : {1, 2}) {
    BuildOptions options =
        options_for(dir.file("kjv.txt"), dir.file("out" + std::to_string(threads)), DatasetFormat::kPretrain);
    options.threads = threads;
    options.val_fraction = 0.1;
    options.shard_bytes = 64 << 10;
    const BuildResult result = build_dataset(tokenizer(), options);
    EXPECT_EQ(result.documents, 120u);
    EXPECT_GT(result.manifest.splits.at("train").shards.size(), 2u);
    std::vector<TokenId> both = all_tokens(read_split(options.out_dir, "train"));
    const std::vector<TokenId> val = all_tokens(read_split(options.out_dir, "val"));
    both.insert(both.end(), val.begin(), val.end());
    EXPECT_EQ(both.size(), result.tokens);
    tokens.push_back(both);
  }
  EXPECT_EQ(tokens[0], tokens[1]);
  // In input order: Genesis 1 opens its split.
  std::string first = bible_paragraphs(1);
  first.pop_back();
  Document genesis1;
  genesis1.segments = {{SegmentRole::kText, first}};
  const std::string split = is_val_document(genesis1, 0, 0.1) ? "val" : "train";
  EXPECT_EQ(tokenizer().decode(read_split(dir.file("out1"), split)[0].tokens), first + "<|eos|>");
}

// Two ranks as two threads: a barrier and a gather over shared memory stand in for MPI.
class ThreadRanks {
 public:
  explicit ThreadRanks(int size) : size_(size), slots_(size) {}
  BuildCollective collective(int rank) {
    BuildCollective collective{rank, size_, {}, {}};
    collective.barrier = [this] { barrier(); };
    collective.gather = [this, rank](const std::string& text) {
      slots_[static_cast<size_t>(rank)] = text;
      barrier();
      return rank == 0 ? slots_ : std::vector<std::string>{};
    };
    return collective;
  }

 private:
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int generation = generation_;
    if (++waiting_ == size_) {
      waiting_ = 0;
      ++generation_;
      done_.notify_all();
    } else {
      done_.wait(lock, [&] { return generation_ != generation; });
    }
  }

  int size_;
  std::vector<std::string> slots_;
  std::mutex mutex_;
  std::condition_variable done_;
  int waiting_ = 0;
  int generation_ = 0;
};

TEST(DatasetBuilder, TwoRanksWriteTheSameTokenStreamAsOne) {
  TempDir dir;
  write_text(dir.file("in/kjv.txt"), bible_paragraphs(80));
  std::string poems;
  for (const auto& poem : tang_poems()) poems += json{{"text", poem.lines[0]}, {"id", poem.title}}.dump() + "\n";
  write_text(dir.file("in/tang.jsonl"), poems);
  BuildOptions options = options_for(dir.file("in"), dir.file("one"), DatasetFormat::kPretrain);
  options.val_fraction = 0.1;
  options.shard_bytes = 32 << 10;
  const BuildResult one = build_dataset(tokenizer(), options);

  options.out_dir = dir.file("two");
  ThreadRanks ranks(2);
  BuildResult two;
  std::thread rank1([&] { build_dataset(tokenizer(), options, ranks.collective(1)); });
  two = build_dataset(tokenizer(), options, ranks.collective(0));
  rank1.join();
  EXPECT_EQ(two.documents, one.documents);
  EXPECT_EQ(two.tokens, one.tokens);
  EXPECT_TRUE(verify_dataset(options.out_dir).ok());
  std::set<std::string> files;
  for (const auto& shard : two.manifest.splits.at("train").shards) files.insert(shard.file.substr(0, 10));
  EXPECT_EQ(files, (std::set<std::string>{"train-r000", "train-r001"}));
  for (const char* split : {"train", "val"}) {
    EXPECT_EQ(all_tokens(read_split(dir.file("one"), split)), all_tokens(read_split(dir.file("two"), split))) << split;
  }
}

TEST(DatasetBuilder, ValSplitIsADeterministicHashOfSeedAndTextNearTheFraction) {
  size_t val = 0;
  std::set<std::string> val_seed0, val_seed1;
  for (const auto& verse : bible_verses()) {
    Document document;
    document.segments = {{SegmentRole::kText, verse.text}};
    if (is_val_document(document, 0, 0.05)) val_seed0.insert(verse.id);
    if (is_val_document(document, 1, 0.05)) val_seed1.insert(verse.id);
    val += is_val_document(document, 0, 0.05) ? 1 : 0;
    EXPECT_FALSE(is_val_document(document, 0, 0.0));
  }
  const double fraction = static_cast<double>(val) / static_cast<double>(bible_verses().size());
  EXPECT_NEAR(fraction, 0.05, 0.006);  // 31102 verses: one standard deviation is 0.0012
  EXPECT_NE(val_seed0, val_seed1);

  // Through the builder: the same seed gives the same val documents, whatever the batch size.
  TempDir dir;
  std::vector<json> records;
  for (size_t i = 0; i < 3000; ++i) records.push_back({{"text", bible_verses()[i].text}, {"id", bible_verses()[i].id}});
  write_text(dir.file("verses.jsonl"), jsonl(records));
  std::vector<std::vector<std::string>> val_ids;
  for (uint64_t batch : {uint64_t{4} << 10, uint64_t{1} << 20}) {
    BuildOptions options =
        options_for(dir.file("verses.jsonl"), dir.file("out" + std::to_string(batch)), DatasetFormat::kPretrain);
    options.val_fraction = 0.05;
    options.batch_bytes = batch;
    build_dataset(tokenizer(), options);
    std::vector<std::string> ids;
    for (const auto& document : read_split(options.out_dir, "val")) ids.push_back(document.metadata.at("id"));
    val_ids.push_back(ids);
  }
  EXPECT_EQ(val_ids[0], val_ids[1]);
  EXPECT_NEAR(static_cast<double>(val_ids[0].size()) / 3000.0, 0.05, 0.015);
  for (const std::string& id : val_ids[0]) EXPECT_TRUE(val_seed0.count(id)) << id;
}

TEST(DatasetBuilder, SftLossMaskCoversOnlyTheResponsesAndMetadataIsKept) {
  TempDir dir;
  std::vector<json> records;
  const auto& verses = bible_verses();
  for (size_t i = 0; i + 1 < 400; i += 2) {
    records.push_back({{"instruction", verses[i].text},
                       {"output", verses[i + 1].text},
                       {"id", verses[i].id},
                       {"emotion", i % 4 ? "calm" : "joy"}});
  }
  write_text(dir.file("sft.jsonl"), jsonl(records));
  const BuildOptions options = options_for(dir.file("sft.jsonl"), dir.file("out"), DatasetFormat::kSft);
  build_dataset(tokenizer(), options);
  const auto documents = read_split(options.out_dir, "train");
  ASSERT_EQ(documents.size(), records.size());
  for (size_t d = 0; d < documents.size(); ++d) {
    const StoredDocument& document = documents[d];
    ASSERT_EQ(document.mask.size(), document.tokens.size());
    std::vector<TokenId> trained, untrained;
    for (size_t t = 0; t < document.tokens.size(); ++t)
      (document.mask[t] ? trained : untrained).push_back(document.tokens[t]);
    EXPECT_EQ(tokenizer().decode(trained), records[d]["output"].get<std::string>() + "<|end|>");
    EXPECT_EQ(tokenizer().decode(untrained),
              "<|user|>" + records[d]["instruction"].get<std::string>() + "<|end|><|assistant|>");
    EXPECT_EQ(document.metadata.at("id"), records[d]["id"]);
    EXPECT_EQ(document.metadata.at("emotion"), records[d]["emotion"]);
  }
}

TEST(DatasetBuilder, DpoSpansSplitPromptChosenRejected) {
  TempDir dir;
  std::vector<json> records;
  for (const auto& poem : tang_poems()) {
    if (poem.lines.size() < 2) continue;
    records.push_back({{"prompt", poem.title + " " + poem.author},
                       {"chosen", poem.lines[0]},
                       {"rejected", poem.lines[1]},
                       {"scene", poem.author}});
  }
  ASSERT_GT(records.size(), 250u);
  write_text(dir.file("dpo.jsonl"), jsonl(records));
  const BuildOptions options = options_for(dir.file("dpo.jsonl"), dir.file("out"), DatasetFormat::kDpo);
  build_dataset(tokenizer(), options);
  const auto documents = read_split(options.out_dir, "train");
  ASSERT_EQ(documents.size(), records.size());
  for (size_t d = 0; d < documents.size(); ++d) {
    const auto& tokens = documents[d].tokens;
    const DpoSpans spans = documents[d].dpo;
    ASSERT_EQ(spans.total(), tokens.size());
    const auto part = [&](uint64_t begin, uint64_t length) {
      return tokenizer().decode({tokens.begin() + begin, tokens.begin() + begin + length});
    };
    EXPECT_EQ(part(0, spans.prompt), "<|user|>" + records[d]["prompt"].get<std::string>() + "<|end|><|assistant|>");
    EXPECT_EQ(part(spans.prompt, spans.chosen), records[d]["chosen"].get<std::string>() + "<|end|>");
    EXPECT_EQ(part(spans.prompt + spans.chosen, spans.rejected), records[d]["rejected"].get<std::string>() + "<|end|>");
    EXPECT_EQ(documents[d].metadata.at("scene"), records[d]["scene"]);
  }
}

// verses.jsonl with a malformed line 3, a record without "text" on line 5 and a too-long one on 8.
std::string jsonl_with_bad_lines() {
  std::string text;
  for (size_t i = 0; i < 10; ++i) {
    if (i == 2) {
      text += "{\"text\": \"unterminated\n";
    } else if (i == 4) {
      text += json{{"body", bible_verses()[i].text}}.dump() + "\n";
    } else if (i == 7) {
      text += json{{"text", bible_paragraphs(3)}}.dump() + "\n";
    } else {
      text += json{{"text", bible_verses()[i].text}}.dump() + "\n";
    }
  }
  return text;
}

TEST(DatasetBuilder, BadLinesAreSkippedAndCountedWithFileAndLine) {
  TempDir dir;
  const std::string input = dir.file("verses.jsonl");
  write_text(input, jsonl_with_bad_lines());
  BuildOptions options = options_for(input, dir.file("out"), DatasetFormat::kPretrain);
  options.max_doc_tokens = 500;
  const BuildResult result = build_dataset(tokenizer(), options);
  EXPECT_EQ(result.documents, 7u);
  EXPECT_EQ(result.bad.total(), 3);
  ASSERT_EQ(result.bad.count(BadInputKind::kMalformedJson), 1);
  EXPECT_EQ(result.bad.examples(BadInputKind::kMalformedJson)[0].source, input + ":3");
  ASSERT_EQ(result.bad.count(BadInputKind::kMissingField), 1);
  EXPECT_EQ(result.bad.examples(BadInputKind::kMissingField)[0].source, input + ":5");
  ASSERT_EQ(result.bad.count(BadInputKind::kTooLong), 1);
  EXPECT_EQ(result.bad.examples(BadInputKind::kTooLong)[0].source, input + ":8");
  EXPECT_NE(result.bad.summary().find(input + ":3"), std::string::npos);
  EXPECT_EQ(read_manifest(options.out_dir).splits.at("train").documents, 7u);
}

TEST(DatasetBuilder, StrictStopsAtTheFirstBadLineAndLeavesNoManifest) {
  TempDir dir;
  const std::string input = dir.file("verses.jsonl");
  write_text(dir.file("good.txt"), bible_paragraphs(2));
  // A complete earlier build in the same directory: the failed rebuild must not leave its manifest.
  build_dataset(tokenizer(), options_for(dir.file("good.txt"), dir.file("out"), DatasetFormat::kPretrain));
  ASSERT_TRUE(std::filesystem::exists(dir.file("out/manifest.json")));
  write_text(input, jsonl_with_bad_lines());
  BuildOptions options = options_for(input, dir.file("out"), DatasetFormat::kPretrain);
  options.bad_input.strict = true;
  try {
    build_dataset(tokenizer(), options);
    FAIL() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find(input + ":3"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("malformed-json"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/manifest.json")));
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("out"))) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST(DatasetBuilder, ShardsRollAtTheSizeLimit) {
  TempDir dir;
  write_text(dir.file("kjv.txt"), bible_paragraphs(60));
  BuildOptions options = options_for(dir.file("kjv.txt"), dir.file("out"), DatasetFormat::kPretrain);
  options.shard_bytes = 20 << 10;
  build_dataset(tokenizer(), options);
  const Manifest manifest = read_manifest(options.out_dir);
  const auto& shards = manifest.splits.at("train").shards;
  ASSERT_GT(shards.size(), 4u);
  const auto documents = read_split(options.out_dir, "train");
  size_t doc = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const uint64_t bytes = shards[s].tokens * 2;  // uint16 tokens for a 600-id vocabulary
    doc += shards[s].documents;
    const uint64_t last_document = documents[doc - 1].tokens.size() * 2;
    // A shard closes with the document that reaches the limit: below it before that document.
    EXPECT_LT(bytes - last_document, options.shard_bytes) << shards[s].file;
    if (s + 1 < shards.size()) {
      EXPECT_GE(bytes, options.shard_bytes) << shards[s].file;
    }
  }
  EXPECT_EQ(doc, 60u);
}

TEST(DatasetBuilder, TheTokenizerIsCopiedAndRecorded) {
  TempDir dir;
  write_text(dir.file("kjv.txt"), bible_paragraphs(3));
  const BuildOptions options = options_for(dir.file("kjv.txt"), dir.file("out"), DatasetFormat::kPretrain);
  build_dataset(tokenizer(), options);
  const Manifest manifest = read_manifest(options.out_dir);
  EXPECT_EQ(manifest.tokenizer.fingerprint, tokenizer().fingerprint());
  EXPECT_EQ(manifest.tokenizer.kind, "bpe");
  EXPECT_EQ(manifest.tokenizer.vocab_size, 600);
  EXPECT_TRUE(std::filesystem::exists(options.out_dir + "/" + manifest.tokenizer.file));
}

TEST(DatasetBuilder, ParsesByteSizes) {
  EXPECT_EQ(parse_byte_size("256MB", "--shard-size"), uint64_t{256} << 20);
  EXPECT_EQ(parse_byte_size("64KiB", "--shard-size"), uint64_t{64} << 10);
  EXPECT_EQ(parse_byte_size("1g", "--shard-size"), uint64_t{1} << 30);
  EXPECT_EQ(parse_byte_size("1.5K", "--shard-size"), 1536u);
  EXPECT_EQ(parse_byte_size("4096", "--shard-size"), 4096u);
  EXPECT_THROW(parse_byte_size("lots", "--shard-size"), UsageError);
  EXPECT_THROW(parse_byte_size("0", "--shard-size"), UsageError);
}

TEST(DatasetBuilder, ParagraphsAreRejectedForFormatsOtherThanPretrain) {
  TempDir dir;
  write_text(dir.file("kjv.txt"), bible_paragraphs(1));
  BuildOptions options = options_for(dir.file("kjv.txt"), dir.file("out"), DatasetFormat::kSft);
  options.layout = InputLayout::kParagraphs;
  EXPECT_THROW(build_dataset(tokenizer(), options), UsageError);
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/manifest.json")));
}

}  // namespace
}  // namespace nf::data
