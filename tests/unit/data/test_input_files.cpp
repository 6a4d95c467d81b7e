// Input discovery and splitting: files, directories and globs in a deterministic order, gzip
// recognised by content, duplicates dropped, clear errors, and byte-balanced contiguous groups.
#include <gtest/gtest.h>

#include <numeric>

#include "corpus.h"
#include "nf/core/error.h"
#include "nf/data/input_files.h"

namespace nf::data {
namespace {

using testing::TempDir;
using testing::write_gzip;
using testing::write_text;

std::vector<std::string> relative_paths(const std::vector<InputFile>& files, const std::string& root) {
  std::vector<std::string> paths;
  for (const InputFile& file : files) paths.push_back(file.path.substr(root.size() + 1));
  return paths;
}

TEST(InputFiles, DirectoriesAreWalkedRecursivelyInSortedOrderSkippingHiddenAndOtherFiles) {
  TempDir dir;
  for (const char* name : {"b/2.jsonl", "b/10.jsonl", "a.txt", "c/deep/x.json.gz", "notes.md", ".hidden.jsonl",
                           ".git/objects.txt", "b/readme", "z.ndjson", "y.text"}) {
    write_text(dir.file(name), "{}\n");
  }
  const auto files = discover_inputs({dir.path()});
  EXPECT_EQ(relative_paths(files, dir.path()),
            (std::vector<std::string>{"a.txt", "b/10.jsonl", "b/2.jsonl", "c/deep/x.json.gz", "y.text", "z.ndjson"}));
}

TEST(InputFiles, SpecsKeepTheirOrderGlobsAreSortedAndDuplicatesCountOnce) {
  TempDir dir;
  for (const char* name : {"p/3.jsonl", "p/1.jsonl", "p/2.txt", "q/only.jsonl"}) write_text(dir.file(name), "x\n");
  const auto files =
      discover_inputs({dir.file("q/only.jsonl"), dir.path() + "/p/*.jsonl", dir.path() + "/p", dir.path() + "/./q"});
  EXPECT_EQ(relative_paths(files, dir.path()),
            (std::vector<std::string>{"q/only.jsonl", "p/1.jsonl", "p/3.jsonl", "p/2.txt"}));
}

TEST(InputFiles, AnExplicitFileIsTakenWhateverItsNameAndGzipIsRecognisedByContent) {
  TempDir dir;
  write_text(dir.file("data.csv"), "hello\n");
  write_gzip(dir.file("packed.bin"), "hello\n");
  write_text(dir.file("fake.gz"), "not gzip\n");
  const auto files = discover_inputs({dir.file("data.csv"), dir.file("packed.bin"), dir.file("fake.gz")});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_FALSE(files[0].gzip);
  EXPECT_EQ(files[0].bytes, 6);
  EXPECT_TRUE(files[1].gzip);
  EXPECT_FALSE(files[2].gzip);
  EXPECT_EQ(total_bytes(files), 6 + files[1].bytes + 9);
}

TEST(InputFiles, MissingInputsAndEmptyMatchesSayWhichSpec) {
  TempDir dir;
  write_text(dir.file("empty/readme.md"), "x");
  const auto message = [](const std::vector<std::string>& specs) {
    try {
      discover_inputs(specs);
    } catch (const UsageError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({dir.file("nope.jsonl")}), "--input '" + dir.file("nope.jsonl") + "': no such file or directory");
  EXPECT_EQ(message({dir.path() + "/*.jsonl"}), "--input '" + dir.path() + "/*.jsonl' matched no input files");
  EXPECT_EQ(message({dir.file("empty")}), "--input '" + dir.file("empty") + "' matched no input files");
  EXPECT_EQ(message({}), "no --input given: name at least one file, directory or glob");
}

std::vector<InputFile> sized(const std::vector<int64_t>& sizes) {
  std::vector<InputFile> files;
  for (size_t i = 0; i < sizes.size(); ++i) files.push_back({"f" + std::to_string(i), sizes[i], false});
  return files;
}

std::vector<std::string> flatten(const std::vector<std::vector<InputFile>>& groups) {
  std::vector<std::string> paths;
  for (const auto& group : groups) {
    for (const InputFile& file : group) paths.push_back(file.path);
  }
  return paths;
}

TEST(SplitInputs, GroupsAreContiguousInOrderAndNearEqualInBytes) {
  std::vector<int64_t> sizes;
  for (int i = 0; i < 100; ++i) sizes.push_back(1000 + (i * 7919) % 5000);
  const auto files = sized(sizes);
  const int64_t total = total_bytes(files);
  for (int parts : {1, 2, 3, 7, 16}) {
    const auto groups = split_inputs(files, parts);
    ASSERT_EQ(static_cast<int>(groups.size()), parts);
    std::vector<std::string> expected;
    for (const InputFile& file : files) expected.push_back(file.path);
    EXPECT_EQ(flatten(groups), expected) << parts;
    for (const auto& group : groups) {
      // Each group is within one file (at most 6000 bytes) of the ideal share.
      EXPECT_NEAR(static_cast<double>(total_bytes(group)), static_cast<double>(total) / parts, 6000.0) << parts;
    }
    EXPECT_EQ(flatten(split_inputs(files, parts)), flatten(groups));  // deterministic
  }
}

TEST(SplitInputs, FewerFilesThanPartsLeavesGroupsEmptyAndEmptyFilesStillSpread) {
  const auto groups = split_inputs(sized({10, 10}), 4);
  EXPECT_EQ(groups[0].size() + groups[1].size() + groups[2].size() + groups[3].size(), 2u);
  const auto empties = split_inputs(sized({0, 0, 0, 0}), 2);
  EXPECT_EQ(empties[0].size(), 2u);
  EXPECT_EQ(empties[1].size(), 2u);
  const auto dominated = split_inputs(sized({1, 1000000, 1}), 3);
  EXPECT_EQ(flatten(dominated), (std::vector<std::string>{"f0", "f1", "f2"}));
  EXPECT_THROW(split_inputs(sized({1}), 0), UsageError);
}

}  // namespace
}  // namespace nf::data
