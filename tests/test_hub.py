"""--push-to-hub through huggingface_hub against a local stand-in of the Hub API (HF_ENDPOINT on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import constants

from spec_tod.errors import SpecTodError
from spec_tod.hub import push_folder
from tests.fixtures.hub_server import HubStandIn

TOKEN = "hf_standin_token_0123"


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch):
    with HubStandIn(token=TOKEN) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield server


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    (folder / "a.hf").mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"id": 1}\n')
    (folder / "a.manifest.json").write_text(json.dumps({"counts": 1}))
    (folder / "a.hf" / "data.arrow").write_bytes(b"\x00\x01")
    (folder / "b.jsonl").write_text("other build\n")
    return folder


def test_push_creates_the_repo_and_commits_the_chosen_files(hub: HubStandIn, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    url = push_folder(folder, "me/spec-tod-data", message="build a", allow_patterns=["a.*"])
    assert url.startswith(f"{hub.url}/datasets/me/spec-tod-data/commit/")
    assert hub.repos["me/spec-tod-data"] == {
        "a.jsonl": b'{"id": 1}\n',
        "a.manifest.json": b'{"counts": 1}',
        "a.hf/data.arrow": b"\x00\x01",
    }
    assert hub.calls == [
        "POST /api/repos/create",
        "POST /api/datasets/me/spec-tod-data/preupload/main",
        "POST /api/datasets/me/spec-tod-data/commit/main",
    ]
    # a second push goes to the existing repo (create answers 409), under a folder
    push_folder(folder, "me/spec-tod-data", message="b", path_in_repo="runs/b", allow_patterns=["b.*"])
    assert hub.repos["me/spec-tod-data"]["runs/b/b.jsonl"] == b"other build\n"
    assert [commit["summary"] for commit in hub.commits] == ["build a", "b"]


def test_refusals_are_one_line(hub: HubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(SpecTodError, match=r"the Hub refused \(HTTP 401.*set HF_TOKEN to a token with write access"):
        push_folder(_folder(tmp_path), "me/x", message="m")
    with pytest.raises(SpecTodError, match="expected a repository id"):
        push_folder(tmp_path, "no-namespace", message="m")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SpecTodError, match="HF_HUB_OFFLINE is set"):
        push_folder(tmp_path, "me/x", message="m")
