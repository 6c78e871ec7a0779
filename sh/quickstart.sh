#!/usr/bin/env bash
# The README's main command: sets up .venv (CPU-only), then runs the whole pipeline on a tiny model
# (build data, tiny model, fine-tune, merge, serve, bench, score) in a few minutes. Arguments go to
# `spec-tod quickstart` (see `spec-tod quickstart --help`), e.g. --data-dir DIR or --workdir DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
bash sh/setup.sh
source sh/env.sh
exec spec-tod quickstart "$@"
