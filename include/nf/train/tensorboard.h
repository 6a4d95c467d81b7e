// TensorBoard scalar and text logging: an event file (TFRecord framing of protobuf Event messages) that
// TensorBoard reads, written by rank 0 next to the run's other outputs.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace nf::train {

class TensorBoardWriter {
 public:
  // Creates `dir` and a new file events.out.tfevents.<unix time>.<host>.<pid> in it.
  explicit TensorBoardWriter(const std::string& dir);

  void add_scalar(const std::string& tag, double value, int64_t step);
  // A text summary (TensorBoard's Text tab renders it as Markdown).
  void add_text(const std::string& tag, const std::string& markdown, int64_t step);
  // Flushes to the OS; the trainer calls it at every log line so a live TensorBoard sees them.
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& payload);

  std::string path_;
  std::ofstream out_;
};

}  // namespace nf::train
