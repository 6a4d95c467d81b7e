// The shard writer: validation of encoded documents, in-memory assembly of one shard, and the
// HDF5 write through a temporary name, fsync and rename.
#include "nf/data/shard_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "hdf5_util.h"
#include "nf/core/error.h"
#include "nf/core/filesystem.h"
#include "nf/core/hash.h"
#include "nf/data/chunk_checksums.h"

namespace nf::data {
namespace {

namespace fs = std::filesystem;

// Token arrays start on a 4 KiB boundary so that readers can mmap them page-aligned.
constexpr hsize_t kAlignment = 4096;
constexpr hsize_t kAlignmentThreshold = 64;

// Throws DataError(parts…) when the builder handed over a document that breaks the format.
template <class... Parts>
void require(bool ok, const Parts&... parts) {
  if (!ok)
    throw DataError(nf::detail::concat(parts...), "the shard builder encoded this document wrongly; please report it");
}

std::string shard_name(const std::string& stem, size_t index) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-%05zu.h5", index);
  return stem + suffix;
}

// Writes a 1-D or 2-D contiguous dataset, allocated early and never filled (we write it whole).
void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t memory_type, const std::vector<hsize_t>& dims,
                   const void* data, const std::string& path) {
  h5::Dataspace space(h5::check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                                "cannot create a dataspace in", path));
  h5::PropertyList create(h5::check(H5Pcreate(H5P_DATASET_CREATE), "cannot create properties for", path));
  H5Pset_layout(create.get(), H5D_CONTIGUOUS);
  H5Pset_alloc_time(create.get(), H5D_ALLOC_TIME_EARLY);
  H5Pset_fill_time(create.get(), H5D_FILL_TIME_NEVER);
  h5::Dataset dataset(h5::check(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT),
                                std::string("cannot create dataset '") + name + "' in", path));
  h5::check_status(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                   std::string("cannot write dataset '") + name + "' to", path);
}

// The per-chunk CRC-32C tables of the arrays written so far, by array name, in writing order.
using ChunkTables = std::vector<std::pair<const char*, std::vector<uint32_t>>>;

// write_dataset for an array whose memory layout is its file layout (little-endian, on the hosts
// nf runs on), recording its chunk checksums in `tables`.
void write_array(hid_t file, const char* name, hid_t file_type, hid_t memory_type, const std::vector<hsize_t>& dims,
                 const void* data, ChunkTables& tables, const std::string& path) {
  write_dataset(file, name, file_type, memory_type, dims, data, path);
  uint64_t bytes = H5Tget_size(file_type);
  for (const hsize_t dim : dims) bytes *= dim;
  tables.emplace_back(name, chunk_crc32c(data, bytes, kChunkBytes));
}

// Writes /chunk_crc32c/<array> for every table and returns their digest for the manifest.
std::string write_chunk_tables(hid_t file, const ChunkTables& tables, const std::string& path) {
  h5::Group group(h5::check(H5Gcreate2(file, kChunkChecksumGroup, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                            std::string("cannot create group '") + kChunkChecksumGroup + "' in", path));
  h5::write_int_attribute(group.get(), "chunk_bytes", static_cast<int64_t>(kChunkBytes), path);
  std::vector<const std::vector<uint32_t>*> in_order;
  for (const auto& [name, table] : tables) {
    write_dataset(group.get(), name, H5T_STD_U32LE, H5T_NATIVE_UINT32, {table.size()}, table.data(), path);
    in_order.push_back(&table);
  }
  return chunk_table_digest(kChunkBytes, in_order);
}

void write_strings(hid_t group, const char* name, const std::vector<std::string>& values, const std::string& path) {
  h5::Datatype type(h5::check(H5Tcopy(H5T_C_S1), "cannot create a string type for", path));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  std::vector<const char*> pointers;
  for (const std::string& value : values) pointers.push_back(value.c_str());
  const hsize_t count = values.size();
  h5::Dataspace space(h5::check(H5Screate_simple(1, &count, nullptr), "cannot create a dataspace in", path));
  h5::Dataset dataset(h5::check(H5Dcreate2(group, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                std::string("cannot create dataset 'meta/") + name + "' in", path));
  h5::check_status(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
                   std::string("cannot write dataset 'meta/") + name + "' to", path);
}

void fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  const bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) throw IoError("cannot fsync '" + path + "'", "check free space and the filesystem");
}

