// nf-ckpt: checkpoint tools.
//
//   nf-ckpt inspect FILE.safetensors   names, dtypes, shapes and byte ranges, without reading data
//   nf-ckpt inspect STEP_DIR           step, layout, data position, every file checked against its
//                                      SHA-256 in meta.json, and their tensors (exit 4 if one is damaged)
//   nf-ckpt consolidate STEP_DIR OUT   a training checkpoint of any layout as the one-rank checkpoint
//                                      (full tensors and optimizer state) that nf-train resumes anywhere
//   nf-ckpt export-hf STEP_DIR OUT [--dtype bf16|fp16|fp32] [--tokenizer PATH] [--max-shard-size 5GB]
//                     [--merge-lora]   a training checkpoint (any layout) as a Hugging Face Llama directory;
//                                      a LoRA checkpoint's adapters merged into their base
//   nf-ckpt export-peft STEP_DIR OUT [--base NAME]
//                                      a LoRA checkpoint's adapters as PEFT's adapter directory
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <set>

#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/hf_import.h"
#include "nf/ckpt/lora.h"
#include "nf/ckpt/reshard.h"
#include "nf/ckpt/safetensors.h"
#include "nf/ckpt/training_dataset.h"
#include "nf/core/cli.h"
#include "nf/core/error.h"
#include "nf/data/dataset_builder.h"
#include "nf/dist/job.h"
#include "nf/model/sharding.h"

namespace {

// The files a command wrote, sorted, with their sizes.
void list_files(const std::string& dir) {
  std::set<std::filesystem::path> files(std::filesystem::directory_iterator(dir), {});
  for (const auto& file : files)
    std::cout << "  " << file.filename().string() << "  " << std::filesystem::file_size(file) << " bytes\n";
}

// The full tensors `names` of a Hugging Face directory or a step directory.
nf::ckpt::StateDict read_whole(const std::string& source, const nf::model::ModelConfig& config,
                               const std::vector<std::string>& names) {
  std::vector<nf::ckpt::ParameterShard> targets;
  for (const std::string& name : names) {
    targets.push_back({name, nf::model::full_shape_of(config, name), nf::model::shard_spec_of(config, name, nullptr)});
  }
  nf::ckpt::StateDict state;
  for (auto& [name, tensor] : nf::ckpt::read_initial_parameters(source, config, targets)) state[name] = tensor;
  return state;
}

void export_checkpoint(const std::string& step_dir, const std::string& out_dir, const std::string& dtype,
                       std::string tokenizer, const std::string& max_shard_size, bool merge_lora) {
  const uint64_t max_shard_bytes = nf::data::parse_byte_size(max_shard_size, "--max-shard-size");
  nf::model::ModelConfig model = nf::ckpt::read_model_layout(step_dir).model;
  const nf::model::LoraConfig lora = model.lora;
  NF_CHECK(!lora.enabled() || merge_lora, nf::UsageError, "'", step_dir,
           "' holds LoRA adapters only: export them merged into their base with --merge-lora (a plain Llama), or "
           "as PEFT's adapter directory with nf-ckpt export-peft");
  NF_CHECK(lora.enabled() || !merge_lora, nf::UsageError, "--merge-lora: '", step_dir,
           "' is not a LoRA checkpoint (its model.lora.rank is 0); export it without --merge-lora");
  if (tokenizer.empty()) tokenizer = nf::ckpt::training_dataset_of(step_dir).tokenizer;
  nf::ckpt::HfExportOptions options =
      nf::ckpt::HfExportOptions().with_dtype(nf::ckpt::parse_export_dtype(dtype)).with_max_shard_bytes(max_shard_bytes);
  nf::ckpt::set_export_tokenizer(options, tokenizer);
  // One output file's parameters at a time: the whole model is never in memory at once.
  nf::ckpt::ModelReader reader(step_dir);
  std::string from = step_dir;
  if (lora.enabled()) {
    model.lora = {};  // the export is a plain Llama
    const std::string base = nf::ckpt::lora_base_of(step_dir);
    const nf::ckpt::StateDict adapters = reader.read();
    const auto read = [&](const std::vector<std::string>& names) {
      nf::ckpt::StateDict state = read_whole(base, model, names), pairs;
      for (const auto& [name, tensor] : adapters) {
        if (state.count(name.substr(0, name.find(".lora_")) + ".weight")) pairs[name] = tensor;
      }
      nf::ckpt::merge_lora(state, pairs, lora);
      return state;
    };
    nf::ckpt::export_hf(out_dir, model, read, options);
    from = step_dir + "'s " + std::to_string(adapters.size()) + " adapters merged into " + base;
  } else {
    const auto read = [&reader](const std::vector<std::string>& names) { return reader.read(names); };
    nf::ckpt::export_hf(out_dir, model, read, options);
  }
  std::cout << "exported " << nf::model::parameter_table(model).size() << " tensors of " << from << " to " << out_dir
            << " (" << dtype << (tokenizer.empty() ? ", no tokenizer" : ", tokenizer " + tokenizer) << ")\n";
  list_files(out_dir);
}

void export_peft(const std::string& step_dir, const std::string& out_dir, std::string base) {
  const nf::model::ModelConfig model = nf::ckpt::read_model_layout(step_dir).model;
  NF_CHECK(model.lora.enabled(), nf::UsageError, "export-peft: '", step_dir,
           "' is not a LoRA checkpoint (its model.lora.rank is 0); export it with nf-ckpt export-hf");
  if (base.empty()) base = nf::ckpt::lora_base_of(step_dir);  // pinned as an absolute path
  const nf::ckpt::StateDict adapters = nf::ckpt::ModelReader(step_dir).read();
  nf::ckpt::export_peft(out_dir, model.lora, adapters, base);
  std::cout << "exported " << adapters.size() << " LoRA tensors (rank " << model.lora.rank << ", alpha "
            << model.lora.alpha << ") of " << step_dir << " to " << out_dir << " (base_model_name_or_path " << base
            << ")\n";
  list_files(out_dir);
}

void inspect(const std::string& path) {
  if (!std::filesystem::is_directory(path)) {
    std::cout << nf::ckpt::describe(nf::ckpt::SafetensorsFile(path));
    return;
  }
  const int damaged = nf::ckpt::inspect_checkpoint(path, std::cout);
  NF_CHECK(damaged == 0, nf::CheckpointError, damaged, " file(s) of '", path,
           "' are missing or do not match their SHA-256 in meta.json");
}

void consolidate(const std::string& step_dir, const std::string& out_dir) {
  const size_t tensors = nf::ckpt::consolidate_checkpoint(step_dir, out_dir);
  const nf::ckpt::CheckpointMeta meta = nf::ckpt::read_checkpoint_meta(out_dir);
  std::cout << "consolidated " << tensors << " parameters and their optimizer state of " << step_dir << " (step "
            << meta.step << ") into " << out_dir << "\n";
  list_files(out_dir);
}

}  // namespace

