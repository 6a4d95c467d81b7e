# shellcheck shell=bash
# The tiny 4-layer model (fp32 on the CPU) of the loss-equivalence tests, sourced by test_layouts.sh,
# test_reshard.sh, test_kill_save.sh, test_async_save.sh and test_hf_import.sh after the preamble
# (tests/lib/preamble.sh: $build, $source, $work, $py, fail): writes the dataset to $work/data
# (genesis_bytes) and defines the nf-train flags (common), losses, run and compare.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"

genesis_bytes "$work/data"

common=(--config "$source/configs/tiny.yaml" --data.train_path "$work/data" --output.dir "$work/runs"
  --model.vocab_size 260 --model.d_model 64 --model.n_layers 4 --model.n_heads 4 --model.n_kv_heads 2
  --model.max_seq_len 64 --training.seq_len 32 --training.micro_batch_size 1 --training.global_batch_size 8
  --training.max_steps 20 --training.warmup_steps 2 --training.learning_rate 3e-3 --training.log_interval 1
  --training.eval_interval 10 --training.eval_steps 2 --checkpoint.save_interval 10
  --parallel.collective_timeout_s 60 --parallel.bucket_mb 0.05)

# "step loss grad_norm" per logged step and "val step val_loss" per evaluation (%.17g: every bit).
losses() { metrics_records "$1" --keys loss,grad_norm --val prefix; }

# run NAME RANKS FLAGS...: one training run; its output goes to $work/NAME.out, its losses to $work/NAME.losses.
run() {
  local name=$1 ranks=$2
  shift 2
  "$MPIEXEC" -n "$ranks" --oversubscribe "$train" "${common[@]}" --output.name "$name" "$@" \
    >"$work/$name.out" 2>&1 || { tail -30 "$work/$name.out"; fail "$name: nf-train failed"; }
  losses "$work/runs/$name/metrics.jsonl" >"$work/$name.losses"
}

# compare REFERENCE NAME [AFTER]: NAME's records against REFERENCE's records of the steps after
# AFTER (default 0): the same steps, losses and validation losses within 1e-5 relative, gradient
# norms within 1e-3. Prints one table row; exits non-zero when NAME strays.
compare() { $py - "$work/$1.losses" "$work/$2.losses" "$2" "${3:-0}" <<'PY'
import sys
a = [line.split() for line in open(sys.argv[1])]
b = [line.split() for line in open(sys.argv[2])]
a = [x for x in a if int(x[1] if x[0] == "val" else x[0]) > int(sys.argv[4])]
key = lambda record: record[:2] if record[0] == "val" else record[:1]
if [key(x) for x in a] != [key(y) for y in b]:
    print(f"{sys.argv[3]:<32} records differ: {len(a)} vs {len(b)}")
    sys.exit(1)
def worst(rows, column):
    return max(abs(float(x[column]) - float(y[column])) / abs(float(x[column])) for x, y in rows)
steps = [(x, y) for x, y in zip(a, b) if x[0] != "val"]
vals = [(x, y) for x, y in zip(a, b) if x[0] == "val"]
loss, norm, val = worst(steps, 1), worst(steps, 2), worst(vals, 2) if vals else 0.0
ok = loss <= 1e-5 and norm <= 1e-3 and val <= 1e-5
print(f"{sys.argv[3]:<32} {loss:9.2e} {norm:9.2e} {val:9.2e}  {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
}
