// Byte-level BPE: training on real text (KJV bible, Chinese poems), round trips, determinism,
// tokenizer.json save/load, Hugging Face fixtures (GPT-2 "a b" merges, [a, b] merges,
// vocab.json + merges.txt, Llama-3 split) and the errors of malformed or unsupported files.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/data/bpe_files.h"
#include "nf/data/bpe_trainer.h"
#include "nf/data/tokenizer_batch.h"
#include "nf/data/utf8.h"

namespace nf::data {
namespace {

namespace fs = std::filesystem;
const std::string kCorpus = NF_TEST_CORPUS_DIR;
const std::string kFixtures = std::string(NF_SOURCE_DIR) + "/tests/data/tokenizers";

// One tokenizer trained on both corpora, shared by the tests of this file (training is ~1 s).
const BpeTokenizer& trained() {
  static const BpeTokenizer tokenizer = [] {
    BpeTrainerOptions options;
    options.vocab_size = 4096;
    options.threads = 2;
    return train_bpe(count_pieces_in_files({kCorpus + "/bible.txt", kCorpus + "/chinese.txt"}, options.pattern, 2),
                     options);
  }();
  return tokenizer;
}

std::string random_utf8(std::mt19937& rng, size_t code_points) {
  std::string text;
  std::uniform_int_distribution<int> plane(0, 3);
  for (size_t i = 0; i < code_points; ++i) {
    const char32_t limits[] = {0x80, 0x800, 0x10000, 0x110000};
    char32_t cp = 0;
    do {
      cp = std::uniform_int_distribution<char32_t>(0, limits[plane(rng)] - 1)(rng);
    } while (cp >= 0xD800 && cp <= 0xDFFF);
    append_utf8(cp, text);
  }
  return text;
}

std::string temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("nf_bpe_test_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir.string();
}

TEST(BpeTraining, ReachesTheRequestedVocabSizeWithSpecialsFirst) {
  const BpeTokenizer& tokenizer = trained();
  EXPECT_EQ(tokenizer.vocab_size(), 4096);
  EXPECT_EQ(tokenizer.special(SpecialRole::kBos), 0);
  EXPECT_EQ(tokenizer.special(SpecialRole::kEndOfTurn), 6);
  EXPECT_EQ(tokenizer.tokens()[7], std::string(1, '\0'));
  // Real merges: common English words and Chinese characters became single tokens.
  EXPECT_EQ(tokenizer.encode(" the").size(), 1u);
  EXPECT_EQ(tokenizer.encode(" LORD").size(), 1u);
  EXPECT_EQ(tokenizer.encode("春").size(), 1u);
}

TEST(BpeTraining, IsDeterministicAndIndependentOfThreads) {
  BpeTrainerOptions options;
  options.vocab_size = 1000;
  std::vector<std::string> files = {kCorpus + "/bible.txt"};
  const auto one = train_bpe(count_pieces_in_files(files, options.pattern, 1), options);
  const auto two = train_bpe(count_pieces_in_files(files, options.pattern, 2), options);
  EXPECT_EQ(one.fingerprint(), two.fingerprint());
  EXPECT_EQ(one.merges(), two.merges());
  EXPECT_EQ(one.vocab_size(), 1000);
}

TEST(BpeTraining, RejectsAVocabTooSmallForBytesAndSpecials) {
  BpeTrainerOptions options;
  options.vocab_size = 100;
  try {
    train_bpe({}, options);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("need at least 263"), std::string::npos) << e.what();
  }
}

TEST(BpeEncoding, RoundTripsRealAndRandomText) {
  const BpeTokenizer& tokenizer = trained();
  for (const char* name : {"/bible.txt", "/chinese.txt"}) {
    const std::string text = read_file(kCorpus + name);
    const auto ids = tokenizer.encode(text);
    EXPECT_LT(ids.size(), text.size() / 2) << name;
    EXPECT_EQ(tokenizer.decode(ids), text) << name;
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const std::string text = random_utf8(rng, 1 + round * 3);
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
  }
  const std::string invalid = "caf\xc3 \xff\xfe\xe4\xb8 \xed\xa0\x80 end";
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(invalid)), invalid);
}

TEST(BpeEncoding, LongPiecesMergeLikeShortOnes) {
  // A piece over 64 bytes takes the heap path; it must give what per-word encoding gives when
  // the words are glued without spaces only where merges cannot cross (a CJK run vs its halves).
  const BpeTokenizer& tokenizer = trained();
  const std::string verse = "IntheBeginningGodcreatedtheheavenandtheearthAndtheearthwaswithoutformandvoid";
  ASSERT_GT(verse.size(), 64u);
  const auto ids = tokenizer.encode(verse);
  EXPECT_EQ(tokenizer.decode(ids), verse);
  BpeCache cache;
  std::vector<TokenId> twice;
  tokenizer.encode(verse, cache, twice);
  tokenizer.encode(verse, cache, twice);  // the second one comes from the cache
  ASSERT_EQ(twice.size(), 2 * ids.size());
  EXPECT_TRUE(std::equal(ids.begin(), ids.end(), twice.begin() + static_cast<std::ptrdiff_t>(ids.size())));
}

