#!/usr/bin/env bash
# Sets up everything, runs the static gate (ruff on spec_tod/ and benchmarks/, mypy on spec_tod/; configured in pyproject.toml) and
# then the test suite, whose tests/test_wheel.py builds the wheel and runs it from a fresh venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash sh/docker-engine.sh > /tmp/spec-tod-apt.log 2>&1 &
APT_PID=$!
bash sh/setup.sh
wait "$APT_PID" || { echo "installing docker.io failed: see /tmp/spec-tod-apt.log"; exit 1; }
source sh/env.sh
ruff check spec_tod benchmarks # fails fast: lint (including B905, zip without strict=) before hours of tests
mypy                           # files and settings: [tool.mypy] in pyproject.toml
exec python -m pytest "$@"
