"""One text at training and inference: a stand-in model that knows only the training records.

The oracle answers each prompt exactly as the build-data record with that prompt continues (rendered with
the same chat template bench uses) and refuses any other prompt with 400. Through ``spec-tod bench --mode du``
every prompt must be known and the scores must be what the gold labels allow: perfect slots, and for the
intent the share that retrieval makes reachable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.bench.render import PromptRenderer
from spec_tod.chat.template import load_chat_template
from spec_tod.du.build import DuBuildOptions, build_du_data
from spec_tod.du.exemplars import ExemplarSet
from spec_tod.du.index import ExemplarIndex, Retriever
from spec_tod.du.instances import views
from spec_tod.errors import SpecTodError
from tests.du.answer_server import AnswerServer

RENDER = PromptRenderer(load_chat_template("llama3"))  # what bench --template llama3 renders with


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, dev_index: ExemplarIndex, data_dir: Path
) -> tuple[Path, dict[str, str]]:
    """The dev index on disk, every du task's records, and the oracle's prompt -> answer table."""
    root = tmp_path_factory.mktemp("du")
    dev_index.save(root / "index")
    oracle: dict[str, str] = {}
    for task in ("du-knn", "du-rag", "du-binary", "du-slots-one", "du-slots-all"):
        summary = build_du_data(DuBuildOptions("sgd", data_dir, "dev", task, root / "index", root / "data"))  # type: ignore[arg-type]
        for line in summary.data_file.read_text().splitlines():
            (user, assistant) = json.loads(line)["conversations"]
            assert (user["from"], user["weight"], assistant["from"], assistant["weight"]) == ("user", 0, "assistant", 1)
            prompt = RENDER(([("user", user["value"])], "assistant"), 48)
            assert oracle.setdefault(prompt, assistant["value"]) == assistant["value"]  # one answer per prompt
    return root, oracle


def _bench(cli, root: Path, url: str, data_dir: Path, intent: str, slots: str) -> dict:
    run_dir = root / f"bench-{intent}-{slots}"
    done = cli(
        "bench",
        "--mode",
        "du",
        "--endpoint",
        url,
        "--template",
        "llama3",
        "--dataset",
        "sgd",
        "--data-dir",
        str(data_dir),
        "--split",
        "dev",
        "--index",
        str(root / "index"),
        "--du-intent",
        intent,
        "--du-slots",
        slots,
        "--run-dir",
        str(run_dir),
    )
    assert done.code == 0, done.err
    assert "intent acc." in done.out
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 327
    return json.loads((run_dir / "scores.json").read_text())["scores"]


def _reachable(sgd_dev: ExemplarSet, retriever: Retriever, intent: str) -> int:
    """Positive items the gold answers lead to the owner (the negative views are always right)."""
    count = 0
    for item in sgd_dev.exemplars:
        view, _ = views(item, retriever)
        listed = item.owner in {s.name for s in view.retrieval.skills}
        votes = sum(h.exemplar.owner == item.owner for h in view.retrieval.exemplars) + listed
        count += votes > 1 if intent == "knn" else listed
    return count


@pytest.mark.parametrize(("intent", "slots"), [("rag", "one"), ("knn", "all"), ("binary", "none")])
def test_oracle_of_the_training_records_scores_what_the_labels_allow(
    cli, built, data_dir: Path, sgd_dev: ExemplarSet, retriever: Retriever, intent: str, slots: str
) -> None:
    root, oracle = built
    with AnswerServer(answer=oracle.get) as server:
        scores = _bench(cli, root, server.url, data_dir, intent, slots)
    assert server.refused == []
    reachable = _reachable(sgd_dev, retriever, intent)
    assert reachable == {"rag": 319, "knn": 316, "binary": 319}[intent]
    assert scores["intent"]["accuracy"] == pytest.approx((reachable + 327) / 654)
    assert scores["intent"]["none"]["recall"] == 1.0 and scores["intent"]["unreadable_answers"] == 0
    if slots == "none":
        assert scores["slots"] is None
    else:
        assert scores["slots"]["f1"] == 1.0 and scores["slots"]["gold_values"] == 105
    assert scores["unseen"] is None and scores["seen"]["intent"]["rows"] == 654


def test_an_unknown_prompt_is_refused_and_the_run_fails(cli, built, data_dir: Path, tmp_path: Path) -> None:
    root, oracle = built
    with AnswerServer(answer=lambda prompt: None if "lers ros thai" in prompt else oracle.get(prompt)) as server:
        done = cli(
            "bench",
            "--mode",
            "du",
            "--endpoint",
            server.url,
            "--template",
            "llama3",
            "--dataset",
            "sgd",
            "--data-dir",
            str(data_dir),
            "--split",
            "dev",
            "--index",
            str(root / "index"),
            "--du-intent",
            "rag",
            "--du-slots",
            "none",
            "--limit-dialogues",
            "5",
            "--max-retries",
            "0",
            "--run-dir",
            str(tmp_path / "b"),
        )
    assert done.code == 1 and "2 request(s) failed" in done.err and "Traceback" not in done.err
    assert len(server.refused) == 2
    run_dir = tmp_path / "b"
    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")) == [
        "predictions.incomplete.jsonl",
        "report.md",
    ]
    assert len((run_dir / "predictions.incomplete.jsonl").read_text().splitlines()) == 2 * 5
    assert "incomplete" in (run_dir / "report.md").read_text()


def test_a_manifest_that_cannot_be_written_leaves_no_records(
    built, data_dir: Path, tmp_path: Path, json_writes_fill_the_disk: None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SpecTodError, match=str(out)):
        build_du_data(DuBuildOptions("sgd", data_dir, "dev", "du-knn", built[0] / "index", out))
    assert sorted(out.iterdir()) == []
