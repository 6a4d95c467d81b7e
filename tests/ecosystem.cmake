# Ecosystem checks (issue 15): what nf writes, read by the libraries its users use (NF_PYTHON: the
# .venv's pinned transformers, tokenizers, safetensors, tensorboard), and a model saved by
# transformers trained from by nf. Labels e2e and ecosystem (`ctest -L ecosystem` runs them alone).
# prepare_checkpoints.sh is the fixture: tiny models trained at tp 2, pp 2 and dp 2 + ZeRO 1,
# exported, consolidated, and nf's own logits of each checkpoint (nf_checkpoint_logits).
add_executable(nf_checkpoint_logits python/ecosystem/nf_checkpoint_logits.cpp)
target_link_libraries(nf_checkpoint_logits PRIVATE nf nf_warnings)
nf_use_torch_pch(nf_checkpoint_logits)

set(NF_ECOSYSTEM_DIR ${CMAKE_CURRENT_SOURCE_DIR}/python/ecosystem)
set(NF_ECOSYSTEM_FIXTURE ${PROJECT_BINARY_DIR}/ecosystem_checkpoints)
nf_add_script_test(nf_ecosystem_checkpoints SCRIPT ${NF_ECOSYSTEM_DIR}/prepare_checkpoints.sh LABEL e2e TIMEOUT 180
                   ARGS ${NF_ECOSYSTEM_FIXTURE} $<TARGET_FILE:nf_checkpoint_logits>)
set_tests_properties(nf_ecosystem_checkpoints PROPERTIES FIXTURES_SETUP ecosystem_checkpoints)
# transformers loads every export with no missing/unexpected keys and nf's logits; safe_open reads every file.
foreach(check transformers_export safetensors)
  add_test(NAME nf_ecosystem_${check}
           COMMAND ${NF_PYTHON} ${NF_ECOSYSTEM_DIR}/check_${check}.py ${NF_ECOSYSTEM_FIXTURE})
  set_tests_properties(nf_ecosystem_${check} PROPERTIES TIMEOUT 120 FIXTURES_REQUIRED ecosystem_checkpoints
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1")
endforeach()
# tokenizers and AutoTokenizer encode real text (KJV, Song poems) to nf-shard's ids.
add_test(NAME nf_ecosystem_tokenizers
         COMMAND ${NF_PYTHON} ${NF_ECOSYSTEM_DIR}/check_tokenizers.py $<TARGET_FILE:nf-shard> ${NF_ECOSYSTEM_FIXTURE}
                 ${PROJECT_BINARY_DIR}/ecosystem_tokenizers)
set_tests_properties(nf_ecosystem_tokenizers PROPERTIES TIMEOUT 120 FIXTURES_REQUIRED ecosystem_checkpoints)
# TensorBoard's EventAccumulator reads nf-train's event files (pretrain and DPO tags).
nf_add_script_test(nf_ecosystem_tensorboard SCRIPT ${NF_ECOSYSTEM_DIR}/test_tensorboard.sh LABEL e2e TIMEOUT 120)
# A sharded save_pretrained of transformers, imported at (1,2,2) and tp 2: transformers' loss at step 1.
nf_add_script_test(nf_ecosystem_transformers_import SCRIPT ${NF_ECOSYSTEM_DIR}/test_transformers_import.sh LABEL e2e
                   TIMEOUT 180)
# nf-generate: greedy == transformers' generate token for token (1 rank, tp 2, no KV cache, batches),
# seeded sampling, chat prompts, refused inputs.
nf_add_script_test(nf_ecosystem_generate SCRIPT ${NF_ECOSYSTEM_DIR}/test_generate.sh LABEL e2e TIMEOUT 300
                   ARGS ${NF_ECOSYSTEM_FIXTURE})
set_tests_properties(nf_ecosystem_generate PROPERTIES FIXTURES_REQUIRED ecosystem_checkpoints)
set_tests_properties(nf_ecosystem_checkpoints nf_ecosystem_transformers_export nf_ecosystem_safetensors
                     nf_ecosystem_tokenizers nf_ecosystem_tensorboard nf_ecosystem_transformers_import
                     nf_ecosystem_generate
                     PROPERTIES LABELS "e2e;ecosystem")
