// Writing and reading safetensors files: a streamed atomic writer (the header padded with spaces to
// 8 bytes, as the format's reference implementation writes it) and a memory-mapped reader, whose
// header checks are safetensors_header.cpp's.
#include "nf/ckpt/safetensors.h"

#include <c10/util/accumulate.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "nf/ckpt/safetensors_stream.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"

// Tensor bytes are copied as they lie in memory, and the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace nf::ckpt {
namespace {

struct DtypeName {
  torch::ScalarType dtype;
  const char* name;
};
// The names of safetensors_header.cpp's table, each with its LibTorch dtype.
constexpr std::array<DtypeName, 10> kDtypes = {{{torch::kFloat64, "F64"},
                                                {torch::kFloat32, "F32"},
                                                {torch::kBFloat16, "BF16"},
                                                {torch::kFloat16, "F16"},
                                                {torch::kInt64, "I64"},
                                                {torch::kInt32, "I32"},
                                                {torch::kInt16, "I16"},
                                                {torch::kInt8, "I8"},
                                                {torch::kUInt8, "U8"},
                                                {torch::kBool, "BOOL"}}};

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

void read_exactly(int fd, void* buffer, size_t size, off_t offset, const std::string& path) {
  char* out = static_cast<char*>(buffer);
  while (size > 0) {
    const ssize_t got = ::pread(fd, out, size, offset);
    if (got < 0 && errno == EINTR) continue;
    NF_CHECK(got > 0, IoError, "cannot read '", path, "' at offset ", offset, ": ",
             got < 0 ? std::strerror(errno) : "unexpected end of file");
    out += got;
    offset += got;
    size -= static_cast<size_t>(got);
  }
}

}  // namespace

std::string safetensors_dtype_name(torch::ScalarType dtype) {
  for (const DtypeName& d : kDtypes)
    if (d.dtype == dtype) return d.name;
  throw CheckpointError(std::string("dtype ") + c10::toString(dtype) + " has no safetensors name",
                        "convert the tensor to a float, integer, uint8 or bool dtype first");
}

