// Every way a dataset can be bad, and the message the user gets: missing or damaged manifest,
// missing, truncated, corrupted or foreign shards, wrong magic or version, token ids outside the
// vocabulary, a tokenizer or vocabulary that does not match the model, and bad writer input.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>

#include "data_fixture.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/data/data_loader.h"
#include "nf/data/verify.h"

namespace nf::data {
namespace {

// Loader options of packed rows of `seq_len` tokens (all samples_per_epoch reads of them).
LoaderOptions packed_rows(int64_t seq_len) {
  LoaderOptions options;
  options.seq_len = seq_len;
  return options;
}

using namespace nf::data::testing;
namespace fs = std::filesystem;

// Runs `action`, expects a DataError whose message contains every one of `parts`; returns it.
template <class Action>
std::string expect_data_error(Action action, std::initializer_list<std::string> parts) {
  try {
    action();
  } catch (const DataError& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << part;
    EXPECT_FALSE(e.hint().empty()) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return {};
}

class DataErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<EncodedDocument> docs;
    for (const std::string& verse : bible_verses("Jude1:1-Jude1:25")) docs.push_back(pretrain_document(verse));
    manifest_ = write_dataset(dir_.path_string(), DatasetFormat::kPretrain, docs);
    shard_ = dir_.file(manifest_.split("train", dir_.path_string()).shards.at(0).file);
  }

  // Rewrites root attribute `name` of the shard in place.
  void set_attribute(const char* name, const std::string* text, int64_t number) {
    const hid_t file = H5Fopen(shard_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    H5Adelete(file, name);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t type = text ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_STD_I64LE);
    if (text) H5Tset_size(type, text->size());
    const hid_t attribute = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (text) {
      H5Awrite(attribute, type, text->data());
    } else {
      H5Awrite(attribute, H5T_NATIVE_INT64, &number);
    }
    H5Aclose(attribute);
    H5Tclose(type);
    H5Sclose(space);
    H5Fclose(file);
  }

  void set_token(uint64_t index, uint32_t value) {
    const hid_t file = H5Fopen(shard_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t dataset = H5Dopen2(file, "tokens", H5P_DEFAULT);
    const hid_t space = H5Dget_space(dataset);
    const hsize_t start = index, count = 1;
    H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
    const hid_t memory = H5Screate_simple(1, &count, nullptr);
    H5Dwrite(dataset, H5T_NATIVE_UINT32, memory, space, H5P_DEFAULT, &value);
    H5Sclose(memory);
    H5Sclose(space);
    H5Dclose(dataset);
    H5Fclose(file);
  }

  TempDir dir_;
  Manifest manifest_;
  std::string shard_;
};

TEST_F(DataErrors, MissingManifestMeansIncompleteBuild) {
  fs::remove(dir_.file("manifest.json"));
  expect_data_error([&] { TokenDataset dataset(dir_.path_string()); },
                    {"no manifest.json in '" + dir_.path_string() + "'", "build did not finish"});
}

TEST_F(DataErrors, ManifestWithWrongMagicOrVersion) {
  auto json = manifest_to_json(manifest_);
  json["magic"] = "SOMETHING";
  write_file_atomic(dir_.file("manifest.json"), json.dump());
  expect_data_error([&] { read_manifest(dir_.path_string()); }, {"manifest.json", "bad magic 'SOMETHING'"});
  json["magic"] = "NFDATASET";
  json["format_version"] = 2;
  write_file_atomic(dir_.file("manifest.json"), json.dump());
  expect_data_error([&] { read_manifest(dir_.path_string()); }, {"manifest.json", "format_version 2 is not supported"});
  write_file_atomic(dir_.file("manifest.json"), "{\"magic\": ");
  expect_data_error([&] { read_manifest(dir_.path_string()); }, {"manifest.json", "not valid JSON"});
  write_file_atomic(dir_.file("manifest.json"), "{\"magic\": 1e400}");  // beyond a double (found by fuzzing)
  expect_data_error([&] { read_manifest(dir_.path_string()); }, {"manifest.json", "not valid JSON"});
  json["format_version"] = 1;
  json["tokenizer"]["vocab_size"] = 1e30;  // a float: would be converted out of int64's range
  write_file_atomic(dir_.file("manifest.json"), json.dump());
  expect_data_error([&] { read_manifest(dir_.path_string()); }, {"key 'vocab_size' has the wrong type"});
}

TEST_F(DataErrors, MissingShard) {
  fs::remove(shard_);
  expect_data_error([&] { TokenDataset dataset(dir_.path_string()); }, {"shard '" + shard_ + "' is missing"});
  const VerifyReport report = verify_dataset(dir_.path_string());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("is missing"), std::string::npos);
  expect_data_error([&] { require_valid(report, dir_.path_string()); }, {"failed verification", shard_});
}

TEST_F(DataErrors, TruncatedShard) {
  fs::resize_file(shard_, fs::file_size(shard_) / 2);
  expect_data_error([&] { TokenDataset dataset(dir_.path_string()); }, {"shard '" + shard_ + "'", "truncated"});
  EXPECT_FALSE(verify_dataset(dir_.path_string()).ok());
}

TEST_F(DataErrors, NotAnHdf5File) {
  write_file_atomic(shard_, "these are not the tokens you are looking for");
  expect_data_error([&] { TokenDataset dataset(dir_.path_string()); }, {"cannot open shard '" + shard_ + "' as HDF5"});
}

TEST_F(DataErrors, CorruptedBytesFailTheChecksum) {
  {
    std::fstream file(shard_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(shard_) - 100));
    file.put('\x7f');
  }
  TokenDatasetOptions options;
  options.verify_checksums = true;
  expect_data_error([&] { TokenDataset dataset(dir_.path_string(), options); },
                    {"checksum mismatch in shard '" + shard_ + "'", manifest_.splits.at("train").shards[0].sha256});
  const VerifyReport report = verify_dataset(dir_.path_string());
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.problems[0].find("checksum mismatch"), std::string::npos);
}

