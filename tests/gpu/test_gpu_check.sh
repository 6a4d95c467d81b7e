#!/usr/bin/env bash
# The one-shot GPU check (scripts/gpu/check.sh), as far as a machine without a GPU can run it:
#  - its arguments: --help exits 0, an unknown argument or a bad value exits 2 with a usage line;
#  - the bundle: scripts/gpu/make_bundle.sh downloads Debian's packages and packs them under the
#    64 MiB the device tool carries (with the working tree), and the unpacked tree holds what the
#    build needs (mpicxx and libmpi, hdf5.h, the CMake configs, ...), relocated (no placeholder left);
#  - the dry run: check.sh --cpu --reuse-build on this build: the bundle unpacked, its libraries
#    loaded and probed under mpirun -n 2, the project configured against the bundle alone, the
#    tiny model trained on the CPU, the benchmark's nf-train and PyTorch plumbing; summary.json
#    holds every item with the status it must have;
#  - a system copy is caught: with the bundle's HDF5 pkg-config file pointing at /usr, the deps
#    item fails and names the system header it used.
# Needs the network (Debian's servers); exits 77 (skipped) where they are not reachable.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
check=$source/scripts/gpu/check.sh

# 1. Arguments.
"$check" --help >"$work/help.out" 2>&1 || fail "--help exited $?"
grep -q 'one-shot GPU check' "$work/help.out" && grep -q -- '--reuse-build' "$work/help.out" || fail "--help: $(head -3 "$work/help.out")"
for args in "--frobnicate" "--budget-s soon" "--only nothing" "--out" "--reuse-build --build $work"; do
  # shellcheck disable=SC2086  # each case is several words
  "$check" $args >"$work/bad.out" 2>&1
  rc=$?
  ((rc == 2)) || fail "check.sh $args exited $rc, not 2: $(cat "$work/bad.out")"
  grep -q 'usage:\|--reuse-build:\|--only:' "$work/bad.out" || fail "check.sh $args said: $(cat "$work/bad.out")"
done
echo "PASS: --help, and exit status 2 with a usage line for bad arguments"

# 2. The bundle.
bundle=$work/deps.tar.xz
"$source/scripts/gpu/make_bundle.sh" --out "$bundle" >"$work/bundle.out" 2>&1
rc=$?
((rc == 3)) && { cat "$work/bundle.out"; echo "SKIP: Debian's servers are not reachable"; exit 77; }
((rc == 0)) || { cat "$work/bundle.out"; fail "make_bundle.sh exited $rc"; }
head -1 "$work/bundle.out"
tree_bytes=$(cd "$source" && git ls-files -z --cached --others --exclude-standard | xargs -0 cat 2>/dev/null | wc -c)
total=$(($(stat -c %s "$bundle") + tree_bytes))
((total < 64 * 1024 * 1024)) || fail "bundle + working tree = $total bytes, over the device tool's 64 MiB"
# shellcheck source=../../scripts/gpu/bundle_env.sh
(source "$source/scripts/gpu/bundle_env.sh" "$bundle" "$work/unpacked") || fail "bundle_env.sh could not unpack the bundle"
for f in usr/bin/{mpicxx,mpirun,orted,h5cc,protoc,pkg-config} usr/lib/x86_64-linux-gnu/libmpi.so.40 \
  usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h usr/include/hdf5/serial/hdf5.h usr/include/yaml-cpp/yaml.h \
  usr/lib/x86_64-linux-gnu/cmake/{yaml-cpp/yaml-cpp-config.cmake,GTest/GTestConfig.cmake} \
  usr/share/cmake/{nlohmann_json/nlohmann_jsonConfig.cmake,CLI11/CLI11Config.cmake} usr/include/unicode/uchar.h \
  usr/include/google/protobuf/message.h usr/include/{zlib.h,openssl/evp.h} usr/lib/x86_64-linux-gnu/pkgconfig/sentencepiece.pc \
  usr/lib/x86_64-linux-gnu/{libjemalloc.so,libicuuc.so,libhdf5_serial.so,libyaml-cpp.so,libprotobuf.so} \
  packages.txt relocate.txt library_dirs.txt; do
  [[ -e $work/unpacked/$f ]] || fail "the unpacked bundle lacks $f"
