"""The provenance object every JSON output carries."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from spec_tod import __version__
from spec_tod.provenance import command_line, git_revision, model_dir_hash, provenance
from spec_tod.settings import REPO_ROOT


def test_model_dir_hash_covers_the_identity_files_only(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"hidden_size": 64}')
    (tmp_path / "tokenizer_config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    digest, files = model_dir_hash(tmp_path)
    assert files == ["config.json", "tokenizer_config.json"]
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    assert model_dir_hash(tmp_path) == (digest, files)
    (tmp_path / "config.json").write_text('{"hidden_size": 128}')
    assert model_dir_hash(tmp_path)[0] != digest
    assert model_dir_hash(tmp_path / "nothing") is None


def test_secret_option_values_are_masked() -> None:
    line = command_line(["/venv/bin/spec-tod", "bench", "--api-key", "sk-1", "--hf-token=hf_2", "--label", "x"])
    assert line == "spec-tod bench --api-key REDACTED --hf-token=REDACTED --label x"


def test_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    (tmp_path / "config.json").write_text("{}")
    record = provenance(label="run-1", model_id="llama", model_dir=tmp_path, argv=["spec-tod", "score"])
    git = ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]
    head = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    assert record == {
        "label": "run-1",
        "tool": "spec-tod",
        "version": __version__,
        "git_revision": head,
        "date": "1970-01-01T00:00:00Z",
        "command": "spec-tod score",
        "model": {
            "id": "llama", "dir": str(tmp_path), "dir_sha256": model_dir_hash(tmp_path)[0], "dir_files": ["config.json"]
        },
    }
    assert git_revision(tmp_path) is None  # not a checkout (an installed wheel)
