"""Training throughput of ``finetune --speed fast`` against the release's recipe (``--speed release``), same
model, data and steps, measured in the same run.

Each speed is a real ``spec-tod finetune --backend local`` process into its own run folder; its
``throughput.json`` (from axolotl's log, :mod:`spec_tod.train.throughput`) gives tokens/s (padding
excluded), trainable tokens/s and samples/s. With sample packing one optimizer step holds more
records, so steps/s are not comparable; tokens/s are.

GPU (the figure the issue asks for; needs a lent GPU)::

    python benchmarks/train_throughput.py --base-model MODEL_DIR --data BUILD_DATA_DIR --profile gpu --max-steps 20

CPU variant (a tiny random Llama built from the test split, as the tests build it; the CPU profile has
no Liger kernels, so this compares packing + SDPA only)::

    python benchmarks/train_throughput.py --tiny --profile cpu --max-steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _tiny(scratch: Path) -> tuple[Path, Path]:
    """A tiny Llama and build-data DST output of 2% of MultiWOZ 2.1 dev (the training tests' setup)."""
    from spec_tod.data.readers import find_db_dir, find_schema, load_database, load_dialogues
    from spec_tod.data.schema import load_schema
    from spec_tod.models.tiny import build_tiny_model
    from spec_tod.settings import default_data_dir
    from spec_tod.tasks.build import BuildOptions, build_data
    from spec_tod.tasks.records import build_record

    data_dir = default_data_dir()
    dialogues = load_dialogues("multiwoz21", data_dir, "test").dialogues[:300]
    schema = load_schema(find_schema("multiwoz21", data_dir, split="test"))
    database = load_database(find_db_dir(data_dir))
    texts = [
        content
        for dialogue in dialogues
        for task in ("dst", "e2e")
        for _, content in build_record(dialogue, task, schema, 42, database).messages
    ]
    model = build_tiny_model(scratch / "model", texts)
    out = scratch / "data"
    build_data(BuildOptions(dataset="multiwoz21", data_dir=data_dir / "multiwoz21", split="dev", task="dst", out=out,
                            fraction=0.02, seed=1))  # fmt: skip
    return model, out


def _finetune(speed: str, model: Path, data: Path, run: Path, profile: str, max_steps: int) -> tuple[float, dict]:
    env = {**os.environ, "AXOLOTL_DO_NOT_TRACK": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, "-c", "from spec_tod.cli import main; main()", "finetune", "--speed", speed, "--profile", profile,
        "--base-model", str(model), "--data", str(data), "--output-dir", str(run), "--backend", "local",
        "--max-steps", str(max_steps),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=3600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{speed}: finetune failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return wall, json.loads((run / "throughput.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=None, help="build-data output (folder or .jsonl)")
    parser.add_argument("--tiny", action="store_true", help="build a tiny random Llama and a slice of dev instead")
    parser.add_argument("--profile", choices=["gpu", "cpu"], default="gpu")
    parser.add_argument("--max-steps", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        if args.tiny:
            model, data = _tiny(scratch)
        elif args.base_model is None or args.data is None:
            raise SystemExit("give --base-model and --data, or --tiny")
        else:
            model, data = args.base_model, args.data
        figures = {}
        for speed in ("release", "fast"):
            figures[speed] = _finetune(speed, model, data, scratch / speed, args.profile, args.max_steps)
    print(f"profile {args.profile}, {args.max_steps} optimizer steps, model {model.name}")
    for speed, (wall, got) in figures.items():
        rates = {key: got.get(key) or 0 for key in ("tokens_per_s", "trainable_tokens_per_s", "samples_per_s")}
        print(f"{speed:8s} tokens/s {rates['tokens_per_s']:9.1f}  trainable tokens/s {rates['trainable_tokens_per_s']:9.1f}  "
              f"samples/s {rates['samples_per_s']:7.2f}  tokens {got['tokens']}  training {got['runtime_s']:.1f} s  "
              f"process {wall:.1f} s")  # fmt: skip
    release, fast = figures["release"][1], figures["fast"][1]
    if release.get("tokens_per_s") and fast.get("tokens_per_s"):
        trainable = (fast["trainable_tokens_per_s"] or 0) / (release["trainable_tokens_per_s"] or 1)
        print(f"fast / release tokens/s: {fast['tokens_per_s'] / release['tokens_per_s']:.2f}x (trainable: {trainable:.2f}x)")


if __name__ == "__main__":
    main()