done
! (cd "$work/unpacked" && xargs -d '\n' grep -l '@NF_BUNDLE_PREFIX@' <relocate.txt) || fail "placeholders left after unpacking"
grep -q "^prefix=\"$work/unpacked/usr\"$" "$work/unpacked/usr/bin/h5cc" || fail "h5cc was not relocated"
echo "PASS: the bundle: $(wc -l <"$work/unpacked/packages.txt") packages, $total bytes with the working tree; unpacked and relocated"

# 3. The dry run.
"$check" --cpu --reuse-build --build "$build" --bundle "$bundle" --work "$work/check" >"$work/check.out" 2>&1
rc=$?
((rc == 0)) || { cat "$work/check.out"; fail "check.sh --cpu exited $rc"; }
[[ -s $work/check/out/check.log ]] || fail "no check.log"
"$py" - "$work/check/out/summary.json" <<'PY' || { cat "$work/check.out"; fail "summary.json"; }
import json, sys
summary = json.load(open(sys.argv[1]))
items = {i["name"]: i for i in summary["items"]}
expected = {"deps": "pass", "configure": "pass", "build": "skipped: --reuse-build", "nccl": "skipped: no GPU",
            "tiny_cpu": "pass", "tiny_gpu": "skipped: no GPU", "memory_gpu": "skipped: no GPU", "generate_gpu": "skipped: no GPU",
            "bench_nf": "pass",
            "bench_torch_eager": "pass",
            "bench_torch_compile": "skipped: no GPU"}
assert list(items) == list(expected), list(items)
for name, status in expected.items():
    assert items[name]["status"].startswith(status), (name, items[name]["status"])
assert summary["passed"] is True
assert summary["machine"]["torch"].startswith("2.11"), summary["machine"]
assert summary["machine"]["gpu_mode"] is False
assert items["deps"]["figures"]["bundle_packages"] > 50, items["deps"]
assert "NF_WITH_CUDA ON" in items["configure"]["figures"]["configure_summary"], items["configure"]
assert items["tiny_cpu"]["figures"]["losses"] == 2, items["tiny_cpu"]
assert items["bench_nf"]["figures"]["tokens_per_s"] > 0, items["bench_nf"]
assert items["bench_torch_eager"]["figures"]["same_flops_per_token_as_nf"] is True, items["bench_torch_eager"]
print("summary.json: " + ", ".join(f"{n} {i['status'].split(':')[0]}" for n, i in items.items()))
PY
echo "PASS: the dry run: every item with its status, summary.json valid"

# 4. A system copy of a bundled file is caught (this machine has libhdf5-dev in /usr).
pc=$work/check/deps/usr/lib/x86_64-linux-gnu/pkgconfig/hdf5-serial.pc
[[ -e /usr/include/hdf5/serial/hdf5.h ]] || fail "/usr/include/hdf5/serial/hdf5.h is missing (scripts/setup.sh installs libhdf5-dev)"
sed -i "s#-I$work/check/deps/usr/include#-I/usr/include#" "$pc"
"$check" --cpu --reuse-build --build "$build" --bundle "$bundle" --work "$work/check" --only deps >"$work/copy.out" 2>&1
rc=$?
((rc == 1)) || { cat "$work/copy.out"; fail "a probe built against /usr's hdf5.h: exit $rc, not 1"; }
grep -q 'the probe used system copies of bundled files' "$work/copy.out" && grep -q '^/usr/include/hdf5/serial/hdf5.h$' "$work/copy.out" ||
  { cat "$work/copy.out"; fail "the system hdf5.h was not named"; }
echo "PASS: a system copy of a bundled header fails the deps item and is named"
