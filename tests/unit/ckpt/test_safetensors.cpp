// safetensors: round trips of every dtype (bf16 included), empty metadata, empty and 0-element
// tensors, subsets by name; and corrupted files (truncated, header length out of bounds, bad JSON,
// overlapping or holed offsets, dtype x shape vs byte range) failing with the file, the tensor and
// the offset named.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "../../support/temp_dir.h"
#include "nf/ckpt/safetensors.h"
#include "nf/ckpt/safetensors_stream.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/hash.h"

namespace nf::ckpt {
namespace {

// Every dtype the format names, with values that use the whole range of each (negative, large,
// fractional), so a wrong element size or byte order shows.
NamedTensors every_dtype() {
  torch::manual_seed(5);
  const torch::Tensor base = torch::randn({3, 5}) * 1000;
  return {{"f64", base.to(torch::kFloat64) / 7},
          {"f32", base / 3},
          {"bf16", (base / 3).to(torch::kBFloat16)},
          {"f16", (base / 30).to(torch::kFloat16)},
          {"i64", (base * 1e9).to(torch::kInt64)},
          {"i32", (base * 1e5).to(torch::kInt32)},
          {"i16", (base * 10).to(torch::kInt16)},
          {"i8", (base / 10).to(torch::kInt8)},
          {"u8", torch::arange(256).to(torch::kUInt8).reshape({16, 16})},
          {"bool", base > 0}};
}

void expect_same(const NamedTensors& expected, const NamedTensors& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(expected[i].first, actual[i].first);
    EXPECT_EQ(expected[i].second.scalar_type(), actual[i].second.scalar_type()) << expected[i].first;
    EXPECT_EQ(expected[i].second.sizes(), actual[i].second.sizes()) << expected[i].first;
    EXPECT_TRUE(torch::equal(expected[i].second, actual[i].second)) << expected[i].first;
  }
}

// A file from a literal header and data section, for the corruption tests.
std::string raw_file(const nf::testing::TempDir& dir, const std::string& header, size_t data_bytes,
                     const std::string& name = "bad.safetensors") {
  const uint64_t length = header.size();
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &length, 8);
  return dir.write(name, bytes + header + std::string(data_bytes, '\x01'));
}

// Opening `path` throws CheckpointError whose message holds every one of `parts`.
void expect_error(const std::string& path, const std::vector<std::string>& parts) {
  try {
    SafetensorsFile file(path);
    FAIL() << "expected CheckpointError for " << path;
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

TEST(Safetensors, RoundTripsEveryDtypeWithMetadataInOrder) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "all.safetensors").string();
  const NamedTensors tensors = every_dtype();
  write_safetensors(path, tensors, {{"format", "pt"}, {"step", "120"}});
  SafetensorsFile file(path);
  expect_same(tensors, file.read_all());
  EXPECT_EQ(file.metadata(), (Metadata{{"format", "pt"}, {"step", "120"}}));
  EXPECT_EQ(safetensors_dtype_name(file.info("bf16").dtype), "BF16");
  EXPECT_EQ(file.info("u8").shape, (std::vector<int64_t>{16, 16}));
}

TEST(Safetensors, HeaderIsPaddedTo8BytesAndHasNoMetadataWhenEmpty) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "a.safetensors").string();
  write_safetensors(path, {{"x", torch::ones({3}, torch::kBFloat16)}});
  const std::string bytes = read_file(path);
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  EXPECT_EQ(length % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + length + 6);
  const auto header = nlohmann::json::parse(bytes.substr(8, length));
  EXPECT_FALSE(header.contains("__metadata__"));
  EXPECT_EQ(header["x"]["data_offsets"], nlohmann::json::array({0, 6}));
  EXPECT_TRUE(SafetensorsFile(path).metadata().empty());
}

TEST(Safetensors, RoundTripsZeroElementScalarAndNonContiguousTensors) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "shapes.safetensors").string();
  const torch::Tensor matrix = torch::arange(12, torch::kFloat32).reshape({3, 4});
  const NamedTensors tensors = {{"empty", torch::zeros({0, 3})},
                                {"scalar", torch::tensor(2.5)},
                                {"transposed", matrix.t()},
                                {"also_empty", torch::zeros({2, 0}, torch::kInt64)}};
  write_safetensors(path, tensors);
  SafetensorsFile file(path);
  expect_same(tensors, file.read(std::vector<std::string>{"empty", "scalar", "transposed", "also_empty"}));
  EXPECT_TRUE(file.read("scalar").sizes().empty());

  const std::string none = (dir.path() / "none.safetensors").string();
  write_safetensors(none, {});
  EXPECT_TRUE(SafetensorsFile(none).tensors().empty());
}

