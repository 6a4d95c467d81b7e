// Input discovery: files, directories and globs in a deterministic order, gzip recognised by
// content, duplicates dropped, clear errors.
#include <gtest/gtest.h>

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
  const auto files = discover_inputs({dir.path_string()});
  EXPECT_EQ(relative_paths(files, dir.path_string()),
            (std::vector<std::string>{"a.txt", "b/10.jsonl", "b/2.jsonl", "c/deep/x.json.gz", "y.text", "z.ndjson"}));
}

TEST(InputFiles, SpecsKeepTheirOrderGlobsAreSortedAndDuplicatesCountOnce) {
  TempDir dir;
  for (const char* name : {"p/3.jsonl", "p/1.jsonl", "p/2.txt", "q/only.jsonl"}) write_text(dir.file(name), "x\n");
  const auto files = discover_inputs({dir.file("q/only.jsonl"), dir.path_string() + "/p/*.jsonl",
                                      dir.path_string() + "/p", dir.path_string() + "/./q"});
  EXPECT_EQ(relative_paths(files, dir.path_string()),
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
  EXPECT_EQ(message({dir.path_string() + "/*.jsonl"}),
            "--input '" + dir.path_string() + "/*.jsonl' matched no input files");
  EXPECT_EQ(message({dir.file("empty")}), "--input '" + dir.file("empty") + "' matched no input files");
  EXPECT_EQ(message({}), "no --input given: name at least one file, directory or glob");
}

}  // namespace
}  // namespace nf::data