// Removes the temporary file unless the write got as far as the rename.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  void release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

ShardWriter::ShardWriter(ShardWriterOptions options)
    : options_(std::move(options)), dtype_(token_dtype_for_vocab(options_.vocab_size)) {
  NF_CHECK(options_.vocab_size > 0 && options_.vocab_size <= (int64_t{1} << 32), UsageError, "ShardWriter: vocab_size ",
           options_.vocab_size, " is out of range (1 .. 2^32)");
  NF_CHECK(!options_.directory.empty(), UsageError, "ShardWriter: no output directory given");
  if (options_.file_stem.empty()) options_.file_stem = options_.split;
  create_directories(options_.directory);
}

void ShardWriter::add(const EncodedDocument& doc) {
  NF_CHECK(!closed_, UsageError, "ShardWriter::add after close");
  const std::string where = doc.source.empty() ? std::string("a document") : "document " + doc.source;
  if (doc.tokens.empty()) throw DataError(where + " has no tokens", "drop empty documents before writing");
  for (size_t i = 0; i < doc.tokens.size(); ++i) {
    if (doc.tokens[i] < 0 || doc.tokens[i] >= options_.vocab_size) {
      throw DataError(where + ": token " + std::to_string(i) + " has id " + std::to_string(doc.tokens[i]) +
                          ", outside the vocabulary [0, " + std::to_string(options_.vocab_size) + ")",
                      "the tokenizer and vocab_size disagree; check the tokenizer given to nf-shard build");
    }
  }
  if (format_has_loss_mask(options_.format)) {
    require(doc.loss_mask.size() == doc.tokens.size(), where, ": loss mask has ", doc.loss_mask.size(), " entries for ",
            doc.tokens.size(), " tokens");
  } else {
    require(doc.loss_mask.empty(), where, ": a ", format_name(options_.format),
            " dataset has no loss mask, but the document carries one");
  }
  if (format_has_dpo_spans(options_.format)) {
    require(doc.dpo.has_value(), where, ": a dpo document needs prompt/chosen/rejected spans");
    require(doc.dpo->total() == doc.tokens.size() && doc.dpo->chosen > 0 && doc.dpo->rejected > 0, where,
            ": dpo spans ", doc.dpo->prompt, "+", doc.dpo->chosen, "+", doc.dpo->rejected, " do not cover its ",
            doc.tokens.size(), " tokens with non-empty responses");
    dpo_spans_.insert(dpo_spans_.end(), {doc.dpo->prompt, doc.dpo->chosen, doc.dpo->rejected});
  }
  const size_t doc_index = doc_offsets_.size() - 1;
  for (const char* field : kMetadataFields) {
    const auto it = doc.metadata.find(field);
    if (it == doc.metadata.end()) continue;
    std::vector<std::string>& values = metadata_[field];
    values.resize(doc_index);  // documents before the first one with this field get ""
    values.push_back(it->second);
  }
  tokens_.insert(tokens_.end(), doc.tokens.begin(), doc.tokens.end());
  loss_mask_.insert(loss_mask_.end(), doc.loss_mask.begin(), doc.loss_mask.end());
  doc_offsets_.push_back(tokens_.size());
  if (buffered_bytes() >= options_.target_shard_bytes) flush_shard();
}

uint64_t ShardWriter::buffered_bytes() const { return tokens_.size() * token_dtype_bytes(dtype_) + loss_mask_.size(); }

std::vector<ShardRecord> ShardWriter::close() {
  NF_CHECK(!closed_, UsageError, "ShardWriter::close called twice");
  if (!tokens_.empty()) flush_shard();
  closed_ = true;
  return written_;
}

