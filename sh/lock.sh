#!/usr/bin/env bash
# Regenerates requirements-lock.txt: the tested version of every dependency of spec-tod and all its
# extras (train, serve, dev), for Linux x86_64 and Python 3.11, with torch's CPU build (sh/torch-source.sh).
# sh/setup.sh installs exactly this file; CI (sh/test.sh) tests it. Run after changing pyproject.toml:
#   bash sh/lock.sh                 # then: bash sh/setup.sh && bash sh/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source sh/torch-source.sh
python3 -m pip install -q uv >/dev/null 2>&1 || python3 -m pip install uv
TORCH_CPU="torch==$(sed -n 's/.*"torch==\([0-9.]*\)".*/\1/p' pyproject.toml)+cpu"   # the train extra's torch, CPU build
python3 -m uv pip compile pyproject.toml --extra train --extra serve --extra dev --constraint <(echo "$TORCH_CPU") \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 "${TORCH_SOURCE[@]}" \
  --custom-compile-command "bash sh/lock.sh" --no-emit-find-links --quiet -o requirements-lock.txt
echo "requirements-lock.txt: $(grep -c '==' requirements-lock.txt) packages"
