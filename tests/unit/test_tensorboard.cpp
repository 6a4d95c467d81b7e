// TensorBoard event files are read back by an independent Python reader (the crc32c package for the
// record CRCs, a hand-written protobuf decoder for TensorFlow's field numbers).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "../support/temp_dir.h"
#include "nf/core/crc32c.h"
#include "nf/train/tensorboard.h"

namespace nf::train {
namespace {

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string out;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe.get())) out.append(buffer, n);
  return out;
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(TensorBoard, IndependentReaderSeesEveryScalar) {
  nf::testing::TempDir dir;
  std::string path;
  {
    TensorBoardWriter writer((dir.path() / "tb").string());
    path = writer.path();
    writer.add_scalar("train/loss", 9.25, 1);
    writer.add_scalar("train/lr", 3e-4, 1);
    writer.add_scalar("train/loss", 7.5, 2);
    writer.flush();
  }
  EXPECT_NE(path.find("/tb/events.out.tfevents."), std::string::npos);
  const std::string out = run(NF_PYTHON " " NF_SOURCE_DIR "/tests/python/read_tfevents.py " + path + " 2>&1");
  EXPECT_EQ(out,
            "version brain.Event:2\n"
            "1 train/loss 9.25\n"
            "1 train/lr 0.0003000000142492354\n"
            "2 train/loss 7.5\n");
}

}  // namespace
}  // namespace nf::train
