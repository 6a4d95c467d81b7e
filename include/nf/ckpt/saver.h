// Checkpoint saves as a job makes them, synchronous or in the background (checkpoint.async).
//
// An async save blocks training only to copy the rank's tensors (a snapshot in host memory) and
// to create the staging directory; a background thread writes the files while training goes on.
// The commit (meta.json, rename, `latest`) needs every rank's files on disk, so it is agreed on
// the main thread: at each step boundary while a save is in flight, one all-reduce asks whether
// every rank's writer is done (no MPI ever runs on the writer thread). The next save, the end of
// training and a preemption wait for the save in flight and commit it first.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "nf/ckpt/checkpoint.h"
#include "nf/core/logging.h"
#include "nf/dist/mesh.h"

namespace nf::ckpt {

// Writes this rank's part of a save into the staging directory and returns the bytes it wrote:
// write_checkpoint_files (sharded), or write_consolidated_files (collective: never async).
using CheckpointFileWriter = std::function<uint64_t(const std::string& staging_dir, const CheckpointMeta& meta,
                                                    const RankShards& shards, const std::string& config_yaml)>;

// The writers a job picks from: its own shards (write_checkpoint_files), or its pieces of one
// consolidated checkpoint (write_consolidated_files; `zero`: its optimizer state is ZeRO's flat
// shard). `mesh` must outlive them.
CheckpointFileWriter sharded_files(const dist::Mesh& mesh);
CheckpointFileWriter consolidated_files(const model::ModelConfig& model, bool zero, const dist::Mesh& mesh);

class CheckpointSaver {
 public:
  CheckpointSaver(std::string checkpoints_dir, const dist::Mesh& mesh, int64_t keep_last, bool async,
                  CheckpointFileWriter write_files, Logger& log);
  ~CheckpointSaver();  // an exception is unwinding: waits for the writer, commits nothing
  CheckpointSaver(const CheckpointSaver&) = delete;
  CheckpointSaver& operator=(const CheckpointSaver&) = delete;

  // Collective. Saves `shards` as step meta.step, after committing the save in flight. Sync: the
  // save is complete on return; async: the files are being written. Returns the step directory.
  std::string save(const CheckpointMeta& meta, const RankShards& shards, const std::string& config_yaml);
  // Collective, at a step boundary: commits the save in flight if every rank has written its files.
  void poll();
  // Collective: waits for the save in flight and commits it.
  void finish();

 private:
  struct InFlight {
    CheckpointMeta meta;
    std::thread writer;
    std::atomic<bool> done{false};
    std::exception_ptr error;
    uint64_t bytes = 0;
    double written_seconds = 0;  // the writer thread's time
    double blocked_seconds = 0;  // training's time in save() and in the commit
  };

  void commit();

  std::string checkpoints_dir_;
  const dist::Mesh& mesh_;
  int64_t keep_last_;
  bool async_;
  CheckpointFileWriter write_files_;
  Logger& log_;
  std::optional<InFlight> in_flight_;
};

}  // namespace nf::ckpt
