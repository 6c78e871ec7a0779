"""``spec-tod score`` end to end, through the console entry point (exit status and one-line errors)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from spec_tod.cli import main
from tests.score.test_published import EXACT


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["spec-tod", "score", *args])
    try:
        main()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("augpt", [], (76.6, 60.5, 608, 5843, "given")),
        ("mintl", ["--subset"], (73.7, 65.4, 297, 2525, "estimated")),
        ("sfn", [], (93.4, 82.3, 188, 1218, "given")),
    ],
)
def test_published_files(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path,
    name: str, extra: list[str], expected: tuple,
) -> None:
    out = tmp_path / "scores.json"
    details = tmp_path / "details.json"
    code = run(
        monkeypatch, str(data_dir / "mwz_predictions" / f"{name}.json"), "--dataset", "multiwoz21",
        "--data-dir", str(data_dir), "--json", str(out), "--details", str(details), "--show-failures", "2", *extra,
        "--label", name,
    )
    assert code == 0
    scores = json.loads(out.read_text())
    assert scores["provenance"]["label"] == name and scores["provenance"]["tool"] == "spec-tod"
    command = scores["provenance"]["command"]
    assert command.startswith("spec-tod score ") and f"--label {name}" in command
    assert json.loads(details.read_text())["provenance"] == scores["provenance"]
    assert set(scores) >= {"bleu", "inform", "success", "combined", "inform_by_domain", "success_by_domain", "richness", "dst"}
    assert set(scores["richness"]) == {"avg_length", "entropy", "cond_entropy", "msttr", "num_unigrams", "num_bigrams", "num_trigrams"}
    inform, success, words, trigrams, domains = expected
    assert (scores["inform"], scores["success"]) == (inform, success)
    assert (scores["richness"]["num_unigrams"], scores["richness"]["num_trigrams"]) == (words, trigrams)
    if not extra:  # the whole test set: the evaluator's figures, here computed in the normaliser's worker
        richness = [scores["richness"][key] for key in ("entropy", "cond_entropy", "avg_length", "msttr")]
        assert richness == pytest.approx(EXACT[name]["richness"][:4], abs=1e-9)
    assert scores["inputs"]["active_domains"] == domains
    assert (scores["dst"] is None) == (name == "sfn")
    printed = capsys.readouterr().out
    assert f"{inform:.1f}" in printed and "Failing dialogues: 2 of" in printed
    assert ("999/1000 dialogues" in printed) == (name == "mintl")
    assert len(json.loads(details.read_text())["dialogues"]) == (999 if name == "mintl" else 1000)


def test_errors_are_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert run(monkeypatch, str(broken), "--dataset", "multiwoz21", "--data-dir", str(data_dir)) == 1
    assert "cannot read the predictions as JSON" in capsys.readouterr().err

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"sng0073": [{"response": ["a list"]}]}), encoding="utf-8")
    assert run(monkeypatch, str(wrong), "--dataset", "multiwoz21", "--data-dir", str(data_dir)) == 1
    assert "dialogue sng0073 turn 0 response" in capsys.readouterr().err

    mintl = data_dir / "mwz_predictions" / "mintl.json"
    assert run(monkeypatch, str(mintl), "--dataset", "multiwoz21", "--data-dir", str(data_dir)) == 1
    error = capsys.readouterr().err
    assert "mul0789" in error and "--subset" in error and "Traceback" not in error


def test_a_terminal_gets_a_spinner_with_the_stages_and_the_same_scores(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    from rich.status import Status

    stages: list[str] = []
    update = Status.update
    monkeypatch.setattr(Status, "update", lambda self, status=None, **kw: (stages.append(str(status)), update(self, status, **kw)))
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich then takes the captured output for a terminal
    assert run(monkeypatch, str(data_dir / "mwz_predictions" / "sfn.json"), "--dataset", "multiwoz21", "--data-dir", str(data_dir)) == 0
    assert stages == [f"scoring: {stage}" for stage in ("check", "normalise", "normalise (rest)", "states", "dst",
                                                       "inform/success", "richness", "bleu (rest)")]  # fmt: skip
    assert "93.4" in capsys.readouterr().out
    monkeypatch.delenv("TTY_COMPATIBLE")
    stages.clear()
    assert run(monkeypatch, str(data_dir / "mwz_predictions" / "sfn.json"), "--dataset", "multiwoz21", "--data-dir", str(data_dir)) == 0
    assert stages == [] and "93.4" in capsys.readouterr().out  # captured output is no terminal: no spinner