TEST(BpeEncoding, SpecialTokenStringsInTextStayText) {
  const BpeTokenizer& tokenizer = trained();
  const auto ids = tokenizer.encode("<|eos|><|user|> hi");
  for (const TokenId id : ids) EXPECT_GE(id, 7);
  EXPECT_EQ(tokenizer.decode(ids), "<|eos|><|user|> hi");
  EXPECT_EQ(tokenizer.decode({0, 1}), "<|bos|><|eos|>");
}

TEST(BpeEncoding, BatchMatchesSingleEncodes) {
  const BpeTokenizer& tokenizer = trained();
  const std::string text = read_file(kCorpus + "/chinese.txt").substr(0, 200000);
  std::vector<std::string_view> documents;
  for (size_t pos = 0; pos < text.size(); pos += 997) documents.push_back(std::string_view(text).substr(pos, 997));
  const auto batch = encode_batch(tokenizer, documents, 3);
  ASSERT_EQ(batch.size(), documents.size());
  for (size_t i = 0; i < documents.size(); ++i) EXPECT_EQ(batch[i], tokenizer.encode(documents[i])) << i;
}

TEST(BpeEncoding, CachesKeptAcrossBatchesGiveTheSameIds) {
  // The shard builder keeps one warm cache per thread from batch to batch; bounded caches that
  // clear themselves on the way (64 pieces) must not change a single id either.
  const BpeTokenizer& tokenizer = trained();
  const std::string text = read_file(kCorpus + "/bible.txt").substr(0, 300000);
  std::vector<std::string_view> documents;
  for (size_t pos = 0; pos < text.size(); pos += 4999) documents.push_back(std::string_view(text).substr(pos, 4999));
  for (const size_t bound : {size_t{64}, size_t{1} << 16}) {
    std::vector<BpeCache> caches(2, BpeCache(bound));
    for (size_t half = 0; half < 2; ++half) {
      const std::vector<std::string_view> batch(documents.begin() + half * documents.size() / 2,
                                                documents.begin() + (half + 1) * documents.size() / 2);
      const auto ids = encode_batch(tokenizer, batch, 2, &caches);
      for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(ids[i], tokenizer.encode(batch[i])) << bound << " " << i;
    }
    EXPECT_LE(caches[0].size(), bound);
    EXPECT_GT(caches[0].size(), 0u);
  }
}

TEST(BpeCache, KeepsEveryPieceApartThroughGrowthAndClearing) {
  std::mt19937 random(5);
  std::vector<std::string> pieces;
  for (int i = 0; i < 5000; ++i) {
    std::string piece(1 + random() % BpeCache::kMaxPiece, ' ');
    for (char& c : piece) c = static_cast<char>('a' + random() % 3);  // many share prefixes and hashes' inputs
    pieces.push_back(piece);
  }
  const auto ids_of = [](const std::string& piece) {
    return std::vector<TokenId>(1 + piece.size() % 7, static_cast<TokenId>(std::hash<std::string>()(piece) % 50000));
  };
  BpeCache cache(1000);
  for (size_t i = 0; i < pieces.size(); ++i) {
    cache.insert(pieces[i], ids_of(pieces[i]));
    EXPECT_LE(cache.size(), 1000u);
    // Everything inserted since the last clear is found with its own ids; absent pieces are not.
    for (size_t j = i >= cache.size() ? i + 1 - cache.size() : 0; j <= i; ++j) {
      const BpeCache::Ids found = cache.find(pieces[j]);
      ASSERT_TRUE(found) << j;
      EXPECT_EQ(std::vector<TokenId>(found.begin, found.end), ids_of(pieces[j]));
    }
  }
  EXPECT_FALSE(cache.find("not-a-piece-of-abc"));
  EXPECT_FALSE(cache.find(std::string(BpeCache::kMaxPiece + 1, 'a')));  // too long to be kept
}

TEST(BpeFiles, SaveThenLoadGivesTheSameTokenizer) {
  const BpeTokenizer& tokenizer = trained();
  const std::string dir = temp_dir("save");
  EXPECT_EQ(tokenizer.save(dir), "tokenizer.json");
  const auto loaded = load_bpe_tokenizer_json(dir + "/tokenizer.json");
  EXPECT_EQ(loaded->fingerprint(), tokenizer.fingerprint());
  const std::string text = read_file(kCorpus + "/bible.txt").substr(0, 100000);
  EXPECT_EQ(loaded->encode(text), tokenizer.encode(text));
  fs::remove_all(dir);
}