torch::ScalarType scalar_type_from_safetensors(const std::string& name) {
  for (const DtypeName& d : kDtypes)
    if (name == d.name) return d.dtype;
  throw CheckpointError("unknown safetensors dtype \"" + name + "\"");
}

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path, const std::vector<TensorDeclaration>& tensors,
                                                 const Metadata& metadata)
    : path_(path), tensors_(tensors), file_(path) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kSafetensorsMetadataKey] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const TensorDeclaration& tensor : tensors_) {
    NF_CHECK(!tensor.name.empty() && tensor.name != kSafetensorsMetadataKey, CheckpointError, "cannot write '", path,
             "': tensor name '", tensor.name, "' is empty or reserved");
    NF_CHECK(seen.insert(tensor.name).second, CheckpointError, "cannot write '", path, "': tensor '", tensor.name,
             "' appears twice");
    const uint64_t bytes = c10::multiply_integers(tensor.shape) * c10::elementSize(tensor.dtype);
    header[tensor.name] = {{"dtype", safetensors_dtype_name(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t length = text.size();
  unsigned char length_bytes[8];
  std::memcpy(length_bytes, &length, sizeof(length));  // little-endian host (static_assert above)
  write(length_bytes, sizeof(length_bytes));
  write(text.data(), text.size());
}

void SafetensorsStreamWriter::write(const void* data, size_t size) {
  file_.write(data, size);
  hash_.update(data, size);
}

void SafetensorsStreamWriter::append(const std::string& name, const torch::Tensor& tensor) {
  NF_CHECK(next_ < tensors_.size(), CheckpointError, "cannot write '", path_, "': tensor '", name,
           "' comes after the last declared one");
  const TensorDeclaration& expected = tensors_[next_];
  NF_CHECK(name == expected.name, CheckpointError, "cannot write '", path_, "': tensor '", name, "' came where '",
           expected.name, "' was declared");
  NF_CHECK(tensor.defined() && tensor.device().is_cpu(), CheckpointError, "cannot write '", path_, "': tensor '", name,
           "' is undefined or not on the CPU");
  NF_CHECK(tensor.scalar_type() == expected.dtype && tensor.sizes() == torch::IntArrayRef(expected.shape),
           CheckpointError, "cannot write '", path_, "': tensor '", name, "' is ",
           safetensors_dtype_name(tensor.scalar_type()), " ", tensor.sizes(), " but was declared ",
           safetensors_dtype_name(expected.dtype), " ", torch::IntArrayRef(expected.shape));
  const torch::Tensor contiguous = tensor.contiguous();
  if (contiguous.nbytes() > 0) write(contiguous.data_ptr(), contiguous.nbytes());
  ++next_;
}

std::string SafetensorsStreamWriter::commit() {
  NF_CHECK(next_ == tensors_.size(), CheckpointError, "cannot finish '", path_, "': ", next_, " of the ",
           tensors_.size(), " declared tensors were written");
  file_.commit();
  return hash_.hex_digest();
}

std::string write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::vector<TensorDeclaration> declarations;
  for (const auto& [name, tensor] : tensors) {
    NF_CHECK(tensor.defined() && tensor.device().is_cpu(), CheckpointError, "cannot write '", path, "': tensor '", name,
             "' is undefined or not on the CPU");
    declarations.push_back({name, tensor.scalar_type(), tensor.sizes().vec()});
  }
  SafetensorsStreamWriter writer(path, declarations, metadata);
  for (const auto& [name, tensor] : tensors) writer.append(name, tensor);
  return writer.commit();
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  NF_CHECK(fd >= 0, IoError, "cannot open '", path, "': ", std::strerror(errno));
  const FdCloser closer{fd};  // the descriptor is needed only until the mapping exists
  struct stat status {};
  NF_CHECK(::fstat(fd, &status) == 0, IoError, "cannot stat '", path, "': ", std::strerror(errno));
  file_size_ = static_cast<size_t>(status.st_size);
  char start[8];
  const size_t start_bytes = std::min(sizeof(start), file_size_);
  read_exactly(fd, start, start_bytes, 0, path);
  const uint64_t header_length = safetensors_header_length(path, {start, start_bytes}, file_size_);
  data_start_ = 8 + header_length;
  std::string text(header_length, '\0');
  read_exactly(fd, text.data(), text.size(), 8, path);
  SafetensorsHeader header = parse_safetensors_header(path, text, file_size_);
  metadata_ = std::move(header.metadata);
  for (HeaderTensor& tensor : header.tensors) {
    tensors_.push_back({std::move(tensor.name), scalar_type_from_safetensors(tensor.dtype), std::move(tensor.shape),
                        tensor.begin, tensor.end});
  }
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;

  void* mapping = ::mmap(nullptr, file_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  NF_CHECK(mapping != MAP_FAILED, IoError, "cannot memory-map '", path, "': ", std::strerror(errno));
  mapping_ = static_cast<const unsigned char*>(mapping);
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(const_cast<unsigned char*>(mapping_), file_size_);
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) > 0; }

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto found = index_.find(name);
  NF_CHECK(found != index_.end(), CheckpointError, "'", path_, "' has no tensor '", name, "' (it holds ",
           tensors_.size(), " tensors)");
  return tensors_[found->second];
}

torch::Tensor SafetensorsFile::read(const std::string& name) const {
  const TensorInfo& entry = info(name);
  torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.dtype));
  if (entry.end > entry.begin)
    std::memcpy(tensor.data_ptr(), mapping_ + data_start_ + entry.begin, entry.end - entry.begin);
  return tensor;
}

NamedTensors SafetensorsFile::read(const std::vector<std::string>& names) const {
  NamedTensors result;
  for (const std::string& name : names) result.emplace_back(name, read(name));
  return result;
}

std::string describe(const SafetensorsFile& file) {
  std::ostringstream out;
  out << file.path() << ": " << file.tensors().size() << " tensors\n";
  for (const auto& [key, value] : file.metadata()) out << "  metadata " << key << " = " << value << "\n";
  uint64_t bytes = 0;
  int64_t elements = 0;
  for (const TensorInfo& info : file.tensors()) {
    out << "  " << info.name << "  " << safetensors_dtype_name(info.dtype) << " " << c10::IntArrayRef(info.shape)
        << "  bytes [" << info.begin << ", " << info.end << ")\n";
    bytes += info.end - info.begin;
    elements += c10::multiply_integers(info.shape);
  }
  out << "total: " << elements << " elements, " << bytes << " bytes of data\n";
  return out.str();
}

NamedTensors SafetensorsFile::read_all() const {
  NamedTensors result;
  for (const TensorInfo& entry : tensors_) result.emplace_back(entry.name, read(entry.name));
  return result;
}

}  // namespace nf::ckpt
