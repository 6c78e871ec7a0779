#!/usr/bin/env bash
# Creates .venv in the repository root with everything spec-tod needs, CPU-only.
# uv installs the pinned lock in about a minute (pip takes ~5); torch comes from the
# machine's local wheel folder so no CUDA packages are pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q uv >/dev/null 2>&1 || python3 -m pip install uv
PY=$(python3 -c 'import sys; print(sys.executable)')
[ -x .venv/bin/python ] || python3 -m uv venv -q .venv --python "$PY"
FIND_LINKS=()
[ -n "${PIP_FIND_LINKS:-}" ] && FIND_LINKS=(--find-links "$PIP_FIND_LINKS")
python3 -m uv pip install -q --python .venv/bin/python --compile-bytecode "${FIND_LINKS[@]}" -r requirements-lock.txt
python3 -m uv pip install -q --python .venv/bin/python --no-deps -e .
mkdir -p "${HF_HUB_CACHE:-$HOME/.cache/huggingface/hub}"
echo "spec-tod installed in $(pwd)/.venv"
