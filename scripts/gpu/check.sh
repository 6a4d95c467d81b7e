#!/usr/bin/env bash
# The one-shot GPU check: on a GPU machine that has PyTorch 2.11, a C++ compiler, CMake and ninja
# but no Debian packages and no network, one command builds nf and measures it on the GPU, in about
# 8 minutes on one H200. Items, in order (each passes, fails or is skipped, and the next runs anyway):
#   deps        unpack the dependency bundle (scripts/gpu/make_bundle.sh makes it where Debian's
#               servers are reachable), check that every library in it loads here, and build and run
#               a probe of MPI, HDF5 and yaml-cpp from it under mpirun -n 2
#   configure   cmake against this machine's torch (NF_PYTHON); every dependency must come from the
#               bundle, none from a system copy of a bundled file
#   build       the programs and the GPU tests, with every core
#   nccl        the NCCL backend's tests on one GPU (np1; np2 needs a GPU per rank: what that leaves
#               untested is written in the log and the summary)
#   tiny_cpu    configs/tiny.yaml for a few steps on the CPU in fp32: the reference
#   tiny_gpu    the same on the GPU in fp32 and in bf16, against the CPU's losses (fp32 within 1e-4
#               relative, bf16 within 2e-2)
#   memory_gpu  issue #17 on CUDA: the tiny model with ZeRO 3 and full recomputation in fp32 and bf16
#               against tiny_gpu's losses (fp32 within 1e-4, bf16 within 2e-2), and the caching
#               allocator's measured peak beside the planner's prediction
#   generate_gpu  issue #19 on CUDA: nf-generate greedy from tiny_cpu's checkpoint on the GPU against
#               the CPU, token for token, and its tokens/s at batch 16 with and without the KV cache
#   bench_nf, bench_torch_eager, bench_torch_compile
#               configs/1b.yaml for 30 steps in bf16: tokens/s and MFU (989 TFLOP/s dense bf16 peak)
#               of nf-train, and of the same model in PyTorch (scripts/bench/torch_train_loop.py),
#               eager and through torch.compile (with --cpu: configs/tiny.yaml, a few steps)
# Everything goes to OUT/check.log (and stdout), and a summary to OUT/summary.json: the machine, and
# each item's status ("pass", "fail", "skipped: why"), seconds, figures and notes.
#
#   scripts/gpu/check.sh [--out DIR] [--work DIR] [--bundle FILE|none] [--build DIR] [--reuse-build]
#                        [--cpu] [--only ITEM,...] [--budget-s S]
#     --out DIR       check.log and summary.json (default /tmp/nf-gpu-check/out)
#     --work DIR      the unpacked bundle, the build, datasets and runs (default /tmp/nf-gpu-check)
#     --bundle FILE   the dependency bundle (default .gpu-bundle/deps.tar.xz); none: this machine's
#                     own packages (scripts/setup.sh installed them)
#     --build DIR     the build directory (default WORK/build)
#     --reuse-build   DIR is built already: no build; configure goes to a scratch directory, only to
#                     check the bundle against cmake/Dependencies.cmake
#     --cpu           no GPU (the dry run CI does): the items that need one are skipped
#     --only ITEMS    run these items alone (comma-separated names from the list above)
#     --budget-s S    items that would start after S seconds are skipped, and each command is
#                     stopped at S (default 480)
# Python: $NF_PYTHON, else python3 (the one with torch). Exit status: 0 when no item failed, 1 when
# one did, 2 for bad arguments.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=/tmp/nf-gpu-check out='' bundle=$root/.gpu-bundle/deps.tar.xz build='' reuse_build=0 gpu=1 only='' budget=480
all_items=(deps configure build nccl tiny_cpu tiny_gpu memory_gpu generate_gpu bench_nf bench_torch_eager
  bench_torch_compile)
usage() {
  echo "usage: $0 [--out DIR] [--work DIR] [--bundle FILE|none] [--build DIR] [--reuse-build] [--cpu]" \
    "[--only ITEM,...] [--budget-s S]" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --out | --work | --bundle | --build | --only) [[ -n ${2:-} ]] || usage ;;&
    --out) out=$2; shift ;;
    --work) work=$2; shift ;;
    --bundle) bundle=$2; shift ;;
    --build) build=$2; shift ;;
    --reuse-build) reuse_build=1 ;;
    --cpu) gpu=0 ;;
    --only) only=,$2,; shift ;;
    --budget-s) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; budget=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
