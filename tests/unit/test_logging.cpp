// Rank-aware logging: the rank prefix, rank-0-only by default, all ranks on request, warnings
// from every rank, level filtering, and the file mirror.
#include <gtest/gtest.h>

#include <sstream>

#include "../support/temp_dir.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/logging.h"

namespace nf {
namespace {

std::string log_all(LoggerOptions options) {
  std::ostringstream out;
  Logger log(options, &out);
  log.debug("d");
  log.info("step ", 3, " loss ", 1.5);
  log.warn("w");
  log.error("e");
  return out.str();
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(Logging, RankZeroPrintsInfoWithPrefix) {
  const std::string out = log_all({0, 4, LogLevel::kInfo, false});
  EXPECT_EQ(count_lines(out), 3);
  EXPECT_EQ(out.rfind("[rank 0/4] ", 0), 0u);
  EXPECT_NE(out.find(" INFO step 3 loss 1.5\n"), std::string::npos);
  EXPECT_EQ(out.find("DEBUG"), std::string::npos);
}

TEST(Logging, OtherRanksPrintOnlyWarningsUnlessAllRanks) {
  const std::string quiet = log_all({2, 4, LogLevel::kInfo, false});
  EXPECT_EQ(count_lines(quiet), 2);
  EXPECT_NE(quiet.find("[rank 2/4] "), std::string::npos);
  EXPECT_NE(quiet.find(" WARN w\n"), std::string::npos);
  EXPECT_EQ(count_lines(log_all({2, 4, LogLevel::kInfo, true})), 3);
  EXPECT_EQ(count_lines(log_all({2, 4, LogLevel::kDebug, true})), 4);
  EXPECT_EQ(count_lines(log_all({0, 1, LogLevel::kError, false})), 1);
}

TEST(Logging, EveryLineIsPrefixed) {
  const std::string out = log_all({1, 8, LogLevel::kDebug, true});
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) EXPECT_EQ(line.rfind("[rank 1/8] ", 0), 0u) << line;
}

TEST(Logging, FileMirrorAppendsTheSameLines) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "train.log").string();
  std::ostringstream out;
  Logger log({0, 1, LogLevel::kInfo, false}, &out);
  log.add_file(path);
  log.info("hello");
  EXPECT_EQ(read_file(path), out.str());
  EXPECT_THROW(log.add_file((dir.path() / "no/such/dir/x.log").string()), IoError);
}

}  // namespace
}  // namespace nf
