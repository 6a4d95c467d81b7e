// The planner's text (planner.h): memory sizes read from flags and config (and the device's, from
// /proc/meminfo), the memory table and step-time split that nf-train --dry-run prints, and the two
// searches whose answers are tables: every layout of the world size that fits, and the cheapest
// changes that make a config fit (check_fits() puts them in its error).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

#include "nf/core/error.h"
#include "nf/core/filesystem.h"
#include "nf/dist/device_memory.h"
#include "nf/model/sharding.h"
#include "nf/train/planner.h"

namespace nf::train {
namespace {

constexpr size_t kMaxFixes = 3;  // fixes_that_fit() suggests at most this many

// Rows of cells as aligned columns: `align` holds 'l' or 'r' per column (numbers right-aligned).
std::string render(const std::vector<std::vector<std::string>>& rows, const std::string& align) {
  std::vector<size_t> width(align.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      line += "  " + (align[c] == 'l' ? row[c] + pad : pad + row[c]);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  }
  return out.str();
}

std::string printf_string(const char* format, double value, const char* unit) {
  char text[128];
  std::snprintf(text, sizeof(text), format, value, unit);
  return text;
}

std::string format_seconds(double seconds) {
  if (seconds >= 1.0) return printf_string("%.2f %s", seconds, "s");
  if (seconds >= 1e-3) return printf_string("%.1f %s", seconds * 1e3, "ms");
  return printf_string("%.0f %s", seconds * 1e6, "us");
}

std::string range(int64_t first, int64_t last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

std::string limit_text(const MemoryLimit& limit) {
  if (limit.bytes == 0) return "an unknown limit (" + limit.source + "; set training.memory_limit to check one)";
  return format_bytes(limit.bytes) + " (" + limit.source + ")";
}

std::string fit_text(uint64_t bytes, const MemoryLimit& limit) {
  if (limit.bytes == 0) return "-";
  return bytes <= limit.bytes ? "fits" : "does NOT fit";
}

// Whether nf accepts `config` on `world_size` ranks: the layout and batch checks, the tp divisibility
// of heads and MLP rows, sequence parallelism's seq_len.
bool accepted(const TrainConfig& config, int64_t world_size) {
  try {
    validate(config);
    validate_layout(config, world_size);
    model::validate_tensor_parallel(config.model, config.parallel.tp);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

bool faster(const Candidate& a, const Candidate& b) {
  const double ta = a.plan.step.total_s(), tb = b.plan.step.total_s();
  return ta != tb ? ta < tb : a.plan.peak_bytes() < b.plan.peak_bytes();
}

// One change fixes_that_fit() tries, on one axis (ZeRO, recomputation, micro-batch size).
struct Change {
  std::string keys;
  std::function<void(TrainConfig&)> apply;
};

std::vector<std::vector<Change>> change_axes(const TrainConfig& config, int64_t dp) {
  const TrainingConfig& t = config.training;
  std::vector<std::vector<Change>> axes;
  if (dp > 1 && config.parallel.zero < 3) {
    axes.push_back({{"--parallel.zero 3", [](TrainConfig& c) { c.parallel.zero = 3; }}});
  }
  std::vector<Change> recompute;
  if (t.recompute != model::RecomputeMode::kFull || t.recompute_interval != 1) {
    recompute.push_back({t.recompute_interval == 1 ? "--training.recompute full"
                                                   : "--training.recompute full --training.recompute_interval 1",
                         [](TrainConfig& c) {
                           c.training.recompute = model::RecomputeMode::kFull;
                           c.training.recompute_interval = 1;
                         }});
  }
  if (t.recompute == model::RecomputeMode::kNone) {
    recompute.push_back({"--training.recompute selective",
                         [](TrainConfig& c) { c.training.recompute = model::RecomputeMode::kSelective; }});
  }
  if (!recompute.empty()) axes.push_back(recompute);
  std::vector<Change> micro_batch;
  const int64_t half = t.micro_batch_size / 2;
  if (t.micro_batch_size > 2 && t.micro_batch_size % 2 == 0) {
    micro_batch.push_back({"--training.micro_batch_size " + std::to_string(half),
                           [half](TrainConfig& c) { c.training.micro_batch_size = half; }});
  }
  if (t.micro_batch_size > 1) {
    micro_batch.push_back({"--training.micro_batch_size 1", [](TrainConfig& c) { c.training.micro_batch_size = 1; }});
  }
  if (!micro_batch.empty()) axes.push_back(micro_batch);
  return axes;
}

// Every choice of at most one change per axis, with the number of changes it makes.
void combine(const std::vector<std::vector<Change>>& axes, size_t axis, std::vector<const Change*>& chosen,
             const std::function<void(const std::vector<const Change*>&)>& visit) {
  if (axis == axes.size()) {
    if (!chosen.empty()) visit(chosen);
    return;
  }
  combine(axes, axis + 1, chosen, visit);  // this axis unchanged
  for (const Change& change : axes[axis]) {
    chosen.push_back(&change);
    combine(axes, axis + 1, chosen, visit);
    chosen.pop_back();
  }
}

std::string fixes_text(const std::vector<Candidate>& fixes, const MemoryLimit& limit) {
  if (fixes.empty()) {
    return "Nothing tried fits in " + format_bytes(limit.bytes) +
           " (parallel.zero 3, training.recompute, smaller micro-batches): use more ranks (parallel.tp, parallel.pp, "
           "parallel.dp), a shorter training.seq_len or a smaller model.\n";
  }
  std::vector<std::vector<std::string>> rows = {{"to fit, add", "peak memory", "step time"}};
  for (const Candidate& fix : fixes) {
    rows.push_back({fix.keys, format_bytes(fix.plan.peak_bytes()), format_seconds(fix.plan.step.total_s())});
  }
  return "The cheapest changes that fit in " + format_bytes(limit.bytes) + ":\n" + render(rows, "lrr");
}

}  // namespace

std::string plan_report(const Plan& plan, const MemoryLimit& limit) {
  std::ostringstream out;
  out << "Plan: tp " << plan.tp << " x pp " << plan.pp << " x dp " << plan.dp << ", parallel.zero " << plan.zero
      << ", training.recompute " << model::name_of(plan.recompute)
      << (plan.recompute == model::RecomputeMode::kFull && plan.recompute_interval > 1
              ? " (every " + std::to_string(plan.recompute_interval) + "th block)"
              : "")
      << ", " << (plan.bf16_autocast ? "bf16 autocast" : "fp32") << "; " << plan.micro_batches << " micro-batch(es) of "
      << plan.rows_per_micro_batch << " rows per step on each dp rank.\n";
  out << "Memory per rank (docs/memory.md), against " << limit_text(limit) << ":\n";
  std::vector<std::vector<std::string>> rows = {{"pipeline stage", "ranks", "layers", "held", "parameters", "gradients",
                                                 "optimizer", "master", "activations", "comm buffers", "step", "total",
                                                 ""}};
  for (const StageMemory& s : plan.stages) {
    rows.push_back({std::to_string(s.stage), range(s.first_rank, s.last_rank),
                    range(s.first_layer, s.first_layer + s.n_layers - 1), std::to_string(s.in_flight),
                    format_bytes(s.parameters), format_bytes(s.gradients), format_bytes(s.optimizer),
                    format_bytes(s.master), format_bytes(s.activations), format_bytes(s.comm_buffers),
                    format_bytes(s.step_transient), format_bytes(s.total()), fit_text(s.total(), limit)});
  }
  out << render(rows, "rrrrrrrrrrrrl");
  out << "  (held: micro-batches whose activations a rank holds at once; step: what the optimizer step adds\n"
         "   once activations are freed; total: the states plus the larger of activations + buffers and step)\n";
  const StepTime& t = plan.step;
  out << "Step time of the slowest pipeline stage, no overlap of communication with compute assumed:\n";
  out << render({{"compute", "of which recompute", "dp comm", "tp comm", "pp comm", "bubble", "total"},
                 {format_seconds(t.compute_s), format_seconds(t.recompute_s), format_seconds(t.dp_comm_s),
                  format_seconds(t.tp_comm_s), format_seconds(t.pp_comm_s), format_seconds(t.bubble_s),
                  format_seconds(t.total_s())}},
                "rrrrrrr");
  char assumptions[256];
  std::snprintf(assumptions, sizeof(assumptions), "  at %.0f TFLOP/s peak%s x efficiency %.2f, links of %.0f GB/s\n",
                plan.peak_tflops,
                plan.peak_assumed ? " (an assumption: H100/H200 bf16; set --dry-run.peak_tflops)" : "", plan.efficiency,
                plan.bandwidth_gbps);
  out << assumptions;
  return out.str();
}

uint64_t parse_memory_size(const std::string& text, const std::string& key) {
  const UsageError bad(key + " '" + text + "' is not a memory size",
                       "give a number and a unit, e.g. " + key +
                           " 80GB or 512MiB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, in any case)");
  double value = 0;
  size_t end = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    throw bad;
  }
  std::string unit;
  for (char c : text.substr(end)) {
    if (c != ' ') unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // Decimal units step by 1000, binary ones by 1024: b; kb, kib; mb, mib; gb, gib; tb, tib.
  const std::vector<std::string> prefixes = {"", "k", "m", "g", "t"};
  for (size_t power = 0; power < prefixes.size(); ++power) {
    double scale = 0;
    if (unit == prefixes[power] + "b") scale = std::pow(1000.0, static_cast<double>(power));
    if (power > 0 && unit == prefixes[power] + "ib") scale = std::pow(1024.0, static_cast<double>(power));
    if (scale > 0 && std::isfinite(value) && value > 0) return static_cast<uint64_t>(std::llround(value * scale));
  }
  throw bad;
}

MemoryLimit memory_limit_of(const TrainConfig& config, const MemoryLimit& device) {
  if (config.training.memory_limit.empty()) return device;
  return {parse_memory_size(config.training.memory_limit, "training.memory_limit"), "training.memory_limit"};
}

uint64_t device_memory_bytes(const c10::Device& device, int64_t ranks_on_node) {
  if (device.is_cuda()) return dist::cuda_memory(device.index()).total_bytes;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream fields(line);
    std::string name;
    uint64_t kib = 0;
    if (fields >> name >> kib && name == "MemTotal:")
      return kib * 1024 / static_cast<uint64_t>(std::max<int64_t>(1, ranks_on_node));
  }
  return 0;  // not Linux, or unreadable: unknown
}

std::string layout_keys(const Plan& plan) {
  return "--parallel.dp " + std::to_string(plan.dp) + " --parallel.tp " + std::to_string(plan.tp) + " --parallel.pp " +
         std::to_string(plan.pp) + " --parallel.zero " + std::to_string(plan.zero) + " --training.recompute " +
         model::name_of(plan.recompute);
}

std::vector<Candidate> fitting_layouts(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit,
                                       const PlanOptions& options) {
  std::vector<Candidate> layouts;
  for (int64_t tp = 1; tp <= world_size; ++tp) {
    for (int64_t pp = 1; tp * pp <= world_size; ++pp) {
      if (world_size % (tp * pp) != 0) continue;
      const int64_t dp = world_size / (tp * pp);
      TrainConfig layout = config;
      layout.parallel.tp = tp;
      layout.parallel.pp = pp;
      layout.parallel.dp = dp;
      if (!accepted(layout, world_size)) continue;  // zero and recompute do not change what nf accepts
      for (int64_t zero = 0; zero <= (dp > 1 ? 3 : 0); ++zero) {
        for (const auto& name_and_mode : model::recompute_mode_names()) {
          layout.parallel.zero = zero;
          layout.training.recompute = name_and_mode.second;
          const Plan plan = make_plan(layout, world_size, options);
          if (!fits(plan, limit)) continue;
          layouts.push_back({layout_keys(plan), plan});
        }
      }
    }
  }
  std::stable_sort(layouts.begin(), layouts.end(), faster);
  return layouts;
}

std::string layouts_table(const std::vector<Candidate>& layouts, int64_t world_size, const MemoryLimit& limit) {
  const std::string ranks = std::to_string(world_size) + " rank" + (world_size == 1 ? "" : "s");
  if (layouts.empty()) {
    return "No layout of " + ranks + " fits in " + limit_text(limit) +
           ": use more ranks, a smaller training.micro_batch_size or seq_len, or a smaller model.\n";
  }
  std::vector<std::vector<std::string>> rows = {
      {"#", "dp", "tp", "pp", "zero", "recompute", "peak memory", "step time", "keys"}};
  for (size_t i = 0; i < layouts.size(); ++i) {
    const Plan& p = layouts[i].plan;
    rows.push_back({std::to_string(i + 1), std::to_string(p.dp), std::to_string(p.tp), std::to_string(p.pp),
                    std::to_string(p.zero), model::name_of(p.recompute), format_bytes(p.peak_bytes()),
                    format_seconds(p.step.total_s()), layouts[i].keys});
  }
  return "Layouts of " + ranks + " that fit in " + limit_text(limit) + ", fastest first:\n" + render(rows, "rrrrrlrrl");
}

std::vector<Candidate> fixes_that_fit(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit,
                                      const PlanOptions& options) {
  const int64_t dp = dist::MeshShape::resolve(config.parallel, world_size).dp();
  std::vector<Candidate> singles, combinations;
  std::vector<const Change*> chosen;
  const auto axes = change_axes(config, dp);
  combine(axes, 0, chosen, [&](const std::vector<const Change*>& changes) {
    TrainConfig changed = config;
    std::string keys;
    for (const Change* change : changes) {
      change->apply(changed);
      keys += (keys.empty() ? "" : " ") + change->keys;
    }
    if (!accepted(changed, world_size)) return;
    const Plan plan = make_plan(changed, world_size, options);
    if (fits(plan, limit)) (changes.size() == 1 ? singles : combinations).push_back({keys, plan});
  });
  // Single changes first: a combination is suggested only when no single change fits.
  std::vector<Candidate>& fixes = singles.empty() ? combinations : singles;
  std::stable_sort(fixes.begin(), fixes.end(), faster);
  if (fixes.size() > kMaxFixes) fixes.erase(fixes.begin() + static_cast<std::ptrdiff_t>(kMaxFixes), fixes.end());
  return fixes;
}

DryRun dry_run(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit, const PlanOptions& options,
               bool all_layouts) {
  const Plan plan = make_plan(config, world_size, options);
  DryRun run{world_size, limit, plan, fits(plan, limit), {}, std::nullopt};
  if (!run.fits) run.fixes = fixes_that_fit(config, world_size, limit, options);
  if (all_layouts) run.layouts = fitting_layouts(config, world_size, limit, options);
  return run;
}

std::string dry_run_report(const DryRun& run) {
  std::string report = plan_report(run.plan, run.limit);
  if (!run.fits) report += fixes_text(run.fixes, run.limit);
  if (run.layouts) report += layouts_table(*run.layouts, run.world_size, run.limit);
  return report;
}

void check_fits(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit, const PlanOptions& options) {
  const Plan plan = make_plan(config, world_size, options);
  if (fits(plan, limit)) return;
  const StageMemory& worst = plan.peak_stage();
  throw ConfigError("the planner predicts " + format_bytes(worst.total()) + " on each rank of pipeline stage " +
                        std::to_string(worst.stage) + " (ranks " + range(worst.first_rank, worst.last_rank) +
                        "), more than the " + limit_text(limit) + " a rank may use\n" + plan_report(plan, limit) +
                        fixes_text(fixes_that_fit(config, world_size, limit, options), limit),
                    "add the keys of one of the changes above; nf-train --dry-run --dry-run.layouts all lists every "
                    "layout that fits (docs/memory.md); if the limit is wrong, set training.memory_limit");
}

}  // namespace nf::train
