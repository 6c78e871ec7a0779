"""Byte-compile the Python sources a benchmark runs, before it times them.

An installed spec-tod has its bytecode: pip and uv compile a wheel's modules on install
(``sh/setup.sh`` passes ``--compile-bytecode``), and an editable checkout writes it on its first
import. Where ``PYTHONDONTWRITEBYTECODE`` is set nothing writes it, and every process a benchmark
times would compile again each module it imports: 0.08-0.13 s of every ``spec-tod bench``
(docs/speed.md, "Bytecode"), a cost no user pays. Every source compared (spec-tod, a baseline
checkout, the reference evaluator) is compiled alike, so that none of them is timed compiling.
"""

from __future__ import annotations

import compileall
from pathlib import Path


def compile_sources(*folders: Path) -> None:
    """Write the bytecode of every module under ``folders`` that lacks it (or whose source changed)."""
    for folder in folders:
        if not compileall.compile_dir(str(folder), quiet=1):
            raise SystemExit(f"{folder}: some modules do not compile")
