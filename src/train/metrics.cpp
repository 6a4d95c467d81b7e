#include "nf/train/metrics.h"

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <utility>
#include <vector>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"

namespace nf::train {
namespace {

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

// Keeps the records of a JSONL file with step <= `last_step` (atomically rewritten).
void truncate_after(const std::string& path, int64_t last_step) {
  if (!std::filesystem::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.value("step", int64_t{0}) <= last_step) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

// The rewards as (name, value) pairs under `prefix`: "rewards/chosen", … or "val_rewards/chosen", …
std::vector<std::pair<std::string, double>> named_rewards(const PreferenceMetrics& r, const std::string& prefix) {
  return {{prefix + "/chosen", r.chosen},
          {prefix + "/rejected", r.rejected},
          {prefix + "/accuracy", r.accuracy},
          {prefix + "/margin", r.margin}};
}

// " | rewards/chosen 0.1234 | … | rewards/accuracy 62.5% | …" for a log line.
std::string rewards_text(const PreferenceMetrics& r, const std::string& prefix) {
  std::string text;
  for (const auto& [name, value] : named_rewards(r, prefix)) {
    const bool percent = name == prefix + "/accuracy";
    text += " | " + name + " " + printf_string(percent ? "%.1f" : "%.4f", percent ? 100.0 * value : value) +
            (percent ? "%" : "");
  }
  return text;
}

// " | recon_loss 3.1416 | perplexity 57.3 | …" for a log line, each name after `prefix`.
std::string terms_text(const NamedValues& terms, const std::string& prefix) {
  std::string text;
  for (const auto& [name, value] : terms) text += " | " + prefix + name + " " + printf_string("%.5g", value);
  return text;
}

}  // namespace

std::string with_thousands(double value) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(value)));
  const size_t first = digits[0] == '-' ? 1 : 0;
  for (int64_t i = static_cast<int64_t>(digits.size()) - 3; i > static_cast<int64_t>(first); i -= 3) {
    digits.insert(static_cast<size_t>(i), ",");
  }
  return digits;
}

std::string format_step_line(const StepMetrics& m) {
  std::string line = "step " + std::to_string(m.step) + " | loss " + printf_string("%.4f", m.loss);
  if (m.rewards) line += rewards_text(*m.rewards, "rewards");
  line += terms_text(m.terms, "");
  line += " | lr " + printf_string("%.2e", m.lr) + " | grad_norm " + printf_string("%.2f", m.grad_norm) +
          " | tokens/s " + with_thousands(m.tokens_per_s);
  if (!std::isnan(m.mfu)) line += " | mfu " + printf_string("%.1f", 100.0 * m.mfu) + "%";
  line += " | GFLOP/s " + printf_string("%.1f", m.gflops_per_s);
  line += " | compute " + printf_string("%.1f", 100.0 * (1.0 - m.comm - m.bubble - m.data_wait)) + "% | comm " +
          printf_string("%.1f", 100.0 * m.comm) + "% | bubble " + printf_string("%.1f", 100.0 * m.bubble) + "%";
  line += " | data_wait " + printf_string("%.1f", 100.0 * m.data_wait) + "%";
  if (m.skipped_steps > 0) line += " | skipped " + std::to_string(m.skipped_steps);
  return line;
}

nlohmann::json to_json(const StepMetrics& m) {
  nlohmann::json j = {{"step", m.step},
                      {"loss", m.loss},
                      {"lr", m.lr},
                      {"grad_norm", m.grad_norm},
                      {"tokens_per_s", m.tokens_per_s},
                      {"gflops_per_s", m.gflops_per_s},
                      {"comm", m.comm},
                      {"bubble", m.bubble},
                      {"data_wait", m.data_wait},
                      {"skipped_steps", m.skipped_steps}};
  if (!std::isnan(m.mfu)) j["mfu"] = m.mfu;
  if (m.rewards)
    for (const auto& [key, value] : named_rewards(*m.rewards, "rewards")) j[key] = value;
  for (const auto& [key, value] : m.terms) j[key] = value;
  return j;
}

MetricsSink::MetricsSink(const std::string& run_dir, int64_t resume_step) : samples_path_(run_dir + "/samples.jsonl") {
  const std::string path = run_dir + "/metrics.jsonl";
  std::filesystem::create_directories(run_dir);
  for (const std::string& file : {path, samples_path_}) {
    if (resume_step > 0) {
      truncate_after(file, resume_step);
    } else {
      std::filesystem::remove(file);  // a fresh run starts a fresh record
    }
  }
  jsonl_.open(path, std::ios::app);
  NF_CHECK(jsonl_.good(), IoError, "cannot open '", path, "' for appending");
  tensorboard_ = std::make_unique<TensorBoardWriter>(run_dir + "/tensorboard");
}

