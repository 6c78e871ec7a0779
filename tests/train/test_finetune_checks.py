"""``spec-tod finetune`` refuses what would waste or spoil a training run before it starts (dry runs, no training)."""

from __future__ import annotations

import shutil
from pathlib import Path

from spec_tod.tasks.build import BuildOptions, build_data

BASE = "meta-llama/Meta-Llama-3-8B-Instruct"


def _test_split_data(folder: Path, data_dir: Path) -> Path:
    build_data(BuildOptions(dataset="multiwoz21", data_dir=data_dir / "multiwoz21", split="test", task="dst",
                            out=folder, fraction=0.01, seed=1))  # fmt: skip
    return folder / "multiwoz21-test-dst.jsonl"


def test_test_split_files_in_a_data_folder_need_an_explicit_flag(
    cli, dev_data: Path, data_dir: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(dev_data, tmp_path / "data"))
    test_file = _test_split_data(folder, data_dir)
    args = ["finetune", "--base-model", BASE, "--data", str(folder), "--output-dir", str(tmp_path / "run"),
            "--backend", "local", "--dry-run"]  # fmt: skip
    refused = cli(*args)
    assert refused.code == 1 and f"{test_file}: built from the test split" in refused.err
    assert "--allow-test-split" in refused.err
    allowed = cli(*args, "--allow-test-split")
    assert allowed.code == 0, allowed.err
    assert str(test_file) in allowed.out and str(folder / "multiwoz21-dev-dst.jsonl") in allowed.out


def test_an_output_dir_that_is_a_file_is_refused_before_anything_runs(cli, dev_data: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "run"
    blocker.write_text("not a folder")
    result = cli("finetune", "--base-model", BASE, "--data", str(dev_data), "--output-dir", str(blocker),
                 "--backend", "local", "--dry-run")  # fmt: skip
    assert result.code == 1 and "is a file, not a folder" in result.err and "Traceback" not in result.err