TEST(Safetensors, ReadsASubsetByNameAndListsWithoutReading) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "all.safetensors").string();
  const NamedTensors tensors = every_dtype();
  write_safetensors(path, tensors);
  SafetensorsFile file(path);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_EQ(file.tensors()[i].name, tensors[i].first);  // file order
  const NamedTensors subset = file.read(std::vector<std::string>{"i16", "f32"});
  expect_same({tensors[6], tensors[1]}, subset);
  EXPECT_TRUE(file.contains("bool"));
  EXPECT_FALSE(file.contains("missing"));
  try {
    file.read("missing");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'missing'"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, WriterRejectsBadNamesAndDtypesAndLeavesNoFile) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "bad.safetensors").string();
  const torch::Tensor x = torch::ones({2});
  EXPECT_THROW(write_safetensors(path, {{"a", x}, {"a", x}}), CheckpointError);
  EXPECT_THROW(write_safetensors(path, {{"__metadata__", x}}), CheckpointError);
  EXPECT_THROW(write_safetensors(path, {{"", x}}), CheckpointError);
  EXPECT_THROW(write_safetensors(path, {{"c", torch::ones({2}, torch::kComplexFloat)}}), CheckpointError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Safetensors, StreamWriterWritesWhatWriteSafetensorsWritesAndChecksEachTensor) {
  nf::testing::TempDir dir;
  const NamedTensors tensors{{"w", torch::randn({3, 4})}, {"n", torch::arange(5, torch::kInt64)}};
  const std::string whole = (dir.path() / "whole.safetensors").string();
  const std::string streamed = (dir.path() / "streamed.safetensors").string();
  const std::string whole_digest = write_safetensors(whole, tensors, {{"k", "v"}});
  const std::vector<TensorDeclaration> declared{{"w", torch::kFloat, {3, 4}}, {"n", torch::kInt64, {5}}};
  std::string streamed_digest;
  {
    SafetensorsStreamWriter writer(streamed, declared, {{"k", "v"}});
    for (const auto& [name, tensor] : tensors) writer.append(name, tensor);
    streamed_digest = writer.commit();
  }
  EXPECT_EQ(read_file(streamed), read_file(whole));
  // The SHA-256 computed while writing is the file's.
  EXPECT_EQ(whole_digest, nf::sha256_file(whole));
  EXPECT_EQ(streamed_digest, whole_digest);

  const std::string bad = (dir.path() / "bad.safetensors").string();
  const auto expect_message = [](const std::function<void()>& call, const std::string& message) {
    try {
      call();
      FAIL() << "expected CheckpointError: " << message;
    } catch (const CheckpointError& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
  };
  expect_message(
      [&] {
        SafetensorsStreamWriter writer(bad, declared);
        writer.append("n", tensors[1].second);
      },
      "cannot write '" + bad + "': tensor 'n' came where 'w' was declared");
  expect_message(
      [&] {
        SafetensorsStreamWriter writer(bad, declared);
        writer.append("w", torch::zeros({4, 3}));
      },
      "cannot write '" + bad + "': tensor 'w' is F32 [4, 3] but was declared F32 [3, 4]");
  expect_message(
      [&] {
        SafetensorsStreamWriter writer(bad, declared);
        writer.append("w", tensors[0].second);
        writer.commit();
      },
      "cannot finish '" + bad + "': 1 of the 2 declared tensors were written");
  EXPECT_FALSE(std::filesystem::exists(bad));
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 2);  // no temporaries left
}

TEST(Safetensors, RewriteReplacesTheFileAndLeavesNoTemporary) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "a.safetensors").string();
  write_safetensors(path, {{"x", torch::ones({4})}});
  write_safetensors(path, {{"y", torch::zeros({2, 2}, torch::kInt32)}});
  SafetensorsFile file(path);
  ASSERT_EQ(file.tensors().size(), 1u);
  EXPECT_EQ(file.tensors()[0].name, "y");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(Safetensors, DescribeListsMetadataTensorsAndTotals) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "a.safetensors").string();
  write_safetensors(path, {{"w", torch::zeros({2, 3}, torch::kBFloat16)}, {"n", torch::zeros({4})}}, {{"step", "7"}});
  const std::string text = describe(SafetensorsFile(path));
  EXPECT_NE(text.find(": 2 tensors\n"), std::string::npos) << text;
  EXPECT_NE(text.find("metadata step = 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  w  BF16 [2, 3]  bytes [0, 12)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  n  F32 [4]  bytes [12, 28)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("total: 10 elements, 28 bytes of data\n"), std::string::npos) << text;
}

TEST(SafetensorsErrors, TruncatedFileNamesTheTensorAndOffset) {
  nf::testing::TempDir dir;
  const std::string path = (dir.path() / "t.safetensors").string();
  write_safetensors(path, {{"first", torch::ones({4})}, {"last", torch::ones({8})}});
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 4);
  expect_error(path, {"tensor 'last'", "file offset " + std::to_string(size), "truncated"});
  std::filesystem::resize_file(path, 5);
  expect_error(path, {"too short"});
}