void MetricsSink::append(const nlohmann::json& record) {
  jsonl_ << record.dump() << '\n';
  jsonl_.flush();
}

void MetricsSink::record_samples(int64_t step, const std::vector<SampleRecord>& samples) {
  if (!samples_.is_open()) {
    samples_.open(samples_path_, std::ios::app);
    NF_CHECK(samples_.good(), IoError, "cannot open '", samples_path_, "' for appending");
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    const SampleRecord& s = samples[i];
    const nlohmann::ordered_json record = {{"step", step},       {"index", i},
                                           {"prompt", s.prompt}, {"completion", s.completion},
                                           {"tokens", s.tokens}, {"finish_reason", s.finish_reason}};
    samples_ << record.dump() << '\n';
    tensorboard_->add_text("samples/" + std::to_string(i),
                           "**" + s.prompt + "**" + s.completion + "\n\n*(" + s.finish_reason + ")*", step);
  }
  samples_.flush();
  NF_CHECK(samples_.good(), IoError, "cannot write '", samples_path_, "'");
  tensorboard_->flush();
}

void MetricsSink::record(const StepMetrics& m) {
  append(to_json(m));
  tensorboard_->add_scalar("train/loss", m.loss, m.step);
  tensorboard_->add_scalar("train/lr", m.lr, m.step);
  tensorboard_->add_scalar("train/grad_norm", m.grad_norm, m.step);
  if (m.rewards)
    for (const auto& [tag, value] : named_rewards(*m.rewards, "rewards")) tensorboard_->add_scalar(tag, value, m.step);
  for (const auto& [name, value] : m.terms) tensorboard_->add_scalar("train/" + name, value, m.step);
  tensorboard_->add_scalar("perf/tokens_per_s", m.tokens_per_s, m.step);
  if (!std::isnan(m.mfu)) tensorboard_->add_scalar("perf/mfu", m.mfu, m.step);
  tensorboard_->add_scalar("perf/comm", m.comm, m.step);
  tensorboard_->add_scalar("perf/bubble", m.bubble, m.step);
  tensorboard_->add_scalar("perf/data_wait", m.data_wait, m.step);
  tensorboard_->flush();
}

void MetricsSink::record_eval(int64_t step, double val_loss, const std::optional<PreferenceMetrics>& rewards,
                              const NamedValues& terms) {
  nlohmann::json record = {{"step", step}, {"val_loss", val_loss}};
  tensorboard_->add_scalar("val/loss", val_loss, step);
  for (const auto& [name, value] : terms) {
    record["val_" + name] = value;
    tensorboard_->add_scalar("val/" + name, value, step);
  }
  if (rewards) {
    for (const auto& [key, value] : named_rewards(*rewards, "val_rewards")) record[key] = value;
    for (const auto& [tag, value] : named_rewards(*rewards, "val/rewards")) tensorboard_->add_scalar(tag, value, step);
  }
  append(record);
  tensorboard_->flush();
}

void MetricsSink::record_memory(int64_t step, const MemoryRecord& record) {
  append({{"step", step},
          {"peak_tensor_bytes", record.tensor_bytes},
          {"peak_rss_bytes", record.rss_bytes},
          {"start_tensor_bytes", record.start_bytes},
          {"activation_bytes", record.activation_bytes},
          {"predicted_peak_bytes", record.predicted_bytes}});
  const std::pair<const char*, const std::vector<double>*> series[] = {
      {"memory/peak_tensor_mib", &record.tensor_bytes},
      {"memory/peak_rss_mib", &record.rss_bytes},
      {"memory/start_tensor_mib", &record.start_bytes},
      {"memory/activation_mib", &record.activation_bytes},
      {"memory/predicted_peak_mib", &record.predicted_bytes}};
  for (const auto& [tag, values] : series) {
    for (size_t rank = 0; rank < values->size(); ++rank) {
      tensorboard_->add_scalar(std::string(tag) + "/rank_" + std::to_string(rank), (*values)[rank] / 1048576.0, step);
    }
  }
  tensorboard_->flush();
}

std::string format_eval_line(int64_t step, double val_loss, const std::optional<PreferenceMetrics>& rewards,
                             const NamedValues& terms) {
  std::string line = "step " + std::to_string(step) + " | val_loss " + printf_string("%.6g", val_loss);
  if (rewards) line += rewards_text(*rewards, "val_rewards");
  line += terms_text(terms, "val_");
  return line;
}

}  // namespace nf::train