out=${out:-$work/out} build=${build:-$work/build}
for item in ${only//,/ }; do
  [[ " ${all_items[*]} " == *" $item "* ]] || { echo "check: --only: no item '$item' (items: ${all_items[*]})" >&2; exit 2; }
done
py=${NF_PYTHON:-$(command -v python3 || true)}
cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc obeys them (scripts/mpi_env.sh sets 1)
[[ -x $py ]] || { echo "check: no python3 (with torch 2.11) on PATH; set NF_PYTHON" >&2; exit 2; }
if ((reuse_build)) && [[ ! -f $build/CMakeCache.txt ]]; then
  echo "check: --reuse-build: $build is no build directory (no CMakeCache.txt)" >&2
  exit 2
fi
mkdir -p "$work" "$out"
work=$(cd "$work" && pwd) out=$(cd "$out" && pwd)
log=$out/check.log items=$work/items
rm -rf "$items" && mkdir -p "$items"
exec > >(tee "$log") 2>&1
tee_pid=$!
# At exit, tee is done writing the log before the script returns (the device tool fetches it then).
trap 'exec >&- 2>&-; wait "$tee_pid"' EXIT
deadline=$((SECONDS + budget))

# --- the item harness -----------------------------------------------------------------------
# run_item NAME CAP TITLE: runs item_NAME in a subshell with errexit, for at most CAP seconds (and
# within the budget); exit 0 = pass. Inside an item, skip WHY and fail WHY end it, figure KEY VALUE
# and note TEXT go into the summary.
run_item() {
  local name=$1 cap=$2 title=$3 start=$SECONDS status rc
  current=$items/$name
  item_deadline=$((SECONDS + cap < deadline ? SECONDS + cap : deadline))
  mkdir -p "$current"
  echo
  echo "=== $name: $title ($(date -u +%H:%M:%S), $((deadline - SECONDS)) s of the budget left)"
  if [[ -n $only && $only != *",$name,"* ]]; then
    echo "skipped: not in --only" >"$current/status"
  elif ((SECONDS >= deadline)); then
    echo "skipped: out of the ${budget} s budget" >"$current/status"
  else
    set +e
    (set -e; "item_$name")
    rc=$?
    set -e
    [[ -f $current/status ]] || { ((rc == 0)) && echo pass || echo "fail: exit status $rc"; } >"$current/status"
  fi
  echo $((SECONDS - start)) >"$current/seconds"
  status=$(cat "$current/status")
  echo "--- $name: $status ($((SECONDS - start)) s)"
  "$py" - "$items" <<'PY'  # summary.json after every item: what a run cut short did finish is in it
import json, os, sys
items = sys.argv[1]
def value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text
summary = json.load(open(os.path.join(items, "machine.json")))
summary["items"] = []
for name in open(os.path.join(items, "order")).read().split():
    d = os.path.join(items, name)
    read = lambda f: open(os.path.join(d, f)).read().strip() if os.path.exists(os.path.join(d, f)) else ""
    figures = dict(line.split(" ", 1) for line in read("figures").splitlines())
    summary["items"].append({"name": name, "status": read("status"), "seconds": value(read("seconds") or "0"),
                             "figures": {k: value(v) for k, v in figures.items()},
                             "notes": read("notes").splitlines()})
summary["passed"] = all(not i["status"].startswith("fail") for i in summary["items"])
json.dump(summary, open(os.environ["NF_CHECK_SUMMARY"], "w"), indent=2)
PY
}
skip() { echo "skipped: $*" >"$current/status"; echo "skipped: $*"; exit 0; }
fail() {
  echo "fail: ${*%%$'\n'*}" >"$current/status"
  [[ $* != *$'\n'* ]] || echo "$*" >>"$current/notes"  # a list under the first line: the notes keep it
  echo "FAIL: $*"
  exit 1
}
figure() { echo "$1 $2" >>"$current/figures"; echo "  $1 = $2"; }
note() { echo "$*" >>"$current/notes"; echo "  note: $*"; }
# need_gpu: the item runs on the GPU alone (skipped with --cpu); gpu_unless_cpu: on the GPU, or on
# the CPU with --cpu. Without --cpu, an item fails where torch sees no CUDA device.
gpu_unless_cpu() {
  ((!gpu || cuda)) || fail "torch sees no CUDA device (torch.cuda.is_available() is False); --cpu runs the CPU part alone"
}
need_gpu() {
  ((gpu)) || skip "no GPU (--cpu)"
  gpu_unless_cpu
}
# limit CMD...: CMD, stopped when the item's time or the budget runs out.
limit() { timeout --kill-after=15 "$((item_deadline - SECONDS > 1 ? item_deadline - SECONDS : 1))" "$@"; }
# failed STATUS WHAT LOG: a command of the item failed, or limit stopped it (timeout's 124, or 137
# after its KILL); the end of its log goes to ours.
failed() {
  tail -30 "$3"
  (($1 != 124 && $1 != 137)) || fail "$2: stopped at the item's time limit ($3)"
  fail "$2 failed with exit status $1 ($3)"
}
export NF_CHECK_SUMMARY=$out/summary.json

# A system copy of a file the bundle has: what the check must never have used. Reads paths on
# stdin, prints the offending ones.
system_copies() {
  [[ -n ${NF_BUNDLE_DIR:-} ]] || return 0
  local path
  while read -r path; do
    if [[ $path == /* && $path != "$NF_BUNDLE_DIR"/* && -e $NF_BUNDLE_DIR$path ]]; then echo "$path"; fi
  done | sort -u
}

# --- the items ------------------------------------------------------------------------------
item_deps() {
  if [[ $bundle == none ]]; then
    note "no bundle: this machine's own packages"
  else
    [[ -n ${NF_BUNDLE_DIR:-} ]] || fail "$(cat "$items/bundle.err")"
    figure unpack_seconds "$unpack_seconds"
    figure bundle_packages "$(wc -l <"$NF_BUNDLE_DIR/packages.txt")"
    local missing
    missing=$(find "$NF_BUNDLE_DIR/usr" -type f \( -name '*.so*' -o -perm -u+x \) | while read -r elf; do
      ldd "$elf" </dev/null 2>/dev/null | awk -v elf="${elf#"$NF_BUNDLE_DIR"/}" '/not found/ {print "  " elf ": " $1}' || true
    done)
    [[ -z $missing ]] || fail "libraries of the bundle that load nothing here (add their packages to scripts/gpu/make_bundle.sh):"$'\n'"$missing"
  fi
  for tool in mpicxx mpirun pkg-config cmake ninja g++; do
    command -v "$tool" >/dev/null || fail "$tool is missing"
  done
  local probe=$work/probe
  mkdir -p "$probe"
  # shellcheck disable=SC2046  # pkg-config's flags are words
  mpicxx -O1 -o "$probe/probe" "$root/scripts/gpu/probe.cpp" $(pkg-config --cflags --libs hdf5 yaml-cpp) -MD -MF "$probe/probe.d" ||
    fail "the probe does not build against the dependencies"
  LD_DEBUG=files limit mpirun -n 2 --oversubscribe "$probe/probe" "$probe/probe.h5" 2>"$probe/loaded.log" ||
    failed $? "the probe under mpirun -n 2" "$probe/loaded.log"
  local copies
  copies=$({ sed 's/[ \\]\+/\n/g' "$probe/probe.d"; grep -o 'file=/[^ ]*' "$probe/loaded.log" | cut -d= -f2; } | system_copies)
  [[ -z $copies ]] || fail "the probe used system copies of bundled files:"$'\n'"$copies"
}

# The CMake arguments for this machine: its torch, and on a GPU the NCCL that torch itself loads
# (pip's nvidia-nccl, where torch has it), so that one NCCL serves nf and torch.
cmake_arguments() {
  echo -G Ninja -DCMAKE_BUILD_TYPE=Release "-DNF_PYTHON=$py"
  if ((gpu)); then
    local nccl
    nccl=$("$py" -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null) || return 0
    if [[ -e $nccl/include/nccl.h && -e $nccl/lib/libnccl.so.2 ]]; then
      echo "-DNF_NCCL_INCLUDE_DIR=$nccl/include -DNF_NCCL_LIBRARY=$nccl/lib/libnccl.so.2"
    fi
  fi
}

item_configure() {
  local dir=$build
  ((reuse_build)) && { dir=$work/configure-check; note "configure only, into $dir: --reuse-build builds nothing"; }
  rm -rf "$dir/CMakeCache.txt"
  # shellcheck disable=SC2046
  TORCH_CUDA_ARCH_LIST=9.0 limit cmake -S "$root" -B "$dir" $(cmake_arguments) >"$work/configure.log" 2>&1 ||
    failed $? "cmake configure" "$work/configure.log"
  local summary
  summary=$(grep -m1 'NeuralFlow: torch' "$work/configure.log" | sed 's/^-- //')
  echo "  $summary"
  figure cmake_version "$(cmake --version | head -1 | awk '{print $3}')"
  figure configure_summary "$summary"
  figure nccl_library "$(sed -n 's/^NF_NCCL_LIBRARY:FILEPATH=//p' "$dir/CMakeCache.txt")"
  if ((gpu)); then
    grep -q 'NF_WITH_CUDA ON, NCCL sources ON' <<<"$summary" || fail "no CUDA/NCCL build: $summary"
  fi
  local copies
  copies=$(sed -n 's/^[A-Za-z0-9_.+-]*:\(FILEPATH\|PATH\|STRING\)=//p' "$dir/CMakeCache.txt" | tr ';' '\n' | system_copies)
  [[ -z $copies ]] || fail "CMake found system copies of bundled files:"$'\n'"$copies"
}

targets=(nf-train nf-ckpt nf-shard write-text-dataset nf_unit_nccl_tensors nf_mpi_nccl)
item_build() {
  if ((reuse_build)); then
    local program missing=()
    for program in src/nf-train tests/write-text-dataset; do [[ -x $build/$program ]] || missing+=("$program"); done
    ((${#missing[@]} == 0)) || fail "--reuse-build: $build lacks ${missing[*]} (ninja -C $build nf-train write-text-dataset)"
    skip "--reuse-build: $build is built"
  fi
  local wanted=("${targets[@]}")
  ((gpu)) || wanted=(nf-train nf-ckpt nf-shard write-text-dataset)
  figure cores "$cores"
  limit cmake --build "$build" -j "$cores" --target "${wanted[@]}" >"$work/build.log" 2>&1 || {
    local status=$?
    grep -B2 -A12 -m3 'error' "$work/build.log" || true
    failed "$status" "the build" "$work/build.log"
  }
  tail -1 "$work/build.log"
  local copies
  copies=$(ninja -C "$build" -t deps | sed -n 's/^ *\(\/.*\)$/\1/p' | system_copies)
  [[ -z $copies ]] || fail "the build included system copies of bundled headers:"$'\n'"$copies"
}

item_nccl() {
  need_gpu
  limit ctest --test-dir "$build" -R '^nf_unit_nccl_tensors$' --output-on-failure >"$work/nccl_unit.log" 2>&1 ||
    failed $? nf_unit_nccl_tensors "$work/nccl_unit.log"
  figure nf_unit_nccl_tensors pass
  # np1 directly, not through CTest: its SKIP_REGULAR_EXPRESSION would report the whole binary as
  # skipped for the one test that needs 2 ranks.
  limit mpirun -n 1 "$build/tests/nf_mpi_nccl" --gtest_color=no >"$work/nccl_np1.log" 2>&1 ||
    failed $? "nf_mpi_nccl np1" "$work/nccl_np1.log"
  "$py" - "$work/nccl_np1.log" >>"$current/figures" <<'PY' || fail "nf_mpi_nccl np1 ran no test on the GPU"
import json, re, sys
text = open(sys.argv[1]).read()
passed = int(re.search(r"^\[  PASSED  \] (\d+) tests?\.", text, re.M).group(1))
# the summary lists each skipped test once more, after "N tests, listed below:"
summary = text.split("listed below:", 1)[1] if "listed below:" in text else ""
skipped = re.findall(r"^\[  SKIPPED \] (\S+)$", summary, re.M)
print(f"np1_passed {passed}")
print(f"np1_skipped {json.dumps(skipped)}")
sys.exit(0 if passed > 0 else 1)
PY
  cat "$current/figures"
  note "np1 runs the NCCL backend's tests on one rank; np2 needs a GPU per rank (NCCL refuses two ranks on one GPU)."
  note "Untested on one GPU: collectives between GPUs (all-reduce, reduce-scatter, all-gather, broadcast" \
    "across ranks), pipeline send/recv between ranks, the watchdog across ranks, nf-train's dp/tp/pp layouts on NCCL."
}

# A byte-level dataset of the repository's own text (docs and sources: about a million tokens).
dataset() {
  [[ -f $work/data/manifest.json ]] && return
  find "$root/docs" "$root/src" "$root/include" "$root/tests" -name '*.md' -o -name '*.cpp' -o -name '*.h' |
    sort | xargs cat >"$work/text.txt"
  "$build/tests/write-text-dataset" "$work/text.txt" "$work/data" pretrain 1048576 50 >/dev/null ||
    fail "write-text-dataset could not write $work/data"
}

# train NAME DEVICE(cpu|gpu) FLAGS...: one nf-train run on one rank; its log is $work/runs/NAME.log.
train() {
  local name=$1 device=$2
  shift 2
  # One rank: every core for its CPU work (scripts/mpi_env.sh's one thread is for oversubscribed ranks).
  local run_env=(env OMP_NUM_THREADS="$cores")
  [[ $device == gpu ]] || run_env+=(CUDA_VISIBLE_DEVICES=)
  rm -rf "$work/runs/$name"
  limit "${run_env[@]}" mpirun -n 1 "$build/src/nf-train" --data.train_path "$work/data" --output.dir "$work/runs" \
    --output.name "$name" --training.log_interval 1 --training.eval_interval 0 --checkpoint.save_interval 0 \
    --parallel.collective_timeout_s 60 "$@" \
    >"$work/runs/$name.log" 2>&1 || failed $? "nf-train $name" "$work/runs/$name.log"
  grep -m1 'INFO device ' "$work/runs/$name.log" | sed 's/^/  /'
}

# configs/tiny.yaml for 10 steps (2 with --cpu, where nothing is compared).
tiny_flags=(--config "$root/configs/tiny.yaml" --training.max_steps $((gpu ? 10 : 2)) --training.warmup_steps 2)

item_tiny_cpu() {
  dataset
  mkdir -p "$work/runs"
  train tiny_cpu_fp32 cpu "${tiny_flags[@]}" --training.dtype fp32
  figure losses "$(grep -c '"loss"' "$work/runs/tiny_cpu_fp32/metrics.jsonl")"
}

item_tiny_gpu() {
  need_gpu
  [[ -f $work/runs/tiny_cpu_fp32/metrics.jsonl ]] || fail "no CPU run to compare with (tiny_cpu failed)"
  train tiny_gpu_fp32 gpu "${tiny_flags[@]}" --training.dtype fp32
  train tiny_gpu_bf16 gpu "${tiny_flags[@]}" --training.dtype bf16
  "$py" - "$work/runs" >>"$current/figures" <<'PY' || fail "GPU losses stray from the CPU's (the table above)"
import json, sys
runs = sys.argv[1]
def losses(name):
    return [r["loss"] for r in map(json.loads, open(f"{runs}/{name}/metrics.jsonl")) if "loss" in r]
cpu = losses("tiny_cpu_fp32")
gpu = {dtype: losses(f"tiny_gpu_{dtype}") for dtype in ("fp32", "bf16")}
for dtype, run in gpu.items():
    if len(run) != len(cpu):
        sys.exit(f"gpu {dtype}: {len(run)} losses, cpu {len(cpu)}")
print(f"  {'step':>4} {'cpu fp32':>10} {'gpu fp32':>10} {'gpu bf16':>10}", file=sys.stderr)
for step, loss in enumerate(cpu, 1):
    print(f"  {step:>4} {loss:10.6f} {gpu['fp32'][step - 1]:10.6f} {gpu['bf16'][step - 1]:10.6f}", file=sys.stderr)
within = True
for dtype, tolerance in (("fp32", 1e-4), ("bf16", 2e-2)):
    worst = max(abs(g - c) / abs(c) for g, c in zip(gpu[dtype], cpu))
    print(f"{dtype}_max_rel_diff {worst:.3e}")
    print(f"{dtype}_tolerance {tolerance}")
    within = within and worst <= tolerance
sys.exit(0 if within else 1)
PY
  cat "$current/figures"
}

# ZeRO 3 (each unit's storage freed and re-gathered on the CUDA caching allocator, over NCCL) and
# full recomputation (its rerun under bf16 autocast) against the plain GPU runs, and the measured
# CUDA peak (memory record of metrics.jsonl) beside the planner's.
item_memory_gpu() {
  need_gpu
  [[ -f $work/runs/tiny_gpu_bf16/metrics.jsonl ]] || fail "no plain GPU run to compare with (tiny_gpu failed)"
  for dtype in fp32 bf16; do
    train "memory_gpu_$dtype" gpu "${tiny_flags[@]}" --training.dtype "$dtype" --parallel.zero 3 --training.recompute full
  done
  "$py" - "$work/runs" >>"$current/figures" <<'PY' || fail "ZeRO 3 + full recomputation strays from the plain GPU runs"
import json, sys
runs = sys.argv[1]
def records(name):
    return [json.loads(line) for line in open(f"{runs}/{name}/metrics.jsonl")]
within = True
for dtype, tolerance in (("fp32", 1e-4), ("bf16", 2e-2)):
    plain = [r["loss"] for r in records(f"tiny_gpu_{dtype}") if "loss" in r]
    memory = records(f"memory_gpu_{dtype}")
    losses = [r["loss"] for r in memory if "loss" in r]
    worst = max(abs(a - b) / abs(b) for a, b in zip(losses, plain)) if len(losses) == len(plain) else float("inf")
    peak = [r for r in memory if "peak_tensor_bytes" in r][-1]
    print(f"{dtype}_zero3_full_max_rel_diff {worst:.3e}")
    print(f"{dtype}_measured_peak_mib {peak['peak_tensor_bytes'][0] / 2**20:.1f}")
    print(f"{dtype}_predicted_peak_mib {peak['predicted_peak_bytes'][0] / 2**20:.1f}")
    within = within and worst <= tolerance and peak["peak_tensor_bytes"][0] > 0
sys.exit(0 if within else 1)
PY
  cat "$current/figures"
}

# nf-generate on CUDA: 16 prompts (lines of the dataset's text) greedy for 32 tokens from the tiny
# CPU run's final checkpoint, on the CPU and on the GPU (with and without the KV cache), with a
# 300-id tokenizer trained here; the GPU's tokens must equal the CPU's for most prompts (fp32, but
# other kernels: a near tie may flip one), and its tokens/s are the figures.
item_generate_gpu() {
  need_gpu
  [[ -d $work/runs/tiny_cpu_fp32/checkpoints ]] || fail "no CPU run to generate from (tiny_cpu failed)"
  limit "$build/data_tools/nf-shard" tokenizer train --vocab-size 300 --input "$work/text.txt" --out "$work/tok" \
    >"$work/tok.log" 2>&1 || failed $? "nf-shard tokenizer train" "$work/tok.log"
  grep -v '^\s*$' "$work/text.txt" | head -16 | cut -c1-80 |
    "$py" -c 'import json, sys; [print(json.dumps({"prompt": l.rstrip("\n")})) for l in sys.stdin]' >"$work/prompts.jsonl"
  local name
  for name in cpu gpu gpu_nocache; do
    local run_env=(env OMP_NUM_THREADS="$cores") flags=()
    [[ $name == cpu ]] && run_env+=(CUDA_VISIBLE_DEVICES=)
    [[ $name == gpu_nocache ]] && flags=(--no-kv-cache)
    limit "${run_env[@]}" mpirun -n 1 "$build/src/nf-generate" --model "$work/runs/tiny_cpu_fp32" --tokenizer "$work/tok" \
      --prompts "$work/prompts.jsonl" --batch-size 16 --max-new-tokens 32 --ignore-eos "${flags[@]}" \
      --out "$work/generate_$name.jsonl" >"$work/generate_$name.log" 2>&1 ||
      failed $? "nf-generate on $name" "$work/generate_$name.log"
    sed -n 's/.*(\([0-9.]*\) tokens\/s.*/\1/p' "$work/generate_$name.log" | while read -r speed; do
      figure "${name}_tokens_per_s" "$speed"
    done
  done
  "$py" - "$work" >>"$current/figures" <<'PY' || fail "the GPU's greedy tokens differ from the CPU's for most prompts"
import json, sys
work = sys.argv[1]
def tokens(name):
    return [json.loads(line)["tokens"] for line in open(f"{work}/generate_{name}.jsonl")]
cpu, gpu, nocache = tokens("cpu"), tokens("gpu"), tokens("gpu_nocache")
same = sum(a == b for a, b in zip(cpu, gpu))
print(f"gpu_equal_to_cpu {same}/{len(cpu)}")
print(f"gpu_nocache_equal_to_cache {sum(a == b for a, b in zip(gpu, nocache))}/{len(gpu)}")
sys.exit(0 if same >= len(cpu) - 2 else 1)
PY
  cat "$current/figures"
}

# The benchmark: configs/1b.yaml shortened to a global batch of 16 sequences (4 micro-batches of
# 4 x 2048 tokens) in bf16, 30 steps of nf-train of which the first 5 are left out of the figures,
# and 3 + 10 steps of the PyTorch loop. With --cpu, the same plumbing on configs/tiny.yaml in fp32
# for a few steps (figures of no interest; torch.compile is skipped there, it takes minutes).
if ((gpu)); then
  bench_preset=1b dtype=bf16 nf_steps=30 nf_untimed=5 torch_steps=(--warmup 3 --steps 10) peak_tflops=989
else
  bench_preset=tiny dtype=fp32 nf_steps=3 nf_untimed=1 torch_steps=(--warmup 1 --steps 1) peak_tflops=0
fi
bench_nf=(--config "$root/configs/$bench_preset.yaml" --training.global_batch_size 16 --training.warmup_steps 1
  --training.dtype "$dtype")
torch_device=(--device "$( ((gpu)) && echo cuda || echo cpu)" --dtype "$dtype")

item_bench_nf() {
  gpu_unless_cpu
  dataset
  mkdir -p "$work/runs"
  train bench_nf "$( ((gpu)) && echo gpu || echo cpu)" "${bench_nf[@]}" --training.max_steps "$nf_steps"
  "$py" - "$work/runs/bench_nf/metrics.jsonl" "$nf_untimed" "$peak_tflops" >>"$current/figures" <<'PY'
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if "tokens_per_s" in r][int(sys.argv[2]):]
tokens_per_s = len(rows) / sum(1 / r["tokens_per_s"] for r in rows)  # every step has the same tokens
flops_per_token = rows[0]["gflops_per_s"] * 1e9 / rows[0]["tokens_per_s"]
print(f"tokens_per_s {tokens_per_s:.1f}")
if float(sys.argv[3]) > 0:
    print(f"mfu {tokens_per_s * flops_per_token / (float(sys.argv[3]) * 1e12):.4f}")
print(f"timed_steps {len(rows)}")
print(f"flops_per_token {flops_per_token:.6g}")
print(f"last_loss {rows[-1]['loss']:.4f}")
PY
  cat "$current/figures"
  rm -rf "$work/runs/bench_nf/checkpoints"  # for 1b 12 GB: the weights and AdamW state of the last step
}

# torch_loop NAME FLAGS...: the same model and batch in scripts/bench/torch_train_loop.py, its shape
# as nf-train resolves the benchmark's config (--print-config: presets, defaults and overrides).
torch_loop() {
  local name=$1 shape
  shift
  limit mpirun -n 1 "$build/src/nf-train" "${bench_nf[@]}" --print-config >"$work/runs/$name.config.yaml" ||
    fail "nf-train --print-config failed"
  shape=$("$py" - "$work/runs/$name.config.yaml" <<'PY'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
m, t = config["model"], config["training"]
flags = {"vocab": m["vocab_size"], "d-model": m["d_model"], "n-layers": m["n_layers"], "n-heads": m["n_heads"],
         "n-kv-heads": m["n_kv_heads"], "ffn-hidden": m["ffn_hidden"], "rope-theta": m["rope_theta"],
         "norm-eps": m["norm_eps"], "init-std": m["init_std"], "seq-len": t["seq_len"],
         "micro-batch": t["micro_batch_size"], "global-batch": t["global_batch_size"]}
print(" ".join(f"--{k} {v}" for k, v in flags.items()), "--tie" if m["tie_embeddings"] else "")
PY
  )
  # PyTorch as its users run it: without the bundle's libraries in front of the system's.
  # shellcheck disable=SC2086  # $shape is flags
  limit env LD_LIBRARY_PATH="$system_library_path" "$py" "$root/scripts/bench/torch_train_loop.py" train "${torch_device[@]}" --threads "$cores" --data "$work/data" \
    $shape "${torch_steps[@]}" "$@" >"$work/runs/$name.json" 2>"$work/runs/$name.log" ||
    failed $? "the PyTorch loop" "$work/runs/$name.log"
  "$py" - "$work/runs/$name.json" "$peak_tflops" "$work/runs/bench_nf/metrics.jsonl" >>"$current/figures" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
print(f"tokens_per_s {r['tokens_per_s']:.1f}")
if float(sys.argv[2]) > 0:
    print(f"mfu {r['gflops_per_s'] / (float(sys.argv[2]) * 1e3):.4f}")
print(f"fastest_step_tokens_per_s {r['fastest_step_tokens_per_s']:.1f}")
print(f"first_step_s {r['step_s'][0]:.1f}")  # with --compile: the compilation
print(f"flops_per_token {r['flops_per_token']:.6g}")
if os.path.exists(sys.argv[3]):  # nf-train's own count for the same model: the shapes agree
    nf = next(x for x in map(json.loads, open(sys.argv[3])) if "tokens_per_s" in x)
    nf_flops = nf["gflops_per_s"] * 1e9 / nf["tokens_per_s"]
    print(f"same_flops_per_token_as_nf {json.dumps(abs(nf_flops - r['flops_per_token']) <= 1e-6 * nf_flops)}")
PY
  cat "$current/figures"
}

item_bench_torch_eager() {
  gpu_unless_cpu
  dataset
  mkdir -p "$work/runs"
  torch_loop bench_torch_eager
}

item_bench_torch_compile() {
  need_gpu
  dataset
  mkdir -p "$work/runs"
  torch_loop bench_torch_compile --compile  # the first step compiles: it is never timed
}

# --- the run --------------------------------------------------------------------------------
# One node: ranks started without ssh (the bundle has none, and mpirun refuses to start where it
# finds no ssh unless told), shared memory only (no UCX, verbs or libfabric probing on a machine
# without those devices).
# shellcheck source=../mpi_env.sh
source "$root/scripts/mpi_env.sh"
export OMPI_MCA_plm=isolated OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none

"$py" - "$items/machine.json" "$gpu" "$bundle" "$build" <<'PY'
import json, os, platform, subprocess, sys, time
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
import torch
machine = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(), "cores": os.cpu_count(),
           "gpu_mode": sys.argv[2] == "1", "bundle": sys.argv[3], "build": sys.argv[4],
           "python": sys.executable, "torch": torch.__version__, "torch_cuda": torch.version.cuda,
           "cuda_available": torch.cuda.is_available(),
           "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
           "nvidia_smi": run("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"),
           "compiler": run("c++", "--version").splitlines()[0] if run("c++", "--version") else None,
           "glibc": platform.libc_ver()[1]}
json.dump({"machine": machine}, open(sys.argv[1], "w"), indent=2)
print("machine:", ", ".join(f"{k} {v}" for k, v in machine.items()))
PY
echo "${all_items[*]}" >"$items/order"
cuda=0
"$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' && cuda=1
# The bundle's variables are for every item, so it is loaded here; the deps item reports a failure.
unpack_start=$SECONDS system_library_path=${LD_LIBRARY_PATH:-}
if [[ $bundle != none ]]; then
  # shellcheck source=bundle_env.sh
  source "$root/scripts/gpu/bundle_env.sh" "$bundle" "$work/deps" 2>"$items/bundle.err" || true
fi
unpack_seconds=$((SECONDS - unpack_start))
# The caps, in seconds, stop a hang or a slow item early enough for the next ones.
run_item deps 90 "the dependency bundle: unpack, load every library, probe MPI + HDF5 + yaml-cpp"
run_item configure 150 "cmake against this machine's torch"
run_item build 330 "the programs and the GPU tests, $cores cores"
run_item nccl 90 "the NCCL backend's tests on one GPU"
run_item tiny_cpu 90 "the tiny model on the CPU in fp32: the reference losses"
run_item tiny_gpu 90 "the tiny model on the GPU in fp32 and bf16 against the CPU's losses"
run_item memory_gpu 90 "ZeRO 3 and full recomputation on the GPU against the plain runs; the CUDA peak"
run_item generate_gpu 60 "nf-generate on the GPU against the CPU, token for token; tokens/s with and without the KV cache"
run_item bench_nf 150 "configs/$bench_preset.yaml, $nf_steps steps: nf-train tokens/s and MFU"
run_item bench_torch_eager 100 "the same model and batch: PyTorch eager"
run_item bench_torch_compile 240 "the same model and batch: PyTorch torch.compile"

echo
"$py" - "$NF_CHECK_SUMMARY" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
for item in summary["items"]:
    figures = ", ".join(f"{k} {v}" for k, v in item["figures"].items() if isinstance(v, (int, float)))
    print(f"{item['name']:<20} {item['status'][:60]:<60} {item['seconds']:>4} s  {figures}")
print("check:", "passed" if summary["passed"] else "FAILED", f"(summary: {sys.argv[1]})")
sys.exit(0 if summary["passed"] else 1)
PY
