// Names and sizes of the dataset format's enums.
#include "nf/data/shard_format.h"

#include "nf/core/error.h"

namespace nf::data {

TokenDtype token_dtype_for_vocab(int64_t vocab_size) {
  return vocab_size <= 65536 ? TokenDtype::kUint16 : TokenDtype::kUint32;
}

const char* token_dtype_name(TokenDtype dtype) { return dtype == TokenDtype::kUint16 ? "uint16" : "uint32"; }

size_t token_dtype_bytes(TokenDtype dtype) { return dtype == TokenDtype::kUint16 ? 2 : 4; }

const char* format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kPretrain:
      return "pretrain";
    case DatasetFormat::kSft:
      return "sft";
    case DatasetFormat::kDpo:
      return "dpo";
    case DatasetFormat::kSequence:
      return "sequence";
  }
  return "unknown";
}

DatasetFormat parse_format(const std::string& name, const std::string& where) {
  for (DatasetFormat format :
       {DatasetFormat::kPretrain, DatasetFormat::kSft, DatasetFormat::kDpo, DatasetFormat::kSequence}) {
    if (name == format_name(format)) return format;
  }
  throw DataError(where + ": unknown dataset format '" + name + "' (expected pretrain, sft, dpo or sequence)",
                  kRebuildHint);
}

bool format_has_loss_mask(DatasetFormat format) {
  return format == DatasetFormat::kSft || format == DatasetFormat::kSequence;
}

bool format_has_dpo_spans(DatasetFormat format) { return format == DatasetFormat::kDpo; }

}  // namespace nf::data
