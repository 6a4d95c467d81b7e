// Opening a shard: attribute and structure checks, then the token array and loss mask either
// memory-mapped at their HDF5 file offsets or read into memory.
#include "nf/data/shard_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "hdf5_util.h"
#include "nf/core/error.h"

namespace nf::data {
namespace {

constexpr const char* kDamagedHint = "run nf-shard verify on the dataset, then re-run nf-shard build";

// Throws DataError(parts…) with the damaged-shard hint when `ok` is false.
template <class... Parts>
void require(bool ok, const Parts&... parts) {
  if (!ok) throw DataError(nf::detail::concat(parts...), kDamagedHint);
}

h5::File open_hdf5(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    throw DataError("shard '" + path + "' is missing", "the dataset is incomplete; " + std::string(kRebuildHint));
  }
  // Many ranks open the same shards read-only, often on parallel filesystems without flock():
  // HDF5's file locking only gets in the way there.
  const h5::PropertyList access(h5::check(H5Pcreate(H5P_FILE_ACCESS), "cannot create properties for", path));
  H5Pset_file_locking(access.get(), false, true);
  h5::File file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.get()));
  if (!file.valid()) {
    throw DataError("cannot open shard '" + path + "' as HDF5 (" + h5::last_error() +
                        "): the file is truncated or "
                        "damaged",
                    kDamagedHint);
  }
  return file;
}

h5::Dataset open_dataset(hid_t file, const char* name, const std::string& path) {
  if (!h5::exists(file, name)) throw DataError("shard '" + path + "' has no dataset '/" + name + "'", kDamagedHint);
  return h5::Dataset(h5::check(H5Dopen2(file, name, H5P_DEFAULT), std::string("cannot open '/") + name + "' in", path));
}

// The dimensions of a dataset; throws DataError when its rank is not `rank`.
std::vector<hsize_t> shape_of(hid_t dataset, int rank, const char* name, const std::string& path) {
  const h5::Dataspace space(H5Dget_space(dataset));
  const int actual = H5Sget_simple_extent_ndims(space.get());
  if (actual != rank) {
    throw DataError("'/" + std::string(name) + "' in shard '" + path + "' has " + std::to_string(actual) +
                        " dimensions, expected " + std::to_string(rank),
                    kDamagedHint);
  }
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

void expect_unsigned(hid_t dataset, size_t bytes, const char* name, const std::string& path) {
  const h5::Datatype type(H5Dget_type(dataset));
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != bytes ||
      H5Tget_sign(type.get()) != H5T_SGN_NONE) {
    throw DataError(
        "'/" + std::string(name) + "' in shard '" + path + "' is not a uint" + std::to_string(8 * bytes) + " array",
        kDamagedHint);
  }
}

template <class T>
std::vector<T> read_all(hid_t dataset, hid_t memory_type, size_t count, const char* name, const std::string& path) {
  std::vector<T> values(count);
  if (count > 0) {
    h5::check_status(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                     std::string("cannot read '/") + name + "' from", path);
  }
  return values;
}

// The file offset of a dataset's data when it can be served from an mmap of the file: contiguous,
// little-endian, allocated in full, and aligned for its element type. Otherwise HADDR_UNDEF.
haddr_t mappable_offset(hid_t dataset, size_t element_bytes, uint64_t count) {
  const h5::Datatype type(H5Dget_type(dataset));
  const haddr_t offset = H5Dget_offset(dataset);
  if (offset == HADDR_UNDEF || H5Tget_order(type.get()) != H5T_ORDER_LE) return HADDR_UNDEF;
  if (H5Dget_storage_size(dataset) != count * element_bytes || offset % element_bytes != 0) return HADDR_UNDEF;
  return offset;
}

// The file offset of a contiguous dataset, for messages; kUnknownOffset otherwise.
uint64_t file_offset_of(hid_t dataset) {
  const haddr_t offset = H5Dget_offset(dataset);
  return offset == HADDR_UNDEF ? ChunkVerifier::kUnknownOffset : static_cast<uint64_t>(offset);
}

}  // namespace

// The shard's /chunk_crc32c tables by array name (none for a shard built before them).
struct ShardFile::StoredChunkTables {
  uint64_t chunk_bytes = 0;
  std::map<std::string, std::vector<uint32_t>> tables;

