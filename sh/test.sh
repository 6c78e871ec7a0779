#!/usr/bin/env bash
# Sets up everything and runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash sh/docker-engine.sh > /tmp/spec-tod-apt.log 2>&1 &
APT_PID=$!
bash sh/setup.sh
wait "$APT_PID" || { echo "installing docker.io failed: see /tmp/spec-tod-apt.log"; exit 1; }
source sh/env.sh
exec python -m pytest "$@"
