#!/usr/bin/env bash
# CMake refuses a LibTorch other than 2.11 with a message that names what it found and the command
# that installs the right one: a Python without torch, and one whose torch is 1.13 (a stand-in
# script that answers the version query as Debian's would).
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"

expect_refused() {  # $1 = NF_PYTHON, $2... = fragments the error must contain
  local python=$1; shift
  local out
  out=$(cmake -S "$source" -B "$work/build" -G Ninja -DNF_PYTHON="$python" 2>&1) && fail "configure with $python succeeded"
  out=$(tr -s ' \n' ' ' <<<"$out")  # CMake wraps its messages
  for fragment in "$@" "torch==2.11.0" "scripts/setup.sh"; do
    [[ $out == *"$fragment"* ]] || { echo "$out"; fail "the error for $python does not say '$fragment'"; }
  done
  rm -rf "$work/build"
}

printf '#!/bin/sh\necho 1.13.1\necho /usr/lib/python3/dist-packages/torch/share/cmake\n' >"$work/python-1.13"
chmod +x "$work/python-1.13"
expect_refused "$work/python-1.13" "has torch 1.13.1" "$work/python-1.13 -m pip install torch==2.11.0"
printf '#!/bin/sh\necho "ModuleNotFoundError: No module named '"'torch'"'" >&2\nexit 1\n' >"$work/python-none"
chmod +x "$work/python-none"
expect_refused "$work/python-none" "gives none (ModuleNotFoundError: No module named 'torch')"
echo "PASS: torch 1.13 and a missing torch are refused with the version found and the install command"
