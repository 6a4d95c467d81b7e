// TensorBoard event files are read back by an independent Python reader (the crc32c package for the
// record CRCs, a hand-written protobuf decoder for TensorFlow's field numbers).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

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

// The hardware path's three interleaved streams and their join, against one bit at a time, at
// sizes around its 24 KiB blocks and at unaligned starts.
TEST(Crc32c, MatchesABitwiseReferenceAtEverySizeAndAlignment) {
  auto bitwise = [](const unsigned char* bytes, size_t size) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i) {
      crc ^= bytes[i];
      for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
  };
  std::vector<unsigned char> data(3 * 24576 + 100);
  uint32_t state = 12345;
  for (unsigned char& byte : data) byte = static_cast<unsigned char>((state = state * 1664525u + 1013904223u) >> 24);
  for (size_t size : {1ul, 7ul, 8ul, 9ul, 24575ul, 24576ul, 24577ul, 2 * 24576ul + 13, 3 * 24576ul + 99}) {
    for (size_t start : {0ul, 1ul, 3ul}) {
      if (start + size > data.size()) continue;
      EXPECT_EQ(crc32c(data.data() + start, size), bitwise(data.data() + start, size)) << size << " at " << start;
    }
  }
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
