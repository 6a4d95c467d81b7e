// Atomic writes: content lands whole, parents are created, no temporary is left behind, and a
// failed write leaves the previous file untouched; a staged directory appears whole or not at all.
#include <gtest/gtest.h>

#include "../support/temp_dir.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/hash.h"

namespace nf {
namespace {

TEST(AtomicFile, WritesWholeContentAndCreatesParents) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "a/b/file.txt").string();
  write_file_atomic(path, "first");
  write_file_atomic(path, "second version");
  EXPECT_EQ(read_file(path), "second version");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path() / "a/b")) ++entries;
  EXPECT_EQ(entries, 1);  // no temporary left behind
}

TEST(AtomicFile, FailedRenameKeepsWhatWasThereAndRemovesTheTemporary) {
  nf::testing::TempDir dir;
  // A non-empty directory cannot be replaced by rename(2), even by root.
  const std::string target = (dir.path() / "target").string();
  dir.write("target/kept.txt", "old");
  EXPECT_THROW(write_file_atomic(target, "new"), IoError);
  EXPECT_EQ(read_file(target + "/kept.txt"), "old");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);  // the temporary is gone
}

TEST(AtomicFile, WriteIntoAFileInsteadOfADirectoryFailsWithThePath) {
  nf::testing::TempDir dir;
  const std::string blocker = dir.write("blocker", "x");
  try {
    write_file_atomic(blocker + "/inside.txt", "data");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(blocker), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(blocker), "x");
}

TEST(AtomicDirectory, AppearsOnCommitOnlyAndRefusesOlderOutput) {
  nf::testing::TempDir dir;
  const std::string out = (dir.path() / "out").string();
  {
    AtomicDirectory staged(out, "export directory");
    write_file_atomic(staged.staging() + "/a.txt", "a");
    EXPECT_FALSE(std::filesystem::exists(out));
  }  // an exception on the way: nothing appears, the staging directory is gone
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  std::filesystem::create_directory(out);  // an empty one is taken over
  AtomicDirectory staged(out, "export directory");
  write_file_atomic(staged.staging() + "/a.txt", "a");
  staged.commit();
  EXPECT_EQ(read_file(out + "/a.txt"), "a");
  try {
    AtomicDirectory again(out, "export directory");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "export directory '" + out + "' exists and is not empty (remove it or choose a new one)");
  }
}

TEST(AtomicFile, FsyncDirectoryNamesAMissingDirectory) {
  nf::testing::TempDir dir;
  EXPECT_NO_THROW(fsync_directory(dir.path().string()));
  const std::string missing = (dir.path() / "missing").string();
  try {
    fsync_directory(missing);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open directory '" + missing + "': No such file or directory");
  }
}

TEST(Hash, Sha256MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  nf::testing::TempDir dir;
  EXPECT_EQ(sha256_file(dir.write("abc.txt", "abc")), sha256_hex("abc"));
  EXPECT_THROW(sha256_file((dir.path() / "missing").string()), IoError);
}

}  // namespace
}  // namespace nf
