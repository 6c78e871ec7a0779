"""``spec-tod quickstart`` end to end on the CPU, and where its data comes from.

The end-to-end test is the one slow test of this file (about 3 minutes on 2 cores): it runs the
command the README's ``sh/quickstart.sh`` ends in, then checks its outputs against the data.
The download tests never leave 127.0.0.1: the mirror is a local HTTP server over the shared data
folder laid out like raw.githubusercontent.com, or a closed port.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.quickstart.data import DATA_FILES, MIRROR_ENV, download, missing_files, resolve_data_dir
from spec_tod.settings import DATA_DIR_ENV


@pytest.fixture()
def mirror(tmp_path: Path, data_dir: Path) -> Iterator[str]:
    """A local server laid out like the public mirror, serving the shared data files."""
    root = tmp_path / "mirror"
    for item in DATA_FILES:
        target = root / item.source
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(data_dir / item.local)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_download_fetches_every_file_and_checks_its_digest(mirror: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(MIRROR_ENV, mirror)
    cache = tmp_path / "cache"
    folder, source = resolve_data_dir(None, cache, shared=tmp_path / "no-shared-data")
    assert (folder, source) == (cache, "downloaded")
    assert missing_files(cache) == []
    with zipfile.ZipFile(cache / "multiwoz21" / "test.json.zip") as archive:
        assert len(json.loads(archive.read("test.json"))) == 1000
    # Complete now: a second call uses the cache without any server.
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:9")
    assert resolve_data_dir(None, cache, shared=tmp_path / "no-shared-data") == (cache, "download cache")


def test_a_file_with_the_wrong_content_is_not_kept(mirror: str, tmp_path: Path) -> None:
    first = DATA_FILES[0]
    root = tmp_path / "mirror"  # the fixture's folder
    (root / first.source).unlink()
    (root / first.source).write_bytes(b"not the MultiWOZ test split")
    with pytest.raises(SpecTodError, match=r"test.json.zip does not have the expected content .*nothing was kept"):
        download(tmp_path / "cache", mirror)
    assert not (tmp_path / "cache" / first.local).exists()
    assert [p.name for p in (tmp_path / "cache" / "multiwoz21").iterdir()] == []  # no temp file left


def test_offline_download_is_a_plain_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{port}")
        expected = r"cannot download multiwoz21/test.json.zip from http://127.0.0.1:\d+/thu-coai/ConvLab-2/.*ConnectError"
        with pytest.raises(SpecTodError, match=expected + r".*pass --data-dir"):
            resolve_data_dir(None, tmp_path / "cache", shared=tmp_path / "nothing")


def test_a_named_data_folder_must_hold_the_files(tmp_path: Path) -> None:
    with pytest.raises(SpecTodError, match=r"--data-dir .* lacks multiwoz21/test.json.zip, .*multiwoz_db/train_db.json"):
        resolve_data_dir(tmp_path, tmp_path / "cache")


def test_a_folder_not_made_by_the_quickstart_is_never_emptied(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "spec-tod"), "quickstart", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "was not made by the quickstart" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.slow
def test_quickstart_runs_the_whole_pipeline(tmp_path: Path, data_dir: Path) -> None:
    work = tmp_path / "quickstart"
    env = {**os.environ, "SPEC_TOD_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "spec-tod"), "quickstart", "--workdir", str(work), "--data-dir",
         str(data_dir), "--dialogues", "3"],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # Each stage's command was shown before it ran, and the summary says where the report is.
    for command in ("spec-tod build-data", "spec-tod finetune", "spec-tod merge", "spec-tod serve",
                    "spec-tod bench run", "spec-tod serve stop spec-tod-quickstart", "spec-tod score"):
        assert f"$ {command}" in result.stdout, command
    report = work / "bench" / "report.md"
    assert f"report: {report}" in result.stdout
    assert report.is_file() and (work / "bench" / "report.json").is_file()

    # Every test turn of the first 3 test dialogues is accounted for, counted from the data itself.
    with zipfile.ZipFile(data_dir / "multiwoz21" / "test.json.zip") as archive:
        corpus = json.loads(archive.read("test.json"))
    ids = (data_dir / "multiwoz21" / "testListFile").read_text().split()[:3]
    expected_turns = {i.lower(): len(corpus[i]["log"]) // 2 for i in ids}
    predictions = json.loads((work / "bench" / "predictions.json").read_text())
    assert {k: len(v) for k, v in predictions.items()} == expected_turns
    turns = json.loads((work / "bench" / "report.json").read_text())["turns"]
    assert turns["turns"] == sum(expected_turns.values()) == turns["done"] + turns["failed"] + turns["skipped"]
    assert turns["missing"] == 0

    # The scores are numbers within their ranges.
    scores = json.loads((work / "scores.json").read_text())
    for metric in ("inform", "success", "combined", "bleu"):
        assert isinstance(scores[metric], float) and 0 <= scores[metric] <= 200, (metric, scores[metric])
    assert scores["coverage"]["turns"] == sum(expected_turns.values())

    # The fine-tune ran the asked steps, and the server it started is gone.
    assert (work / "run" / "checkpoint-8" / "trainer_state.json").is_file()
    assert (work / "run" / "merged" / "config.json").is_file()
    servers = tmp_path / "home" / "servers.json"
    assert not servers.exists() or json.loads(servers.read_text())["servers"] == []
