"""What a bench command imports before its first request: nothing its loop does not need.

The scorer, its result models, the plots' matplotlib and the tokenizer stack are imported where they
are used (the scorer in its prepared worker, docs/speed.md), so that each bench command starts
without their 0.5-2 s of imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from spec_tod.settings import REPO_ROOT

_NOT_BEFORE_USE = (
    "matplotlib", "numpy", "torch", "transformers", "tokenizers", "datasets",
    "sacrebleu", "sacremoses", "spec_tod.score.evaluate", "spec_tod.score.result",
    "pygments",  # through httpx's own command line, which spec_tod.entry keeps out
    "yaml",  # the prompt tables come from the cache (spec_tod/tasks/templates.py)
)  # fmt: skip


def test_the_bench_command_and_runner_import_no_scorer_plots_or_tokenizer() -> None:
    code = (
        "import json, sys; import spec_tod.entry, spec_tod.cli.bench, spec_tod.bench.runner; "
        f"print(json.dumps([name for name in {list(_NOT_BEFORE_USE)!r} if name in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(done.stdout) == []
