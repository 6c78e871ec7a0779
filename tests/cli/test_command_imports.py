"""What the bench, build-data and score commands import before their work starts: nothing they do not need.

The scorer, its result models, the plots' matplotlib and the tokenizer stack are imported where they
are used (the scorer in a bench run's prepared worker), and build-data's manifest needs no pydantic,
so that each command starts without their imports (docs/speed.md).
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


def _imported(modules: str, names: tuple[str, ...]) -> list[str]:
    code = (
        f"import json, sys; import spec_tod.entry, {modules}; "
        f"print(json.dumps([n for n in {list(names)!r} if n in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def test_the_bench_command_and_runner_import_no_scorer_plots_or_tokenizer() -> None:
    assert _imported("spec_tod.cli.bench, spec_tod.bench.runner", _NOT_BEFORE_USE) == []


def test_build_data_imports_neither_pydantic_nor_asyncio() -> None:
    names = ("pydantic", "asyncio", "yaml", "torch", "transformers", "tokenizers", "datasets")
    assert _imported("spec_tod.cli.build_data, spec_tod.tasks.build", names) == []


def test_score_imports_no_pydantic() -> None:
    """The interchange format is checked by hand and the results are dataclasses (docs/speed.md)."""
    modules = "spec_tod.cli.score, spec_tod.score, spec_tod.score.evaluate, spec_tod.score.predictions, spec_tod.score.report"
    assert _imported(modules, ("pydantic", "pydantic_core", "sacrebleu", "yaml")) == []
