"""The local backend: axolotl runs in this Python environment, as a child process whose output is streamed.

The child is ``python -m axolotl.cli.main`` with this interpreter, so no ``axolotl`` on PATH is
needed; the interpreter's folder is put first on PATH because the accelerate launcher starts
``accelerate`` from there. Telemetry is off (axolotl's posthog client hangs after training when it
cannot reach the internet, seen with axolotl 0.19.0), and the hub is offline when the base model is a
local folder, so nothing waits on the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from spec_tod.train.axolotl_config import PathMap, host_paths, local_base_model
from spec_tod.train.settings import TrainSettings

_NO_TELEMETRY = {"AXOLOTL_DO_NOT_TRACK": "1", "DO_NOT_TRACK": "1"}


class LocalBackend:
    """Runs ``axolotl ARGS`` in the current environment."""

    name = "local"

    def where(self, settings: TrainSettings) -> PathMap:
        """Paths as axolotl sees them: the host paths."""
        return host_paths

    def run_axolotl(
        self, settings: TrainSettings, args: Sequence[str], gpus: Sequence[str] | None, sinks: Sequence[TextIO]
    ) -> int:
        """Run axolotl with ``args`` on ``gpus`` (None: whatever is visible), streaming its output; return its exit status."""
        env = child_environment(settings, gpus)
        command = [sys.executable, "-m", "axolotl.cli.main", *args]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, text=True,
            errors="replace", bufsize=1, cwd=settings.output_dir,
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                for sink in sinks:
                    sink.write(line)
                    sink.flush()
            return process.wait()
        except BaseException:
            _stop(process)
            raise


def child_environment(settings: TrainSettings, gpus: Sequence[str] | None) -> dict[str, str]:
    """The environment axolotl runs in: ours, plus no telemetry, the offline hub for local models, the chosen GPUs."""
    env = {**os.environ, **_NO_TELEMETRY}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    if local_base_model(settings) is not None:
        env["HF_HUB_OFFLINE"] = "1"
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    return env


def _stop(process: subprocess.Popen[str]) -> None:
    # Ctrl-C reaches the child too (same process group); give it a moment to save, then make sure it is gone.
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
