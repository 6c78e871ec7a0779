"""``spec-tod build-data`` end to end, in process: summary, reruns, bad input and --skip-invalid."""

from __future__ import annotations

import datetime
import json
import shutil
import sys
from pathlib import Path

import pytest

from spec_tod.cli import main


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``spec-tod build-data ARGS`` as the console script does; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["spec-tod", "build-data", *args])
    monkeypatch.setenv("COLUMNS", "400")  # keep rich from wrapping messages and tables
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def mwz22_copy(data_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the MultiWOZ 2.2 excerpt (60 KB) to damage."""
    return Path(shutil.copytree(data_dir / "multiwoz22", tmp_path / "multiwoz22"))


def json_date_epoch(manifest: Path) -> str:
    """``$SOURCE_DATE_EPOCH`` for the date in ``manifest``'s provenance."""
    date = json.loads(manifest.read_text())["provenance"]["date"]
    return str(int(datetime.datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()))


def _args(data_dir: Path, out: Path, *extra: str, dataset: str = "multiwoz21", split: str = "test") -> list[str]:
    return ["--dataset", dataset, "--data-dir", str(data_dir), "--split", split, "--task", "dst", "--out", str(out), *extra]


def test_build_prints_a_summary_and_reruns_identically(monkeypatch, capsys, data_dir, tmp_path):
    args = _args(data_dir, tmp_path, "--fraction", "0.1", "--seed", "5", "--format", "messages")
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "records written" in out and "100" in out
    data = tmp_path / "multiwoz21-test-dst.messages.jsonl"
    manifest = tmp_path / "multiwoz21-test-dst.manifest.json"
    first = (data.read_bytes(), manifest.read_bytes())
    assert json.loads(manifest.read_text())["command"][:4] == ["spec-tod", "build-data", "--dataset", "multiwoz21"]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", json_date_epoch(manifest))  # the rerun writes the same date
    assert run_cli(monkeypatch, capsys, *args)[0] == 0
    assert (data.read_bytes(), manifest.read_bytes()) == first


def test_parent_data_folder_and_corpus_folder_both_work(monkeypatch, capsys, data_dir, tmp_path):
    corpus = {"dataset": "multiwoz22", "split": "train"}
    assert run_cli(monkeypatch, capsys, *_args(data_dir, tmp_path / "a", **corpus))[0] == 0
    assert run_cli(monkeypatch, capsys, *_args(data_dir / "multiwoz22", tmp_path / "b", **corpus))[0] == 0
    name = "multiwoz22-train-dst.jsonl"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_missing_folder_is_one_error_and_writes_nothing(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, *_args(tmp_path / "nowhere", tmp_path / "out"))
    assert code == 1
    assert "error:" in err and str(tmp_path / "nowhere") in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_malformed_json_names_the_file(monkeypatch, capsys, mwz22_copy, data_dir, tmp_path):
    broken = mwz22_copy / "train" / "dialogues_002.json"
    broken.write_text(broken.read_text()[:200])
    args = _args(mwz22_copy, tmp_path / "out", "--db-dir", str(data_dir / "multiwoz_db"), dataset="multiwoz22", split="train")
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and str(broken) in err and "malformed JSON" in err
    assert not (tmp_path / "out").exists()


def test_invalid_dialogue_names_file_and_id_then_skip_invalid_counts_it(monkeypatch, capsys, mwz22_copy, data_dir, tmp_path):
    damaged = mwz22_copy / "train" / "dialogues_003.json"
    dialogues = json.loads(damaged.read_text())
    dialogue_id = dialogues[0]["dialogue_id"].removesuffix(".json")
    del dialogues[0]["turns"]
    damaged.write_text(json.dumps(dialogues))
    out = tmp_path / "out"
    out.mkdir()
    (out / "multiwoz22-train-dst.jsonl").write_text("earlier build\n")
    args = _args(mwz22_copy, out, "--db-dir", str(data_dir / "multiwoz_db"), dataset="multiwoz22", split="train")

    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and str(damaged) in err and dialogue_id in err
    assert (out / "multiwoz22-train-dst.jsonl").read_text() == "earlier build\n"
    assert sorted(path.name for path in out.iterdir()) == ["multiwoz22-train-dst.jsonl"]

    code, stdout, err = run_cli(monkeypatch, capsys, *args, "--skip-invalid")
    assert code == 0, err
    manifest = json.loads((out / "multiwoz22-train-dst.manifest.json").read_text())
    assert manifest["counts"]["dialogues_skipped"] == 1 and manifest["counts"]["records_written"] == 16
    assert manifest["skipped"][0][0] == dialogue_id
    assert len((out / "multiwoz22-train-dst.jsonl").read_text().splitlines()) == 16


def test_out_of_range_fraction_is_a_usage_error(monkeypatch, capsys, data_dir, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, *_args(data_dir, tmp_path, "--fraction", "1.5"))
    assert code == 2 and "--fraction" in err


def test_label_and_provenance_in_the_manifest_then_pushed_to_the_hub(monkeypatch, capsys, data_dir, tmp_path):
    from huggingface_hub import constants

    from tests.fixtures.hub_server import HubStandIn

    with HubStandIn(token="hf_build") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", "hf_build")
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        extra = ("--fraction", "0.05", "--label", "mwz-dst-5pct", "--push-to-hub", "me/spec-tod-mwz", "--hf-dataset")
        code, out, err = run_cli(monkeypatch, capsys, *_args(data_dir, tmp_path, *extra))
    assert code == 0, err
    manifest = json.loads((tmp_path / "multiwoz21-test-dst.manifest.json").read_text())
    provenance = manifest["provenance"]
    assert (provenance["label"], provenance["model"]) == ("mwz-dst-5pct", None)
    assert provenance["date"] == "2023-11-14T22:13:20Z"  # $SOURCE_DATE_EPOCH
    assert provenance["command"].startswith("spec-tod build-data --dataset multiwoz21")
    assert "pushed to " + hub.url in out
    pushed = hub.repos["me/spec-tod-mwz"]
    assert pushed["multiwoz21-test-dst.jsonl"] == (tmp_path / "multiwoz21-test-dst.jsonl").read_bytes()
    assert pushed["multiwoz21-test-dst.manifest.json"] == (tmp_path / "multiwoz21-test-dst.manifest.json").read_bytes()
    assert any(path.startswith("multiwoz21-test-dst.hf/") for path in pushed)


def test_several_splits_and_tasks_in_one_command_write_what_separate_commands_write(
    monkeypatch, capsys, data_dir, tmp_path
):
    together, apart = tmp_path / "together", tmp_path / "apart"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the manifests' provenance date
    common = ["--dataset", "multiwoz21", "--data-dir", str(data_dir), "--fraction", "0.05"]
    both = ["--split", "dev,test", "--task", "dst", "--task", "e2e", "--out", str(together)]
    code, out, err = run_cli(monkeypatch, capsys, *common, *both)
    assert code == 0, err
    assert out.count("records written") == 4
    for split in ("dev", "test"):
        for task in ("dst", "e2e"):
            assert run_cli(monkeypatch, capsys, *common, "--split", split, "--task", task, "--out", str(apart))[0] == 0
    names = sorted(path.name for path in together.iterdir())
    assert names == sorted(path.name for path in apart.iterdir()) and len(names) == 8
    for name in names:  # manifests included: each records its own one-split, one-task command
        assert (together / name).read_text().replace(str(together), str(apart)) == (apart / name).read_text(), name


def test_an_unknown_split_in_a_list_is_a_usage_error_before_anything_is_read(monkeypatch, capsys, data_dir, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, *_args(data_dir, tmp_path / "out", split="dev,tset"))
    assert code == 2 and "tset" in err and "--split" in err
    assert not (tmp_path / "out").exists()


def test_a_build_that_would_write_no_records_is_an_error(monkeypatch, capsys, data_dir, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, *_args(data_dir, tmp_path, "--fraction", "0.1", "--max-tokens", "10"))
    assert code == 1 and "no records to write" in err and "longer than --max-tokens 10" in err
    assert list(tmp_path.iterdir()) == []


def test_a_schema_that_matches_no_service_is_an_error(monkeypatch, capsys, data_dir, tmp_path):
    sgd_schema = next((data_dir / "sgd").glob("*/schema.json"))
    code, _, err = run_cli(monkeypatch, capsys, *_args(data_dir, tmp_path / "out", "--schema", str(sgd_schema)))
    assert code == 1 and "the schema describes none of the dialogues' services" in " ".join(err.split())
    assert not (tmp_path / "out").exists()


def test_a_full_disk_leaves_neither_records_nor_manifest(monkeypatch, capsys, data_dir, tmp_path):
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        code, _, err = run_cli(monkeypatch, capsys, *_args(data_dir, disk, "--fraction", "0.2"))
        left = sorted(path.name for path in disk.iterdir())
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    assert left == []


@pytest.mark.parametrize("broken_split", ["dev", "test"])
def test_bad_input_in_any_split_leaves_no_output_of_any_build(monkeypatch, capsys, mwz22_copy, data_dir, tmp_path, broken_split):
    # dev is read here, test in a forked child on a second core: either failing stops every build
    broken = sorted((mwz22_copy / broken_split).glob("dialogues_*.json"))[0]
    broken.write_text(broken.read_text()[:200])
    args = ["--dataset", "multiwoz22", "--data-dir", str(mwz22_copy), "--db-dir", str(data_dir / "multiwoz_db"),
            "--split", "dev,test", "--task", "dst,e2e", "--out", str(tmp_path / "out")]  # fmt: skip
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and str(broken) in " ".join(err.split()) and "malformed JSON" in err
    assert not (tmp_path / "out").exists()
