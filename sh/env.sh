# Sourced by the other scripts: the venv on PATH and no network calls from the HF stack.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$REPO_ROOT/.venv/bin:$PATH"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" AXOLOTL_DO_NOT_TRACK=1 DO_NOT_TRACK=1
export SPEC_TOD_DATA_DIR="${SPEC_TOD_DATA_DIR:-$REPO_ROOT/../shared/data}"
