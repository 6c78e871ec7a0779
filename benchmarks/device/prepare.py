"""Prepare `.device/` for benchmarks/train_throughput.py on a lent GPU: the training stack as wheels, and the data.

A lent GPU machine (docs/speed.md, "Training speed") has CUDA torch, transformers, accelerate and peft
but not axolotl, and installs nothing from a registry. This script, run here where PyPI answers,
puts into `.device/` (ignored by git; the device tool carries it):

* `wheels/`: the lock's versions (requirements-lock.txt) of axolotl and what it imports beyond the
  image, for CPython 3.12 on x86-64 Linux; the two sdist-only ones built here (pure Python). The wheels
  of wandb and bitsandbytes are trimmed to fit the tool's 64 MiB: wandb without its binaries (imported by
  axolotl's callbacks, never started with `WANDB_MODE=disabled`), bitsandbytes with its CPU and CUDA 13
  libraries only (the machine's torch is built for CUDA 13);
* `data/`: `spec-tod build-data --dataset multiwoz21 --split dev --task dst,e2e --fraction 0.2 --seed 1`,
  the data of the H200 runs in docs/speed.md.

Then, on the device: `bash benchmarks/device/train_run.sh` with `.device` carried.

    python benchmarks/device/prepare.py [--data-dir DIR] [--out .device]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STACK = (
    "axolotl", "axolotl-contribs-lgpl", "axolotl-contribs-mit", "transformers", "peft", "accelerate", "trl",
    "datasets", "liger-kernel", "bitsandbytes", "wandb", "opentelemetry-api", "opentelemetry-sdk",
    "opentelemetry-proto", "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-otlp-proto-common",
    "opentelemetry-exporter-otlp-common", "opentelemetry-exporter-http-transport", "opentelemetry-semantic-conventions",
    "cwevals", "platformdirs", "protobuf", "multiprocess", "dill", "python-dotenv", "fire", "termcolor", "addict",
    "posthog", "backoff", "distro", "fastcore", "evaluate", "pydantic", "pydantic-core", "annotated-types",
    "typing-inspection", "typer", "fuzzywuzzy", "python-levenshtein", "levenshtein", "rapidfuzz", "pytz", "tzdata",
)
"""Found by training on the CPU in a virtual environment holding only the image's packages and these."""

_TARGET = [
    "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312", "--abi", "abi3", "--abi", "none",
    *[option for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
                         "manylinux_2_17_x86_64", "manylinux2014_x86_64", "any") for option in ("--platform", tag)],
]

_KEEP: dict[str, Callable[[str], bool]] = {
    "wandb": lambda member: not member.startswith("wandb/bin/"),
    "bitsandbytes": lambda member: not member.endswith(".so")
    or member.rsplit("/", 1)[-1] in {"libbitsandbytes_cpu.so", "libbitsandbytes_cuda130.so", "libbitsandbytes_cuda132.so"},
}


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of a pip-compile lock."""
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[_key(match[1])] = match[2]
    return pins


def _pip() -> list[str]:
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    found = shutil.which("pip3") or shutil.which("pip")
    if found is None:
        sys.exit("prepare: no pip here (python -m pip, pip3 or pip) to download the wheels with")
    return [found]


def fetch_wheels(requirements: list[str], folder: Path) -> None:
    """Each requirement's wheel for the device, or a wheel built here from its sdist when it has none."""
    pip = _pip()
    for requirement in requirements:
        got = subprocess.run([*pip, "download", "-q", "--no-deps", "--only-binary=:all:", *_TARGET, "-d", str(folder),
                              requirement], capture_output=True, text=True)
        if got.returncode == 0:
            continue
        with tempfile.TemporaryDirectory() as built:
            subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-binary=:all:", "-w", built, requirement], check=True)
            [wheel] = Path(built).glob("*.whl")
            if not wheel.name.endswith("-py3-none-any.whl"):
                sys.exit(f"prepare: {requirement} has no wheel for the device and builds only for this machine ({wheel.name})")
            shutil.move(str(wheel), folder / wheel.name)


def trim(wheel: Path, keep: Callable[[str], bool]) -> int:
    """Rewrite ``wheel`` without the members ``keep`` rejects (and their RECORD lines); bytes saved."""
    before = wheel.stat().st_size
    trimmed = wheel.with_suffix(".trimmed")
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if not keep(info.filename):
                continue
            data = source.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if keep(line.split(",", 1)[0])).encode()
            target.writestr(info, data)
    trimmed.replace(wheel)
    return before - wheel.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".device")
    parser.add_argument("--data-dir", type=Path, default=None, help="the shared data folder (default: spec-tod's)")
    args = parser.parse_args()
    pins = locked_versions(ROOT / "requirements-lock.txt")
    missing = [name for name in STACK if _key(name) not in pins]
    if missing:
        sys.exit(f"prepare: requirements-lock.txt pins no version of {', '.join(missing)}")
    wheels, data = args.out / "wheels", args.out / "data"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    fetch_wheels([f"{name}=={pins[_key(name)]}" for name in STACK], wheels)
    for wheel in sorted(wheels.glob("*.whl")):
        keep = _KEEP.get(_key(wheel.name.split("-", 1)[0]))
        if keep is not None:
            print(f"{wheel.name}: {trim(wheel, keep) / 2**20:.1f} MiB left out")
    shutil.rmtree(data, ignore_errors=True)
    spec_tod = shutil.which("spec-tod") or str(Path(sys.executable).parent / "spec-tod")
    command = [spec_tod, "build-data", "--dataset", "multiwoz21", "--split", "dev", "--task", "dst,e2e",
               "--fraction", "0.2", "--seed", "1", "--out", str(data)]
    if args.data_dir is not None:
        command += ["--data-dir", str(args.data_dir)]
    subprocess.run(command, check=True, cwd=ROOT)
    size = sum(path.stat().st_size for path in args.out.rglob("*") if path.is_file())
    count = len(list(wheels.glob("*.whl")))
    print(f"{args.out}: {count} wheels and the data, {size / 2**20:.1f} MiB (the device tool carries 64 MiB)")


if __name__ == "__main__":
    main()
