#!/usr/bin/env bash
# Makes the project's virtual environment (.venv/, or $NF_VENV) with the `python3` first on PATH
# and installs scripts/requirements.txt into it: torch 2.11.0 (whose LibTorch CMake builds
# against) and the Python libraries the tests check nf against. Skips the install when the
# environment already holds exactly these pins (a stamp with the requirements' checksum).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${NF_VENV:-$root/.venv}
requirements=$root/scripts/requirements.txt
stamp=$venv/.nf-requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "setup: $venv has the pinned Python packages ($(basename "$requirements"))"
  exit 0
fi
if [[ ! -x $venv/bin/python ]]; then
  echo "setup: making the virtual environment $venv ($(python3 --version))"
  python3 -m venv "$venv"
fi
echo "setup: installing $(grep -c '==' "$requirements") pinned Python packages into $venv (torch 2.11.0 with CUDA: ~5 GB)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
echo "$want" >"$stamp"