TEST(BpeFiles, LoadsGpt2FixturesInEveryMergeSpelling) {
  const std::vector<TokenId> expected = {265, 262, 264, 258, 220, 71, 260};  // worked out in the fixture's merges
  for (const std::string name : {"gpt2_small", "gpt2_pairs", "llama3_small"}) {
    const auto tokenizer = load_bpe_tokenizer_json(kFixtures + "/" + name + "/tokenizer.json");
    EXPECT_EQ(tokenizer->encode("the cat in the hat"), expected) << name;
    // Llama-3 style: its added tokens are not in model.vocab, and <|endoftext|> is ordinary there.
    EXPECT_EQ(tokenizer->special(SpecialRole::kEos), name == "llama3_small" ? std::nullopt : std::optional(266))
        << name;
  }
  const auto files = load_bpe_vocab_merges(kFixtures + "/gpt2_files/vocab.json", kFixtures + "/gpt2_files/merges.txt");
  EXPECT_EQ(files->encode("the cat in the hat"), expected);
  EXPECT_EQ(files->special(SpecialRole::kBos), 266);
  const auto llama = load_bpe_tokenizer_json(kFixtures + "/llama3_small/tokenizer.json");
  EXPECT_EQ(llama->options().pattern, PreTokenizerPattern::kLlama3);
  EXPECT_EQ(llama->special(SpecialRole::kBos), 267);
  EXPECT_EQ(llama->special(SpecialRole::kEndOfTurn), 268);
  EXPECT_EQ(llama->vocab_size(), 269);
}

// The gpt2_small fixture with `from` replaced by `to`, written to a fresh directory.
std::string edited_fixture(const std::string& name, const std::string& from, const std::string& to) {
  std::string text = read_file(kFixtures + "/gpt2_small/tokenizer.json");
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  const std::string path = temp_dir(name) + "/tokenizer.json";
  write_file_atomic(path, text);
  return path;
}

TEST(BpeFiles, NfcNormalizerComposesBeforeSplitting) {
  const std::string path = edited_fixture("nfc", "\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}");
  const auto tokenizer = load_bpe_tokenizer_json(path);
  EXPECT_TRUE(tokenizer->options().nfc);
  EXPECT_EQ(tokenizer->encode("cafe\u0301 the"), tokenizer->encode("caf\u00e9 the"));
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("cafe\u0301")), "caf\u00e9");
  const std::string saved = temp_dir("nfc_saved");
  tokenizer->save(saved);
  EXPECT_EQ(load_bpe_tokenizer_json(saved + "/tokenizer.json")->fingerprint(), tokenizer->fingerprint());
  fs::remove_all(fs::path(path).parent_path());
  fs::remove_all(saved);
}

// Loads the gpt2_small fixture with `from` replaced by `to`, and returns the load error.
std::string load_error(const std::string& name, const std::string& from, const std::string& to) {
  const std::string path = edited_fixture(name, from, to);
  try {
    load_bpe_tokenizer_json(path);
  } catch (const DataError& e) {
    fs::remove_all(fs::path(path).parent_path());
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for " << name;
  return {};
}

TEST(BpeFiles, ErrorsNameTheFileAndTheUnsupportedPart) {
  EXPECT_NE(load_error("json", "\"version\"", "\"version").find("is not valid JSON"), std::string::npos);
  // A number beyond a double is nlohmann's out_of_range, not a parse_error (found by fuzz_tokenizer_json).
  EXPECT_NE(load_error("overflow", "\"1.0\"", "1e400").find("is not valid JSON"), std::string::npos);
  // Ids are integers below 2^20 (found by fuzz_tokenizer_json and fuzz_vocab_merges: a float was converted
  // out of range, a negative added token's id written before the vocabulary, a large one allocated gigabytes).
  EXPECT_NE(load_error("float", "\"!\": 0", "\"!\": 1e30").find("token '!' has id 1e+30; ids are integers"),
            std::string::npos);
  EXPECT_NE(load_error("negative", "\"id\": 266", "\"id\": -3").find("added token '<|endoftext|>' has id -3"),
            std::string::npos);
  EXPECT_NE(load_error("large", "\"id\": 266", "\"id\": 1500000000").find("has id 1500000000"), std::string::npos);
  // An added token at another id than the vocabulary's spelling of it: nf wrote that content twice into the
  // vocabulary of its tokenizer.json, which then loaded differently (found by fuzz_tokenizer_json).
  EXPECT_NE(load_error("moved", "\"id\": 266", "\"id\": 267")
                .find("token '<|endoftext|>' has id 266 in the vocabulary but 267 as an added token"),
            std::string::npos);
  EXPECT_NE(load_error("pre", "\"type\": \"ByteLevel\",\n  \"add_prefix_space\": false",
                       "\"type\": \"Whitespace\",\n  \"add_prefix_space\": false")
                .find("pre_tokenizer 'Whitespace' is not supported"),
            std::string::npos);
  EXPECT_NE(load_error("norm", "\"normalizer\": null", "\"normalizer\": {\"type\": \"NFKC\"}")
                .find("normalizer 'NFKC' is not supported"),
            std::string::npos);
  EXPECT_NE(load_error("model", "\"type\": \"BPE\"", "\"type\": \"WordPiece\"").find("model.type 'WordPiece'"),
            std::string::npos);
  EXPECT_NE(load_error("merge", "\"Ġt he\"", "\"Ġt hex\"").find("merge 2 'Ġt hex' uses a token that is not in"),
            std::string::npos);
}

}  // namespace
}  // namespace nf::data
