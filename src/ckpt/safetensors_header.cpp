// The safetensors header, parsed and checked without LibTorch (safetensors_header.h). The layout
// rules follow the format's reference implementation: header length capped at 100 MB, tensor byte
// ranges tiling the data section.
#include "nf/ckpt/safetensors_header.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "nf/core/error.h"

namespace nf::ckpt {
namespace {

// The reference implementation refuses larger headers; so do we, before allocating one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeBytes {
  const char* name;
  size_t bytes;
};
constexpr std::array<DtypeBytes, 10> kDtypeBytes = {{{"F64", 8},
                                                     {"F32", 4},
                                                     {"BF16", 2},
                                                     {"F16", 2},
                                                     {"I64", 8},
                                                     {"I32", 4},
                                                     {"I16", 2},
                                                     {"I8", 1},
                                                     {"U8", 1},
                                                     {"BOOL", 1}}};

// "tensor 'w' (F32 [2, 3])", the shape spelled as LibTorch prints one.
std::string describe(const HeaderTensor& tensor) {
  std::ostringstream out;
  out << "tensor '" << tensor.name << "' (" << tensor.dtype << " [";
  for (size_t i = 0; i < tensor.shape.size(); ++i) out << (i ? ", " : "") << tensor.shape[i];
  out << "])";
  return out.str();
}

// dtype size x shape; max() on overflow, which no file can hold, so the size check fails.
uint64_t byte_size(const HeaderTensor& tensor) {
  uint64_t bytes = safetensors_dtype_bytes(tensor.dtype);
  for (const int64_t dim : tensor.shape) {
    if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim))
      return std::numeric_limits<uint64_t>::max();
    bytes *= static_cast<uint64_t>(dim);
  }
  return bytes;
}

// One header entry, checked field by field; `where` names the file for messages.
HeaderTensor parse_entry(const std::string& where, const std::string& name, const nlohmann::json& entry) {
  const std::string prefix = where + ": tensor '" + name + "'";
  NF_CHECK(entry.is_object(), CheckpointError, prefix, ": header entry is not a JSON object");
  NF_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), CheckpointError, prefix, ": no \"dtype\" string");
  NF_CHECK(entry.contains("shape") && entry["shape"].is_array(), CheckpointError, prefix, ": no \"shape\" array");
  NF_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() && entry["data_offsets"].size() == 2,
           CheckpointError, prefix, ": no \"data_offsets\" [begin, end] pair");
  HeaderTensor tensor;
  tensor.name = name;
  tensor.dtype = entry["dtype"].get<std::string>();
  NF_CHECK(safetensors_dtype_bytes(tensor.dtype) > 0, CheckpointError, prefix, ": unsupported dtype \"", tensor.dtype,
           "\"");
  for (const auto& dim : entry["shape"]) {
    NF_CHECK(dim.is_number_unsigned(), CheckpointError, prefix, ": shape ", entry["shape"].dump(),
             " holds something other than a non-negative integer");
    NF_CHECK(dim.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), CheckpointError, prefix,
             ": dimension ", dim.dump(), " is too large");
    tensor.shape.push_back(dim.get<int64_t>());
  }
  const auto& offsets = entry["data_offsets"];
  NF_CHECK(offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(), CheckpointError, prefix,
           ": data_offsets ", offsets.dump(), " are not non-negative integers");
  tensor.begin = offsets[0].get<uint64_t>();
  tensor.end = offsets[1].get<uint64_t>();
  NF_CHECK(tensor.begin <= tensor.end, CheckpointError, prefix, ": data_offsets ", offsets.dump(),
           " end before they begin");
  const uint64_t expected = byte_size(tensor);
  NF_CHECK(tensor.end - tensor.begin == expected, CheckpointError, where, ": ", describe(tensor), " needs ", expected,
           " bytes but data_offsets [", tensor.begin, ", ", tensor.end, "] hold ", tensor.end - tensor.begin,
           " (the dtype or the shape is wrong)");
  return tensor;
}