std::string ShardWriter::write_shard(const std::string& temp, uint64_t documents) {
  std::string chunk_digest;
  {  // the file is closed at the end of this block, before the fsync
    const h5::QuietErrors quiet;
    h5::PropertyList access(h5::check(H5Pcreate(H5P_FILE_ACCESS), "cannot create properties for", temp));
    H5Pset_alignment(access.get(), kAlignmentThreshold, kAlignment);
    h5::File file(
        h5::check(H5Fcreate(temp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), "cannot create shard", temp));
    const hid_t root = file.get();
    // Each array is written from memory laid out as in the file, so its chunk checksums are of the
    // bytes a reader maps.
    ChunkTables tables;
    if (dtype_ == TokenDtype::kUint16) {
      const std::vector<uint16_t> narrow(tokens_.begin(), tokens_.end());
      write_array(root, kTokensPath, H5T_STD_U16LE, H5T_NATIVE_UINT16, {narrow.size()}, narrow.data(), tables, temp);
    } else {
      write_array(root, kTokensPath, H5T_STD_U32LE, H5T_NATIVE_UINT32, {tokens_.size()}, tokens_.data(), tables, temp);
    }
    write_array(root, kDocOffsetsPath, H5T_STD_U64LE, H5T_NATIVE_UINT64, {doc_offsets_.size()}, doc_offsets_.data(),
                tables, temp);
    if (format_has_loss_mask(options_.format)) {
      write_array(root, kLossMaskPath, H5T_STD_U8LE, H5T_NATIVE_UINT8, {loss_mask_.size()}, loss_mask_.data(), tables,
                  temp);
    }
    if (format_has_dpo_spans(options_.format)) {
      write_array(root, kDpoSpansPath, H5T_STD_U64LE, H5T_NATIVE_UINT64, {documents, 3}, dpo_spans_.data(), tables,
                  temp);
    }
    chunk_digest = write_chunk_tables(root, tables, temp);
    if (!metadata_.empty()) {
      h5::Group meta(h5::check(H5Gcreate2(root, kMetaGroup, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                               "cannot create group 'meta' in", temp));
      for (auto& [field, values] : metadata_) {
        values.resize(documents);
        write_strings(meta.get(), field.c_str(), values, temp);
      }
    }
    h5::write_string_attribute(root, "magic", kShardMagic, temp);
    h5::write_int_attribute(root, "format_version", kFormatVersion, temp);
    h5::write_string_attribute(root, "format", format_name(options_.format), temp);
    h5::write_string_attribute(root, "split", options_.split, temp);
    h5::write_int_attribute(root, "shard_index", static_cast<int64_t>(written_.size()), temp);
    h5::write_int_attribute(root, "vocab_size", options_.vocab_size, temp);
    h5::write_string_attribute(root, "tokenizer_fingerprint", options_.tokenizer_fingerprint, temp);
    h5::check_status(H5Fflush(root, H5F_SCOPE_GLOBAL), "cannot flush shard", temp);
  }
  fsync_file(temp);
  return chunk_digest;
}

void ShardWriter::flush_shard() {
  const std::string name = shard_name(options_.file_stem, written_.size());
  const std::string path = (fs::path(options_.directory) / name).string();
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const uint64_t documents = doc_offsets_.size() - 1;
  std::string chunk_digest;
  TemporaryFile guard(temp);
  try {
    chunk_digest = write_shard(temp, documents);
  } catch (const IoError& e) {
    // A full disk or a refused write: the temporary goes, and the message says what was needed.
    const uint64_t needed = buffered_bytes() + doc_offsets_.size() * sizeof(uint64_t);
    throw IoError(std::string(e.what()) + "; shard '" + path +
                      "' was not written (and no manifest will be, so the incomplete dataset is never read)",
                  write_failure_hint(path, 0, needed));
  }
  ShardRecord record{name, tokens_.size(), documents, sha256_file(temp), chunk_digest};
  rename_path(temp, path);
  guard.release();
  written_.push_back(std::move(record));
  tokens_.clear();
  doc_offsets_.assign(1, 0);
  loss_mask_.clear();
  dpo_spans_.clear();
  metadata_.clear();
}

}  // namespace nf::data
