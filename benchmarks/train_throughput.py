"""Training throughput of ``finetune --speed fast`` against the release's recipe (``--speed release``), same
model, data and steps, measured in the same run.

Each speed is a real ``spec-tod finetune --backend local`` process into its own run folder; its
``throughput.json`` (from axolotl's log, :mod:`spec_tod.train.throughput`; evaluation time taken out)
gives trainable tokens/s, the figure compared: the same records carry the same labelled tokens however
they are batched. Two of them: over the whole run, and after the warm-up (without steps 1-2, where
one-time costs such as compiling Triton kernels fall; ``WARMUP_WINDOWS`` there). axolotl's evaluation
is off in every run. Positions/s count padding too (a release row is padded to ``sequence_len``, a packed
row is filled), and with packing a step and a "sample" (a row) hold more records, so steps/s and
samples/s are not comparable either.

GPU (the figure the issue asks for; an 83M-parameter Llama with random weights and its tokenizer trained
on the data, LoRA, QLoRA and full fine-tuning; ``docs/speed.md`` has the run on an H200)::

    spec-tod build-data --dataset multiwoz21 --split dev --task dst,e2e --fraction 0.2 --out DATA
    python benchmarks/train_throughput.py --tiny --hidden-size 768 --layers 12 --heads 12 --kv-heads 4 \
        --vocab-size 8192 --data DATA --presets spec-tod,qlora,full --profile gpu --max-steps 20

or ``--base-model MODEL_DIR --data DATA`` for a real model. CPU variant (a tiny random Llama, 2% of
dev; the CPU profile has no Liger kernels, and batches two unpadded records, so ``--gpu-batches`` gives
it the GPU recipe's batches: one record a row, the release's padded to ``sequence_len``)::

    python benchmarks/train_throughput.py --tiny --profile cpu --gpu-batches --max-steps 6
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _dev_slice(out: Path) -> Path:
    """build-data DST output of 2% of MultiWOZ 2.1 dev (the training tests' setup)."""
    from spec_tod.settings import default_data_dir
    from spec_tod.tasks.build import BuildOptions, build_data

    build_data(BuildOptions(dataset="multiwoz21", data_dir=default_data_dir() / "multiwoz21", split="dev", task="dst",
                            out=out, fraction=0.02, seed=1))  # fmt: skip
    return out


def _tiny_model(out: Path, data: Path, args: argparse.Namespace) -> Path:
    """A random Llama of the size asked for, its tokenizer trained on the training records' texts."""
    from spec_tod.models.tiny import build_tiny_model, record_texts
    from spec_tod.train.axolotl_config import dataset_files
    from spec_tod.train.settings import DataSource

    texts = record_texts(dataset_files(DataSource(path=data)))
    return build_tiny_model(out, texts, vocab_size=args.vocab_size, hidden_size=args.hidden_size,
                            num_layers=args.layers, num_heads=args.heads, num_kv_heads=args.kv_heads)  # fmt: skip


def _parameters(model: Path) -> int:
    from safetensors import safe_open

    total = 0
    for file in model.glob("*.safetensors"):
        with safe_open(str(file), "pt") as weights:
            total += sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())  # noqa: SIM118
    return total


