"""The wheel as a user gets it: built, installed into a fresh venv with the lock's versions of the declared
dependencies only, and run from a folder outside the repository (build-data, score, bench).

A resource left out of the wheel, a dependency imported but not declared, or a path found through the
repository would make one of these commands fail. The build and install take about a minute with uv's
cache warm (sh/setup.sh fills it); the commands another minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bench.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parents[1]
STEP_TIMEOUT_S = 600


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv holding the wheel built from this checkout."""
    root = tmp_path_factory.mktemp("wheel")
    uv = [shutil.which("uv") or "uv"]  # sh/setup.sh installs it beside python3
    # sdist first, then the wheel from it: what PyPI users get. Built from a copy of the files git sees, since
    # setuptools adds whatever a stale spec_tod.egg-info/SOURCES.txt of the checkout lists (a resource dropped
    # from package-data would still ship).
    source = root / "source"
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    _run([*uv, "build", "--out-dir", str(root / "dist"), str(source)], cwd=root)
    (wheel,) = (root / "dist").glob("spec_tod-*.whl")
    started = time.monotonic()
    _run([*uv, "venv", "-q", str(root / "venv"), "--python", sys.executable], cwd=root)
    # The lock constrains versions only: what gets installed is what the wheel declares.
    _run([*uv, "pip", "install", "-q", "--python", str(root / "venv" / "bin" / "python"),
          "-c", str(REPO / "requirements-lock.txt"), str(wheel)], cwd=root)  # fmt: skip
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1024:.0f} KiB; "
          f"fresh venv + install {time.monotonic() - started:.1f} s")  # fmt: skip
    return root / "venv" / "bin"


@pytest.fixture()
def outside(tmp_path: Path, installed: Path, data_dir: Path) -> tuple[Path, dict[str, str]]:
    """A working folder outside the repository and an environment that sees only the installed tool."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{installed}{os.pathsep}{env.get('PATH', '')}"
    env.update({"SPEC_TOD_DATA_DIR": str(data_dir), "SPEC_TOD_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    return tmp_path, env


@pytest.mark.slow
def test_the_installed_package_is_not_the_checkout(installed: Path, outside: tuple[Path, dict[str, str]]) -> None:
    cwd, env = outside
    where = _run([str(installed / "python"), "-c", "import spec_tod; print(spec_tod.__file__)"], cwd, env).stdout
    assert Path(where.strip()).is_relative_to(installed.parent) and not Path(where.strip()).is_relative_to(REPO)
    version = _run([str(installed / "spec-tod"), "--version"], cwd, env).stdout
    assert version.strip() == "spec-tod 0.1.0"


# Modules that import an extra at module level (they run inside the training environment only).
NEEDS_AN_EXTRA = {"spec_tod.bench.training_eval_plugin": "train"}


@pytest.mark.slow
def test_every_module_imports_with_the_declared_dependencies(installed: Path, outside: tuple[Path, dict[str, str]]) -> None:
    # A third-party import at module level that pyproject.toml does not declare fails here, in whichever
    # module it is, not only in the modules the commands below happen to load.
    cwd, env = outside
    script = (
        "import importlib, pkgutil, sys, spec_tod\n"
        f"skip = {sorted(NEEDS_AN_EXTRA)!r}\n"
        "names = [m.name for m in pkgutil.walk_packages(spec_tod.__path__, 'spec_tod.') if m.name not in skip]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    count = int(_run([str(installed / "python"), "-c", script], cwd, env).stdout)
    assert count > 100


@pytest.mark.slow
def test_synth_walks_a_shipped_example_graph(installed: Path, outside: tuple[Path, dict[str, str]]) -> None:
    cwd, env = outside
    _run([str(installed / "spec-tod"), "synth", "walk", "recipe", "--count", "5", "--out", "walks.jsonl"], cwd, env)
    assert len((cwd / "walks.jsonl").read_text().splitlines()) == 5


@pytest.mark.slow
def test_installed_default_data_folder_is_the_user_cache(installed: Path, outside: tuple[Path, dict[str, str]]) -> None:
    cwd, env = outside
    del env["SPEC_TOD_DATA_DIR"]
    done = subprocess.run([str(installed / "spec-tod"), "build-data", "--dataset", "multiwoz21", "--split", "dev",
                           "--task", "dst", "--out", "out"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert str(cwd / "home" / "data") in " ".join(done.stderr.split()).replace("\n", "")


@pytest.mark.slow
def test_build_data_uses_the_shipped_templates(installed: Path, outside: tuple[Path, dict[str, str]]) -> None:
    cwd, env = outside
    for task in ("dst", "e2e"):
        _run([str(installed / "spec-tod"), "build-data", "--dataset", "multiwoz21", "--split", "dev", "--task", task,
              "--fraction", "0.02", "--seed", "1", "--out", "out"], cwd, env)  # fmt: skip
        records = (cwd / "out" / f"multiwoz21-dev-{task}.jsonl").read_text().splitlines()
        assert len(records) == 20
        first = json.loads(records[0])
        assert first["conversations"][0]["from"] == "system" and "<function_call>" in records[0]


@pytest.mark.slow
def test_score_reproduces_the_published_augpt_figures(installed: Path, outside: tuple[Path, dict[str, str]],
                                                      data_dir: Path) -> None:  # fmt: skip
    cwd, env = outside
    _run([str(installed / "spec-tod"), "score", str(data_dir / "mwz_predictions" / "augpt.json"),
          "--dataset", "multiwoz21", "--json", "scores.json"], cwd, env)  # fmt: skip
    scores = json.loads((cwd / "scores.json").read_text())
    assert (scores["inform"], scores["success"], round(scores["bleu"], 2)) == (76.6, 60.5, 16.38)


@pytest.mark.slow
def test_bench_against_a_stand_in_server(installed: Path, outside: tuple[Path, dict[str, str]]) -> None:
    cwd, env = outside
    with ScriptedServer(delay_s=0.001) as server:
        _run([str(installed / "spec-tod"), "bench", "--endpoint", server.url, "--template", "llama3",
              "--dataset", "multiwoz21", "--split", "test", "--mode", "e2e", "--limit-dialogues", "2",
              "--concurrency", "4", "--run-dir", "run"], cwd, env)  # fmt: skip
    for name in ("predictions.json", "scores.json", "report.md", "plots/latency.svg"):
        assert (cwd / "run" / name).stat().st_size > 0, name
    assert shutil.which("spec-tod", path=env["PATH"]) == str(installed / "spec-tod")