// The ranges, sorted by offset, must tile [0, data_bytes) exactly: no overlap, no hole, nothing
// past the end of the file and nothing after the last tensor.
void check_layout(const std::string& where, const std::vector<HeaderTensor>& tensors, uint64_t data_start,
                  uint64_t data_bytes) {
  uint64_t covered = 0;
  const HeaderTensor* previous = nullptr;
  for (const HeaderTensor& tensor : tensors) {
    NF_CHECK(tensor.begin >= covered, CheckpointError, where, ": ", describe(tensor), " at data offset ", tensor.begin,
             " overlaps tensor '", previous ? previous->name : "", "', which ends at data offset ", covered);
    NF_CHECK(tensor.begin == covered, CheckpointError, where, ": ", describe(tensor), " starts at data offset ",
             tensor.begin, " but the previous tensor ends at ", covered, ": ", tensor.begin - covered,
             " bytes belong to no tensor");
    NF_CHECK(tensor.end <= data_bytes, CheckpointError, where, ": ", describe(tensor), " ends at file offset ",
             data_start + tensor.end, ", past the end of the file (", data_start + data_bytes,
             " bytes): the file is truncated");
    covered = tensor.end;
    previous = &tensor;
  }
  NF_CHECK(covered == data_bytes, CheckpointError, where, ": ", data_bytes - covered,
           " bytes after the last tensor at file offset ", data_start + covered, " belong to no tensor");
}

Metadata parse_metadata(const std::string& where, const nlohmann::json& value) {
  NF_CHECK(value.is_object(), CheckpointError, where, ": ", kSafetensorsMetadataKey, " is not a JSON object");
  Metadata metadata;
  for (const auto& [key, item] : value.items()) {
    NF_CHECK(item.is_string(), CheckpointError, where, ": ", kSafetensorsMetadataKey, " value of '", key,
             "' is not a string: ", item.dump());
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

}  // namespace

size_t safetensors_dtype_bytes(const std::string& name) {
  for (const DtypeBytes& d : kDtypeBytes)
    if (name == d.name) return d.bytes;
  return 0;
}

uint64_t safetensors_header_length(const std::string& path, std::string_view start, uint64_t file_size) {
  NF_CHECK(file_size >= 8 && start.size() >= 8, CheckpointError, "'", path, "' is ", file_size,
           " bytes, too short for a safetensors file (8-byte header length first)");
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the header length is little-endian");
  uint64_t header_length = 0;
  std::memcpy(&header_length, start.data(), sizeof(header_length));
  NF_CHECK(header_length <= kMaxHeaderBytes, CheckpointError, "'", path, "': header length ", header_length,
           " (at offset 0) is over the 100000000-byte limit: not a safetensors file, or a corrupted one");
  NF_CHECK(header_length <= file_size - 8, CheckpointError, "'", path, "': header length ", header_length,
           " (at offset 0) runs past the end of the file (", file_size, " bytes): the file is truncated");
  return header_length;
}

SafetensorsHeader parse_safetensors_header(const std::string& path, std::string_view text, uint64_t file_size) {
  const uint64_t data_start = 8 + text.size();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // a parse_error, or out_of_range for a number like 1e400
    throw CheckpointError("'" + path + "': header (file offsets 8.." + std::to_string(data_start) +
                          ") is not valid JSON: " + e.what());
  }
  NF_CHECK(json.is_object(), CheckpointError, "'", path, "': header is not a JSON object");
  const std::string where = "'" + path + "'";
  SafetensorsHeader header;
  for (const auto& [name, entry] : json.items()) {
    if (name == kSafetensorsMetadataKey)
      header.metadata = parse_metadata(where, entry);
    else
      header.tensors.push_back(parse_entry(where, name, entry));
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const HeaderTensor& a, const HeaderTensor& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  check_layout(where, header.tensors, data_start, file_size - data_start);
  return header;
}

}  // namespace nf::ckpt
