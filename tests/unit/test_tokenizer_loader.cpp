// load_tokenizer: picks the reader from a file's name or a directory's contents, and fails with
// a message naming the path. (Sentencepiece ids are compared with the sentencepiece Python package in
// tests/python/test_sentencepiece_ids.py.)
#include <gtest/gtest.h>

#include <filesystem>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/data/tokenizer_loader.h"

namespace nf::data {
namespace {

const std::string kFixtures = std::string(NF_SOURCE_DIR) + "/tests/data/tokenizers";

template <class ErrorType>
std::string error_of(const std::string& path) {
  try {
    load_tokenizer(path);
  } catch (const ErrorType& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << path;
  return {};
}

TEST(TokenizerLoader, ReadsFilesAndDirectories) {
  const std::vector<TokenId> expected = {265, 262, 264, 258, 220, 71, 260};
  for (const std::string& path : {kFixtures + "/gpt2_small", kFixtures + "/gpt2_small/tokenizer.json",
                                  kFixtures + "/gpt2_files", kFixtures + "/gpt2_pairs"}) {
    const auto tokenizer = load_tokenizer(path);
    EXPECT_EQ(tokenizer->kind(), "bpe") << path;
    EXPECT_EQ(tokenizer->vocab_size(), 267) << path;
    EXPECT_EQ(tokenizer->encode("the cat in the hat"), expected) << path;
  }
}

TEST(TokenizerLoader, ErrorsNameThePath) {
  EXPECT_NE(error_of<UsageError>("/nonexistent/tok.json").find("'/nonexistent/tok.json' does not exist"),
            std::string::npos);
  EXPECT_NE(error_of<UsageError>(kFixtures).find("holds no tokenizer"), std::string::npos);
  EXPECT_NE(error_of<UsageError>(kFixtures + "/gpt2_files/merges.txt").find("cannot tell the format"),
            std::string::npos);
  const std::string bad_model = (std::filesystem::temp_directory_path() / "nf_bad_tokenizer.model").string();
  write_file_atomic(bad_model, "not a protobuf");
  EXPECT_NE(error_of<DataError>(bad_model).find("'" + bad_model + "' is not a sentencepiece model"), std::string::npos);
  std::filesystem::remove(bad_model);
}

}  // namespace
}  // namespace nf::data