  // The verifier of `array` (of `bytes` bytes, at `file_offset`), or a disabled one when the
  // shard has no table for it; it takes the table over (one verifier per array). A table of the
  // wrong length is a damaged shard.
  ChunkVerifier verifier(const char* array, uint64_t bytes, uint64_t file_offset, const std::string& path) {
    const auto it = tables.find(array);
    if (it == tables.end()) return {};
    const uint64_t chunks = (bytes + chunk_bytes - 1) / chunk_bytes;
    require(it->second.size() == chunks, "'/", kChunkChecksumGroup, "/", array, "' in shard '", path, "' has ",
            it->second.size(), " entries for the ", chunks, " chunks of '/", array, "'");
    return ChunkVerifier(std::string("/") + array, std::move(it->second), chunk_bytes, bytes, file_offset);
  }
};

ShardFile::ShardFile(const std::string& path, const ShardExpectations& expect) : path_(path) {
  const h5::QuietErrors quiet;
  const h5::File file = open_hdf5(path);
  const hid_t root = file.get();
  const std::string magic = h5::read_string_attribute(root, "magic", path);
  if (magic != kShardMagic) {
    throw DataError(
        "bad magic '" + magic + "' in shard '" + path + "' (expected '" + kShardMagic + "'): not an nf token shard",
        kRebuildHint);
  }
  const int64_t version = h5::read_int_attribute(root, "format_version", path);
  if (version != kFormatVersion) {
    throw DataError("shard '" + path + "' has format_version " + std::to_string(version) + "; this build reads " +
                        std::to_string(kFormatVersion),
                    "rebuild the dataset with this version's nf-shard build");
  }
  format_ = parse_format(h5::read_string_attribute(root, "format", path), "shard '" + path + "'");
  split_ = h5::read_string_attribute(root, "split", path);
  shard_index_ = h5::read_int_attribute(root, "shard_index", path);
  vocab_size_ = h5::read_int_attribute(root, "vocab_size", path);
  fingerprint_ = h5::read_string_attribute(root, "tokenizer_fingerprint", path);
  require(vocab_size_ > 0 && vocab_size_ <= (int64_t{1} << 32), "shard '", path, "' has vocab_size ", vocab_size_,
          ", out of range");
  dtype_ = token_dtype_for_vocab(vocab_size_);

  const std::string context = "shard '" + path + "'";
  if (expect.format && *expect.format != format_) {
    throw DataError(context + " holds a " + format_name(format_) + " dataset, expected " + format_name(*expect.format),
                    kRebuildHint);
  }
  if (expect.split && *expect.split != split_) {
    throw DataError(context + " belongs to split '" + split_ + "', expected '" + *expect.split + "'", kRebuildHint);
  }
  if (expect.vocab_size != 0 && expect.vocab_size != vocab_size_) {
    throw DataError(context + " has vocab_size " + std::to_string(vocab_size_) + ", the manifest says " +
                        std::to_string(expect.vocab_size),
                    kRebuildHint);
  }
  if (!expect.tokenizer_fingerprint.empty() && expect.tokenizer_fingerprint != fingerprint_) {
    throw DataError(context + " was tokenized by tokenizer " + fingerprint_.substr(0, 12) + "…, the manifest names " +
                        expect.tokenizer_fingerprint.substr(0, 12) + "…",
                    kRebuildHint);
  }

  StoredChunkTables tables;
  if (h5::exists(root, kChunkChecksumGroup)) {
    const h5::Group group(h5::check(H5Gopen2(root, kChunkChecksumGroup, H5P_DEFAULT), "cannot open group in", path));
    const int64_t chunk_bytes = h5::read_int_attribute(group.get(), "chunk_bytes", path);
    require(chunk_bytes > 0, "'/", kChunkChecksumGroup, "' in ", context, " has chunk_bytes ", chunk_bytes);
    tables.chunk_bytes = static_cast<uint64_t>(chunk_bytes);
    std::vector<const std::vector<uint32_t>*> in_order;
    for (const char* array : kChecksummedArrays) {
      const std::string name = std::string(kChunkChecksumGroup) + "/" + array;
      if (!h5::exists(root, name.c_str())) continue;
      const h5::Dataset table = open_dataset(root, name.c_str(), path);
      expect_unsigned(table.get(), 4, name.c_str(), path);
      const hsize_t chunks = shape_of(table.get(), 1, name.c_str(), path)[0];
      in_order.push_back(
          &(tables.tables[array] = read_all<uint32_t>(table.get(), H5T_NATIVE_UINT32, chunks, name.c_str(), path)));
    }
    const std::string digest = chunk_table_digest(tables.chunk_bytes, in_order);
    if (!expect.chunk_crc32c.empty() && digest != expect.chunk_crc32c) {
      throw DataError(context + " is not the shard the manifest lists: its chunk checksums digest to " + digest +
                          ", the manifest records " + expect.chunk_crc32c +
                          " (a shard of another build was copied in, or the file is damaged)",
                      "recopy this shard from the dataset it was built in, or re-run nf-shard build");
    }
    has_chunk_checksums_ = true;
  } else if (!expect.chunk_crc32c.empty()) {
    throw DataError(context + " has no chunk checksums, but the manifest records them: it comes from an older build",
                    "recopy this shard from the dataset it was built in, or re-run nf-shard build");
  }

  const h5::Dataset tokens = open_dataset(root, kTokensPath, path);
  expect_unsigned(tokens.get(), token_dtype_bytes(dtype_), kTokensPath, path);
  num_tokens_ = shape_of(tokens.get(), 1, kTokensPath, path)[0];

  const h5::Dataset offsets = open_dataset(root, kDocOffsetsPath, path);
  expect_unsigned(offsets.get(), 8, kDocOffsetsPath, path);
  const hsize_t offset_count = shape_of(offsets.get(), 1, kDocOffsetsPath, path)[0];
  require(offset_count >= 1, "'/doc_offsets' in ", context, " is empty");
  doc_offsets_ = read_all<uint64_t>(offsets.get(), H5T_NATIVE_UINT64, offset_count, kDocOffsetsPath, path);
  tables.verifier(kDocOffsetsPath, offset_count * 8, file_offset_of(offsets.get()), path)
      .verify_all(reinterpret_cast<const uint8_t*>(doc_offsets_.data()), path);
  require(doc_offsets_.front() == 0 && doc_offsets_.back() == num_tokens_, "'/doc_offsets' in ", context, " runs from ",
          doc_offsets_.front(), " to ", doc_offsets_.back(), ", expected 0 to ", num_tokens_, "");
  const auto decreasing = std::adjacent_find(doc_offsets_.begin(), doc_offsets_.end(), std::greater<uint64_t>());
  require(decreasing == doc_offsets_.end(), "'/doc_offsets' in ", context, " decreases at document ",
          decreasing - doc_offsets_.begin(), "");

  if (format_has_dpo_spans(format_)) {
    const h5::Dataset spans = open_dataset(root, kDpoSpansPath, path);
    expect_unsigned(spans.get(), 8, kDpoSpansPath, path);
    const std::vector<hsize_t> dims = shape_of(spans.get(), 2, kDpoSpansPath, path);
    require(dims[0] == num_documents() && dims[1] == 3, "'/dpo_spans' in ", context, " has shape [", dims[0], ", ",
            dims[1], "], expected [", num_documents(), ", 3]");
    const auto flat = read_all<uint64_t>(spans.get(), H5T_NATIVE_UINT64, dims[0] * 3, kDpoSpansPath, path);
    tables.verifier(kDpoSpansPath, dims[0] * 3 * 8, file_offset_of(spans.get()), path)
        .verify_all(reinterpret_cast<const uint8_t*>(flat.data()), path);
    for (uint64_t doc = 0; doc < dims[0]; ++doc) {
      const DpoSpans span{flat[3 * doc], flat[3 * doc + 1], flat[3 * doc + 2]};
      require(span.total() == doc_offsets_[doc + 1] - doc_offsets_[doc] && span.chosen > 0 && span.rejected > 0,
              "'/dpo_spans' of document ", doc, " in ", context, " (", span.prompt, "+", span.chosen, "+",
              span.rejected, ") do not match its ", doc_offsets_[doc + 1] - doc_offsets_[doc], " tokens");
      dpo_spans_.push_back(span);
    }
  }
  map_or_read_arrays(root, expect, tables);
}