int main(int argc, char** argv) {
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    CLI::App app{"nf-ckpt: checkpoint tools", job.program};
    app.require_subcommand(1);
    std::string file;
    CLI::App* inspect_command = app.add_subcommand(
        "inspect", "list a safetensors file's tensors (header only), or check and list a checkpoint's step directory");
    inspect_command->add_option("path", file, "a .safetensors file or a step directory")->required();
    inspect_command->callback([&] { inspect(file); });
    std::string step_dir, out_dir, dtype = "bf16", tokenizer, max_shard_size = "5GB", base;
    bool merge_lora = false;
    CLI::App* consolidate_command = app.add_subcommand(
        "consolidate", "write a checkpoint of any layout as one full checkpoint that nf-train resumes at any layout");
    consolidate_command->add_option("checkpoint", step_dir, "a step directory, e.g. runs/x/checkpoints/step_200")
        ->required();
    consolidate_command->add_option("out", out_dir, "the step directory to create")->required();
    consolidate_command->callback([&] { consolidate(step_dir, out_dir); });
    CLI::App* export_hf = app.add_subcommand("export-hf", "write a checkpoint as a Hugging Face Llama directory");
    export_hf->add_option("checkpoint", step_dir, "a step directory, e.g. runs/x/checkpoints/step_200")->required();
    export_hf->add_option("out", out_dir, "the directory to create")->required();
    export_hf->add_option("--dtype", dtype, "bf16, fp16 or fp32 (default bf16)");
    export_hf->add_option("--tokenizer", tokenizer,
                          "tokenizer file or directory; default: the training dataset's (data.train_path)");
    export_hf->add_option("--max-shard-size", max_shard_size,
                          "split larger weights into files of at most this size and an index, e.g. 2GB (default 5GB)");
    export_hf->add_flag("--merge-lora", merge_lora,
                        "a LoRA checkpoint: its adapters merged into the base it was trained on (a plain Llama)");
    export_hf->callback([&] { export_checkpoint(step_dir, out_dir, dtype, tokenizer, max_shard_size, merge_lora); });
    CLI::App* peft = app.add_subcommand("export-peft", "write a LoRA checkpoint's adapters in PEFT's format");
    peft->add_option("checkpoint", step_dir, "a LoRA run's step directory")->required();
    peft->add_option("out", out_dir, "the directory to create")->required();
    peft->add_option("--base", base,
                     "base_model_name_or_path to record (default: the base the run was trained on, an absolute path)");
    peft->callback([&] { export_peft(step_dir, out_dir, base); });
    return nf::run_cli(app, job.args);
  });
}