TEST(SafetensorsErrors, HeaderLengthBeyondTheFileOrTheLimit) {
  nf::testing::TempDir dir;
  std::string bytes(8, '\0');
  const uint64_t huge = 1'000'000'000'000ull;
  std::memcpy(bytes.data(), &huge, 8);
  expect_error(dir.write("huge.safetensors", bytes + "{}"), {"header length 1000000000000", "limit"});
  const uint64_t past = 100;
  std::memcpy(bytes.data(), &past, 8);
  expect_error(dir.write("past.safetensors", bytes + "{}"), {"header length 100", "past the end", "truncated"});
}

TEST(SafetensorsErrors, MalformedHeaders) {
  nf::testing::TempDir dir;
  expect_error(raw_file(dir, "{\"a\": {\"dtype\": \"F32\"", 0), {"not valid JSON"});
  expect_error(raw_file(dir, "[1, 2]", 0), {"not a JSON object"});
  expect_error(raw_file(dir, R"({"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}})", 1),
               {"tensor 'a'", "unsupported dtype \"Q4\""});
  expect_error(raw_file(dir, R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8),
               {"tensor 'a'", "non-negative"});
  expect_error(raw_file(dir, R"({"a": {"dtype": "F32", "shape": [2]}})", 8), {"tensor 'a'", "data_offsets"});
  expect_error(raw_file(dir, R"({"__metadata__": {"step": 3}})", 0), {"__metadata__", "'step'"});
  // A number beyond a double is nlohmann's out_of_range, not a parse_error (found by fuzz_safetensors).
  expect_error(raw_file(dir, R"({"a": {"dtype": "F32", "shape": [1e400], "data_offsets": [0, 4]}})", 4),
               {"not valid JSON", "number overflow"});
}

// The header checks (safetensors_header.cpp, without LibTorch) size every dtype as LibTorch does.
TEST(Safetensors, TheHeaderChecksSizeEveryDtypeAsLibTorchDoes) {
  for (const auto& [name, tensor] : every_dtype()) {
    EXPECT_EQ(safetensors_dtype_bytes(safetensors_dtype_name(tensor.scalar_type())), tensor.element_size()) << name;
  }
}

TEST(SafetensorsErrors, DtypeSizeTimesShapeMustMatchTheByteRange) {
  nf::testing::TempDir dir;
  expect_error(raw_file(dir, R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8),
               {"tensor 'w' (F32 [3])", "needs 12 bytes", "[0, 8]"});
  expect_error(raw_file(dir, R"({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 16]}})", 16),
               {"tensor 'w' (BF16 [2, 2])", "needs 8 bytes"});
}

TEST(SafetensorsErrors, OverlappingHoledAndTrailingRanges) {
  nf::testing::TempDir dir;
  expect_error(raw_file(dir,
                        R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                            "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})",
                        24),
               {"tensor 'b'", "data offset 8", "overlaps tensor 'a'", "ends at data offset 16"});
  expect_error(raw_file(dir,
                        R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}})",
                        24),
               {"tensor 'b'", "starts at data offset 16", "8 bytes belong to no tensor"});
  expect_error(raw_file(dir, R"({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", 5),
               {"3 bytes after the last tensor"});
}

}  // namespace
}  // namespace nf::ckpt