def _finetune(preset: str, name: str, extra: dict, model: Path, data: Path, run: Path, args: argparse.Namespace) -> dict:
    """One ``spec-tod finetune`` process; its figures, or the reason it failed (the other runs go on).

    ``name`` is ``release``, ``fast``, or a ``--variant`` (the release's recipe with ``extra`` keys over it).
    """
    env = {**os.environ, "AXOLOTL_DO_NOT_TRACK": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
    speed = "fast" if name == "fast" else "release"
    # axolotl's evaluation is not training, and it paused the GPU profile's 20-step runs about every step
    keys = {"preset": preset, "speed": speed, "profile": args.profile, "base_model": str(model), "data": [{"path": str(data)}],
            "output_dir": str(run), "max_steps": args.max_steps, "val_set_size": 0, "evals_per_epoch": None}  # fmt: skip
    if args.gpu_batches:
        # The GPU recipe's batches on the CPU profile (which batches 2 unpadded records): one record a
        # row, two rows a step, the release's rows padded to sequence_len; fast leaves the padding out.
        keys |= {"micro_batch_size": 1, "gradient_accumulation_steps": 2}
        if speed == "release":
            keys["pad_to_sequence_len"] = True
    keys |= extra
    config = run.with_suffix(".yaml")
    config.write_text(json.dumps(keys), encoding="utf-8")  # JSON is YAML
    command = [sys.executable, "-c", "from spec_tod.cli import main; main()", "finetune", str(config), "--backend", "local"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=3600)
    wall = time.perf_counter() - started
    figures: dict = {"preset": preset, "speed": name, "process_s": round(wall, 1)}
    throughput = run / "throughput.json"
    if done.returncode != 0 or not throughput.exists():
        return figures | {"error": f"exit {done.returncode}: {(done.stdout + done.stderr)[-1500:]}"}
    return figures | json.loads(throughput.read_text())


def _line(got: dict) -> str:
    if "error" in got:
        return f"{got['preset']:9s} {got['speed']:8s} failed after {got['process_s']:.1f} s: {got['error'][-300:]}"
    rates = {key: got.get(key) or 0 for key in ("tokens_per_s", "trainable_tokens_per_s", "steady_trainable_tokens_per_s")}
    return (f"{got['preset']:9s} {got['speed']:8s} trainable tokens/s {rates['trainable_tokens_per_s']:9.1f}  "
            f"after warm-up {rates['steady_trainable_tokens_per_s']:9.1f} ({got['steady_steps']} steps)  "
            f"({got['trainable_tokens']} tokens)  positions/s {rates['tokens_per_s']:9.1f}  "
            f"training {got['runtime_s'] - got['paused_s']:.1f} s (+ {got['paused_s']:.1f} s evaluation)  "
            f"process {got['process_s']:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=None, help="build-data output (folder or .jsonl); default 2%% of dev")
    parser.add_argument("--tiny", action="store_true", help="build a random Llama instead of --base-model")
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--presets", default="spec-tod", help="comma-separated: spec-tod, qlora, full")
    parser.add_argument("--profile", choices=["gpu", "cpu"], default="gpu")
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--gpu-batches", action="store_true", help="with --profile cpu: the GPU recipe's batch shape")
    parser.add_argument(
        "--variant", action="append", default=[], metavar="NAME=JSON",
        help="another run: the release's recipe with these settings over it, to time fast's parts one by one, "
        "e.g. 'unpadded={\"pad_to_sequence_len\": false}'; repeatable",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here, after each run")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (model, run folders and logs)")
    args = parser.parse_args()
    if not args.tiny and args.base_model is None:
        raise SystemExit("give --base-model, or --tiny")
    runs = [("release", {}), ("fast", {}), *(_variant(text) for text in args.variant)]
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = args.keep or Path(scratch_name)
        data = args.data or _dev_slice(scratch / "data")
        model = _tiny_model(scratch / "model", data, args) if args.tiny else args.base_model
        if args.tiny:
            print(f"random Llama: {_parameters(model) / 1e6:.1f}M parameters, {args.layers} layers, hidden {args.hidden_size}, "
                  f"vocabulary {args.vocab_size}")  # fmt: skip
        figures = []
        for preset in args.presets.split(","):
            for name, extra in runs:
                figures.append(_finetune(preset, name, extra, model, data, scratch / f"{preset}-{name}", args))
                print(_line(figures[-1]), flush=True)
                if args.json is not None:
                    args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(f"profile {args.profile}, {args.max_steps} optimizer steps, model {model.name}")
    for first in range(0, len(figures), len(runs)):
        release, *others = figures[first : first + len(runs)]
        for other in others:
            ratios = [
                f"{label} {other[key] / release[key]:.2f}x"
                for label, key in (("whole run", "trainable_tokens_per_s"), ("after warm-up", "steady_trainable_tokens_per_s"))
                if release.get(key) and other.get(key)
            ]
            if ratios:
                print(f"{release['preset']:9s} {other['speed']} / release trainable tokens/s: {', '.join(ratios)}")


def _variant(text: str) -> tuple[str, dict]:
    name, _, keys = text.partition("=")
    try:
        extra = json.loads(keys)
    except ValueError:
        extra = None
    if not name or name in ("release", "fast") or not isinstance(extra, dict):
        raise SystemExit(f"--variant {text!r}: expected NAME={{JSON object of settings}}, NAME not release or fast")
    return name, extra


if __name__ == "__main__":
    main()
