"""Outputs that cannot be written where the user pointed them are a plain error, and nothing is left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_json, write_text
from tests.bench.conftest import spec_tod_command


def test_a_folder_or_a_file_in_the_way_is_a_plain_error(tmp_path: Path) -> None:
    (tmp_path / "scores.json").mkdir()
    with pytest.raises(SpecTodError, match="scores.json: cannot write this output here, a folder of that name exists"):
        write_json(tmp_path / "scores.json", {"bleu": 1.0})
    (tmp_path / "notes").write_text("keep me\n")
    with pytest.raises(SpecTodError, match=r"x.json: cannot write this output \(.*notes is a file, not a folder\)"):
        write_text(tmp_path / "notes" / "sub" / "x.json", "{}")
    assert (tmp_path / "notes").read_text() == "keep me\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes", "scores.json"]


def test_score_json_into_a_folder_exits_1_naming_it(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "out").mkdir()
    result = subprocess.run(
        [*spec_tod_command(), "score", str(data_dir / "mwz_predictions" / "sfn.json"), "--dataset", "multiwoz21",
         "--data-dir", str(data_dir), "--json", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"--json {tmp_path / 'out'}: is a folder; pass a file path" in " ".join(result.stderr.split())
    assert "Inform" not in result.stdout  # refused before the scoring, not after it
    assert list((tmp_path / "out").iterdir()) == []
