# Sourced by the other scripts: the venv on PATH and no telemetry or hub calls from the HF stack.
# The data folder is $SPEC_TOD_DATA_DIR when set, else ../shared/data (spec_tod/settings.py).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$REPO_ROOT/.venv/bin:$PATH"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" AXOLOTL_DO_NOT_TRACK=1 DO_NOT_TRACK=1
