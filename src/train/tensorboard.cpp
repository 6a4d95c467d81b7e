// TensorBoard event files: each record is [uint64 length][uint32 masked crc of length]
// [payload][uint32 masked crc of payload], little endian; the payload is a serialized Event.
#include "nf/train/tensorboard.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "nf/core/crc32c.h"
#include "nf/core/error.h"
#include "train/proto/event.pb.h"

namespace nf::train {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char name[256] = {0};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  path_ = (std::filesystem::path(dir) / ("events.out.tfevents." + std::to_string(static_cast<int64_t>(now_seconds())) +
                                         "." + hostname() + "." + std::to_string(::getpid())))
              .string();
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) throw IoError("cannot create TensorBoard event file '" + path_ + "'", "check the run directory");
  // The first record names the file format version, as TensorFlow's writers do.
  tensorboard::Event header;
  header.set_wall_time(now_seconds());
  header.set_file_version("brain.Event:2");
  write_record(header.SerializeAsString());
  flush();
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(now_seconds());
  event.set_step(step);
  tensorboard::SummaryValue* entry = event.mutable_summary()->add_value();
  entry->set_tag(tag);
  entry->set_simple_value(static_cast<float>(value));
  write_record(event.SerializeAsString());
}

void TensorBoardWriter::add_text(const std::string& tag, const std::string& markdown, int64_t step) {
  constexpr int kStringType = 7;  // TensorFlow's DT_STRING
  tensorboard::Event event;
  event.set_wall_time(now_seconds());
  event.set_step(step);
  tensorboard::SummaryValue* entry = event.mutable_summary()->add_value();
  entry->set_tag(tag);
  entry->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  tensorboard::TensorProto* tensor = entry->mutable_tensor();
  tensor->set_dtype(kStringType);
  tensor->mutable_tensor_shape();
  tensor->add_string_val(markdown);
  write_record(event.SerializeAsString());
}

void TensorBoardWriter::flush() {
  out_.flush();
  if (!out_) throw IoError("cannot write TensorBoard event file '" + path_ + "'", "check free space");
}

void TensorBoardWriter::write_record(const std::string& payload) {
  const uint64_t length = payload.size();  // x86-64 and aarch64 are little endian, as the format is
  const uint32_t length_crc = masked_crc32c(&length, sizeof(length));
  const uint32_t payload_crc = masked_crc32c(payload.data(), payload.size());
  out_.write(reinterpret_cast<const char*>(&length), sizeof(length));
  out_.write(reinterpret_cast<const char*>(&length_crc), sizeof(length_crc));
  out_.write(payload.data(), static_cast<std::streamsize>(payload.size()));
  out_.write(reinterpret_cast<const char*>(&payload_crc), sizeof(payload_crc));
}

}  // namespace nf::train
