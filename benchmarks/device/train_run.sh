#!/usr/bin/env bash
# On a lent GPU, with .device carried (benchmarks/device/prepare.py made it here): training tokens/s of
# `speed: fast` against the release's recipe (issue 16), and which of fast's settings costs what
# (docs/speed.md, "Training speed"): the release, fast, then fast again (Triton's cache now warm), fast
# without Liger, and the release with Liger. About 6 minutes of device time; BENCH_S bounds the runs.
#   run: bash benchmarks/device/train_run.sh      carry: [".device"]      figures: $OUT/figures.json
set -u
T0=$(date +%s)
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT" /tmp/work
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/wheels/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 AXOLOTL_DO_NOT_TRACK=1 \
  DO_NOT_TRACK=1 WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false
echo "installed in $(( $(date +%s) - T0 )) s"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 - <<'PY' || exit 4
import importlib.metadata as metadata

import torch

print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))
for name in ("transformers", "axolotl", "peft", "trl", "accelerate", "datasets", "bitsandbytes", "liger-kernel", "triton"):
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        print(name, "missing")
import axolotl.cli.main, bitsandbytes, liger_kernel.transformers  # noqa: E401,F401
PY
LIGER='"axolotl": {"plugins": ["axolotl.integrations.liger.LigerPlugin"], "liger_rope": true, "liger_rms_norm": true, "liger_glu_activation": true, "liger_fused_linear_cross_entropy": true}'
timeout -k 5 "${BENCH_S:-420}" python3 benchmarks/train_throughput.py --tiny --hidden-size 768 --layers 12 --heads 12 \
  --kv-heads 4 --vocab-size 8192 --data .device/data --presets spec-tod --profile gpu --max-steps 20 \
  --variant "fast-warm={\"pad_to_sequence_len\": false, \"attn_implementation\": \"sdpa\", $LIGER}" \
  --variant 'no-liger={"pad_to_sequence_len": false, "attn_implementation": "sdpa"}' \
  --variant "liger-only={$LIGER}" \
  --json "$OUT/figures.json" --keep /tmp/work 2>&1 | grep -v "Writing model" | tee "$OUT/bench.txt"
echo "bench exit ${PIPESTATUS[0]} after $(( $(date +%s) - T0 )) s"
(cd /tmp/work && tar czf "$OUT/logs.tgz" */train.log */axolotl.yml */throughput.json 2>/dev/null)