// Ids are checked even in a dataset without chunk checksums (built before them), where a
// damaged id would otherwise go unnoticed.
TEST_F(DataErrors, TokenIdOutsideTheVocabulary) {
  set_token(10, 300);
  strip_chunk_checksums(dir_.path_string());
  const TokenDataset dataset(dir_.path_string());
  std::vector<TokenId> ids(64);
  expect_data_error([&] { dataset.copy_tokens(0, 64, ids.data()); },
                    {"shard '" + shard_ + "'", "token at offset 10 has id 300", "[0, 260)"});
  const VerifyReport report = verify_dataset(dir_.path_string(), {false, true});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("token at offset 10 has id 300"), std::string::npos);
}

TEST_F(DataErrors, WrongShardMagicOrVersion) {
  const std::string magic = "NOTTOKEN";
  set_attribute("magic", &magic, 0);
  expect_data_error([&] { TokenDataset dataset(dir_.path_string()); },
                    {"bad magic 'NOTTOKEN' in shard '" + shard_ + "'"});
  const std::string good = "NFTOKENS";
  set_attribute("magic", &good, 0);
  set_attribute("format_version", nullptr, 2);
  expect_data_error([&] { TokenDataset dataset(dir_.path_string()); }, {"shard '" + shard_ + "' has format_version 2"});
}

TEST_F(DataErrors, ShardFromAnotherTokenizer) {
  const std::string other = "another-tokenizer";
  set_attribute("tokenizer_fingerprint", &other, 0);
  expect_data_error([&] { TokenDataset dataset(dir_.path_string()); },
                    {"shard '" + shard_ + "'", "tokenized by tokenizer"});
}

TEST_F(DataErrors, ModelTokenizerOrVocabularyMismatch) {
  TokenDatasetOptions options;
  options.tokenizer_fingerprint = "the-model-tokenizer";
  expect_data_error([&] { TokenDataset dataset(dir_.path_string(), options); },
                    {"dataset '" + dir_.path_string() + "'", kFingerprint, "the model expects the-model-tokenizer"});
  options.tokenizer_fingerprint = kFingerprint;
  options.model_vocab_size = 256;
  expect_data_error([&] { TokenDataset dataset(dir_.path_string(), options); },
                    {"has vocab_size 260 but the model's vocab_size is 256"});
  options.model_vocab_size = 320;  // a padded model vocabulary is fine
  EXPECT_NO_THROW(TokenDataset(dir_.path_string(), options));
  options.split = "val";
  expect_data_error([&] { TokenDataset dataset(dir_.path_string(), options); }, {"has no split 'val' (it has: train)"});
}

TEST_F(DataErrors, SplitTooSmallForSeqLen) {
  const TokenDataset dataset(dir_.path_string());
  expect_data_error([&] { samples_per_epoch(dataset, packed_rows(1 << 20)); },
                    {"too few for one sample of seq_len 1048576"});
}

TEST(WriterErrors, BadDocumentsNameTheirSource) {
  TempDir dir;
  ShardWriter writer({dir.path_string(), "train", "", DatasetFormat::kSft, kByteVocab, kFingerprint, 1 << 20});
  EncodedDocument doc = sft_document("q", "a");
  doc.source = "chat.jsonl:7";
  doc.tokens[1] = 4000;
  expect_data_error([&] { writer.add(doc); }, {"document chat.jsonl:7", "id 4000", "[0, 260)"});
  doc = sft_document("q", "a");
  doc.source = "chat.jsonl:8";
  doc.loss_mask.pop_back();
  expect_data_error([&] { writer.add(doc); }, {"document chat.jsonl:8", "loss mask has"});
  EncodedDocument dpo = dpo_document("p", "c", "r");
  dpo.source = "prefs.jsonl:3";
  dpo.dpo->chosen += 1;
  ShardWriter dpo_writer({dir.path_string(), "train", "dpo", DatasetFormat::kDpo, kByteVocab, kFingerprint, 1 << 20});
  expect_data_error([&] { dpo_writer.add(dpo); }, {"document prefs.jsonl:3", "dpo spans"});
}

}  // namespace
}  // namespace nf::data
