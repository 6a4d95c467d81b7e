// Synchronous and background checkpoint saves with a commit agreed at step boundaries (checkpoint_saver.h).
#include "nf/ckpt/saver.h"

#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "nf/ckpt/consolidated.h"

namespace nf::ckpt {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A copy in host memory that training may not change while the writer reads it.
NamedTensors snapshot(const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, tensor] : tensors) {
    const at::Tensor value = tensor.detach();
    out.emplace_back(name, value.is_cpu() ? value.clone() : value.cpu());
  }
  return out;
}

}  // namespace

CheckpointFileWriter sharded_files(const dist::Mesh& mesh) {
  return [&mesh](const std::string& dir, const CheckpointMeta& meta, const RankShards& shards,
                 const std::string& yaml) { return write_checkpoint_files(dir, meta, shards, yaml, mesh.coords()); };
}

CheckpointFileWriter consolidated_files(const model::ModelConfig& model, bool zero, const dist::Mesh& mesh) {
  return [&mesh, model, zero](const std::string& dir, const CheckpointMeta&, const RankShards& shards,
                              const std::string& yaml) {
    return write_consolidated_files(dir, shards, zero, model, yaml, mesh);
  };
}

CheckpointSaver::CheckpointSaver(std::string checkpoints_dir, const dist::Mesh& mesh, int64_t keep_last, bool async,
                                 CheckpointFileWriter write_files, Logger& log)
    : checkpoints_dir_(std::move(checkpoints_dir)),
      mesh_(mesh),
      keep_last_(keep_last),
      async_(async),
      write_files_(std::move(write_files)),
      log_(log) {}

CheckpointSaver::~CheckpointSaver() {
  if (in_flight_ && in_flight_->writer.joinable()) in_flight_->writer.join();
}

std::string CheckpointSaver::save(const CheckpointMeta& meta, const RankShards& shards,
                                  const std::string& config_yaml) {
  finish();
  const Clock::time_point start = Clock::now();
  RankShards copy;
  if (async_) {
    copy = {snapshot(shards.model), shards.model_metadata, snapshot(shards.optimizer), shards.optimizer_metadata};
  }
  const std::string staging = begin_checkpoint(checkpoints_dir_, meta.step, mesh_);
  in_flight_.emplace();
  InFlight& flight = *in_flight_;
  flight.meta = meta;
  const auto write = [&flight, staging, config_yaml, write_files = write_files_](const RankShards& tensors) {
    const Clock::time_point write_start = Clock::now();
    try {
      flight.bytes = write_files(staging, flight.meta, tensors, config_yaml);
    } catch (...) {
      flight.error = std::current_exception();
    }
    flight.written_seconds = seconds_since(write_start);
    flight.done = true;
  };
  if (async_) {
    flight.writer = std::thread([write, tensors = std::move(copy)] { write(tensors); });
    flight.blocked_seconds = seconds_since(start);
  } else {
    write(shards);
    flight.blocked_seconds = seconds_since(start);
    commit();
  }
  return step_directory(checkpoints_dir_, meta.step);
}

void CheckpointSaver::poll() {
  if (!in_flight_) return;
  const Clock::time_point start = Clock::now();
  // Every rank must be done before rank 0 may commit; ranks finish at different times, so they vote.
  at::Tensor done = at::tensor({static_cast<int32_t>(in_flight_->done.load())}, at::kInt);
  if (mesh_.world().size() > 1) mesh_.world().all_reduce(done, dist::ReduceOp::kMin)->wait();
  in_flight_->blocked_seconds += seconds_since(start);
  if (done.item<int32_t>() == 1) commit();
}

void CheckpointSaver::finish() {
  if (in_flight_) commit();
}

void CheckpointSaver::commit() {
  const Clock::time_point start = Clock::now();
  InFlight& flight = *in_flight_;
  if (flight.writer.joinable()) flight.writer.join();
  if (flight.error) std::rethrow_exception(flight.error);
  const std::string dir = commit_checkpoint(checkpoints_dir_, flight.meta, mesh_, keep_last_);
  // The job's bytes, and its slowest writer's time.
  at::Tensor bytes = at::tensor({static_cast<double>(flight.bytes)}, at::kDouble);
  at::Tensor written = at::tensor({flight.written_seconds}, at::kDouble);
  if (mesh_.world().size() > 1) {
    mesh_.world().all_reduce(bytes, dist::ReduceOp::kSum)->wait();
    mesh_.world().all_reduce(written, dist::ReduceOp::kMax)->wait();
  }
  const double blocked = flight.blocked_seconds + seconds_since(start), seconds = written.item<double>();
  std::ostringstream line;
  line << std::fixed << std::setprecision(2) << "checkpoint " << std::filesystem::path(dir).filename().string()
       << ": blocked " << blocked << " s, written in " << seconds << " s (" << bytes.item<double>() / 1e9 / seconds
       << " GB/s" << (async_ ? ", in the background" : "") << ")";
  log_.info(line.str());
  in_flight_.reset();
}

}  // namespace nf::ckpt