void ShardFile::map_or_read_arrays(int64_t file_handle, const ShardExpectations& expect, StoredChunkTables& tables) {
  const hid_t root = file_handle;
  const h5::Dataset tokens = open_dataset(root, kTokensPath, path_);
  const size_t token_bytes = token_dtype_bytes(dtype_);
  const haddr_t token_offset = mappable_offset(tokens.get(), token_bytes, num_tokens_);
  h5::Dataset mask;
  haddr_t mask_offset = HADDR_UNDEF;
  if (format_has_loss_mask(format_)) {
    mask = open_dataset(root, kLossMaskPath, path_);
    expect_unsigned(mask.get(), 1, kLossMaskPath, path_);
    const hsize_t length = shape_of(mask.get(), 1, kLossMaskPath, path_)[0];
    require(length == num_tokens_, "'/loss_mask' in shard '", path_, "' has ", length, " entries for ", num_tokens_,
            " tokens");
    mask_offset = mappable_offset(mask.get(), 1, num_tokens_);
  }

  if (token_offset != HADDR_UNDEF || mask_offset != HADDR_UNDEF) {
    const int fd = ::open(path_.c_str(), O_RDONLY);
    struct stat info {};
    if (fd < 0 || ::fstat(fd, &info) != 0) {
      if (fd >= 0) ::close(fd);
      throw IoError("cannot open '" + path_ + "': " + std::strerror(errno));
    }
    const uint64_t file_size = static_cast<uint64_t>(info.st_size);
    const uint64_t token_end = token_offset == HADDR_UNDEF ? 0 : token_offset + num_tokens_ * token_bytes;
    const uint64_t mask_end = mask_offset == HADDR_UNDEF ? 0 : mask_offset + num_tokens_;
    if (std::max(token_end, mask_end) > file_size) {
      ::close(fd);
      throw DataError("shard '" + path_ + "' is truncated: its data ends at byte " +
                          std::to_string(std::max(token_end, mask_end)) + " but the file has " +
                          std::to_string(file_size) + " bytes",
                      kDamagedHint);
    }
    mapping_size_ = file_size;
    void* mapping = ::mmap(nullptr, mapping_size_, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping keeps the file alive
    if (mapping == MAP_FAILED) throw IoError("cannot mmap '" + path_ + "': " + std::strerror(errno));
    mapping_ = mapping;
    // Training reads random windows: no point in the kernel reading far ahead.
    ::madvise(mapping_, mapping_size_, MADV_RANDOM);
  }
  const auto* base = static_cast<const uint8_t*>(mapping_);
  if (token_offset != HADDR_UNDEF) {
    tokens_ = base + token_offset;
  } else {
    const hid_t memory_type = dtype_ == TokenDtype::kUint16 ? H5T_NATIVE_UINT16 : H5T_NATIVE_UINT32;
    owned_tokens_ = read_all<uint8_t>(tokens.get(), memory_type, num_tokens_ * token_bytes, kTokensPath, path_);
    tokens_ = owned_tokens_.data();
  }
  if (mask_offset != HADDR_UNDEF) {
    loss_mask_ = base + mask_offset;
  } else if (mask.valid()) {
    owned_mask_ = read_all<uint8_t>(mask.get(), H5T_NATIVE_UINT8, num_tokens_, kLossMaskPath, path_);
    loss_mask_ = owned_mask_.data();
  }
  if (!expect.verify_chunks) return;
  tokens_check_ = tables.verifier(kTokensPath, num_tokens_ * token_bytes, file_offset_of(tokens.get()), path_);
  if (mask.valid()) mask_check_ = tables.verifier(kLossMaskPath, num_tokens_, file_offset_of(mask.get()), path_);
}

ShardFile::~ShardFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

ShardFile::ShardFile(ShardFile&& other) noexcept
    : path_(std::move(other.path_)),
      format_(other.format_),
      split_(std::move(other.split_)),
      shard_index_(other.shard_index_),
      vocab_size_(other.vocab_size_),
      fingerprint_(std::move(other.fingerprint_)),
      dtype_(other.dtype_),
      num_tokens_(other.num_tokens_),
      doc_offsets_(std::move(other.doc_offsets_)),
      dpo_spans_(std::move(other.dpo_spans_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_size_(other.mapping_size_),
      owned_tokens_(std::move(other.owned_tokens_)),
      owned_mask_(std::move(other.owned_mask_)),
      tokens_(std::exchange(other.tokens_, nullptr)),
      loss_mask_(std::exchange(other.loss_mask_, nullptr)),
      has_chunk_checksums_(other.has_chunk_checksums_),
      tokens_check_(std::move(other.tokens_check_)),
      mask_check_(std::move(other.mask_check_)) {}

namespace {

template <class Stored>
void convert_checked(const Stored* __restrict in, uint64_t count, TokenId* __restrict out, uint64_t vocab_size,
                     const std::string& path, uint64_t begin) {
  Stored largest = 0;
  for (uint64_t i = 0; i < count; ++i) {
    out[i] = static_cast<TokenId>(in[i]);
    largest = std::max(largest, in[i]);
  }
  if (count == 0 || largest < vocab_size) return;
  const uint64_t bad = std::find_if(in, in + count, [&](Stored id) { return id >= vocab_size; }) - in;
  throw DataError("shard '" + path + "': token at offset " + std::to_string(begin + bad) + " has id " +
                      std::to_string(in[bad]) + ", outside the vocabulary [0, " + std::to_string(vocab_size) + ")",
                  kDamagedHint);
}

}  // namespace

void ShardFile::copy_tokens(uint64_t begin, uint64_t count, TokenId* out) const {
  NF_CHECK(begin <= num_tokens_ && count <= num_tokens_ - begin, Error, "ShardFile::copy_tokens: [", begin, ", ",
           begin + count, ") is outside the ", num_tokens_, " tokens of '", path_, "'");
  const uint64_t bytes = token_dtype_bytes(dtype_);
  tokens_check_.verify(tokens_, begin * bytes, (begin + count) * bytes, path_);
  const auto vocab = static_cast<uint64_t>(vocab_size_);
  if (dtype_ == TokenDtype::kUint16) {
    convert_checked(reinterpret_cast<const uint16_t*>(tokens_) + begin, count, out, vocab, path_, begin);
  } else {
    convert_checked(reinterpret_cast<const uint32_t*>(tokens_) + begin, count, out, vocab, path_, begin);
  }
}

void ShardFile::copy_loss_mask(uint64_t begin, uint64_t count, uint8_t* out) const {
  NF_CHECK(loss_mask_ != nullptr && begin <= num_tokens_ && count <= num_tokens_ - begin, Error,
           "ShardFile::copy_loss_mask: [", begin, ", ", begin + count, ") of '", path_, "' has no mask");
  mask_check_.verify(loss_mask_, begin, begin + count, path_);
  std::memcpy(out, loss_mask_ + begin, count);
}

const uint8_t* ShardFile::loss_mask() const {
  if (loss_mask_ != nullptr) mask_check_.verify_all(loss_mask_, path_);
  return loss_mask_;
}

void ShardFile::verify_all_chunks() const {
  tokens_check_.verify_all(tokens_, path_);
  if (loss_mask_ != nullptr) mask_check_.verify_all(loss_mask_, path_);
}

std::vector<std::string> ShardFile::metadata_fields() const {
  std::vector<std::string> fields;
  const h5::QuietErrors quiet;
  const h5::File file = open_hdf5(path_);
  for (const char* field : kMetadataFields) {
    if (h5::exists(file.get(), kMetaGroup) && h5::exists(file.get(), (std::string(kMetaGroup) + "/" + field).c_str())) {
      fields.emplace_back(field);
    }
  }
  return fields;
}

std::vector<std::string> ShardFile::metadata(const std::string& field) const {
  const h5::QuietErrors quiet;
  const h5::File file = open_hdf5(path_);
  const std::string name = std::string(kMetaGroup) + "/" + field;
  if (!h5::exists(file.get(), kMetaGroup) || !h5::exists(file.get(), name.c_str())) return {};
  const h5::Dataset dataset = open_dataset(file.get(), name.c_str(), path_);
  const std::vector<hsize_t> dims = shape_of(dataset.get(), 1, name.c_str(), path_);
  require(dims[0] == num_documents(), "'/", name, "' in shard '", path_, "' has ", dims[0], " entries for ",
          num_documents(), " documents");
  h5::Datatype type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  std::vector<char*> pointers(dims[0], nullptr);
  h5::check_status(H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
                   "cannot read '/" + name + "' from", path_);
  std::vector<std::string> values;
  for (char* pointer : pointers) values.emplace_back(pointer ? pointer : "");
  const h5::Dataspace space(H5Dget_space(dataset.get()));
  H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, pointers.data());
  return values;
}

}  // namespace nf::data
