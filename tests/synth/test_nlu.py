"""Intent and slot scores: exact figures on a hand-made case, and a perfect score for the gold itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.synth.convert import convert
from spec_tod.synth.nlu import judge_prompt, load_gold, load_predictions, read_relevance, score_nlu, slot_scores
from spec_tod.synth.simulate import read_dialogues
from spec_tod.tasks.prompts import NO_FUNCTION_CALL
from spec_tod.tasks.prompts import format_function_call as call


def _records(path: Path, dialogues: dict[str, list[str]]) -> Path:
    lines = []
    for key, functions in dialogues.items():
        messages = [{"from": "system", "value": "sys"}]
        for k, function in enumerate(functions):
            messages += [
                {"from": "user", "value": f"u{k}"},
                {"from": "function", "value": function},
                {"from": "observation", "value": "o"},
                {"from": "assistant", "value": f"a{k}"},
            ]
        lines.append(json.dumps({"id": key, "conversations": messages}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _predictions(path: Path, predictions: dict[str, list[str]]) -> Path:
    path.write_text("".join(json.dumps({"id": k, "functions": v}) + "\n" for k, v in predictions.items()))
    return path


def test_slot_overlap_is_per_gold_slot() -> None:
    assert slot_scores({"food": "cheap chinese", "area": "north"}, {"food": "chinese"}) == pytest.approx(
        ((1.0 + 0.0) / 2, (0.5 + 0.0) / 2, (2 / 3 + 0.0) / 2)
    )
    assert slot_scores({"selection": 2}, {"selection": 2, "extra": "x"}) == (1.0, 1.0, 1.0)


def test_hand_made_scores(tmp_path: Path) -> None:
    gold = load_gold(
        _records(
            tmp_path / "gold.jsonl",
            {
                "d1": [call("find", {"food": "thai"}), call("select", {"selection": 1}), NO_FUNCTION_CALL],
                "d2": [call("find", {"food": "cheap thai"}), NO_FUNCTION_CALL],
            },
        )
    )
    predicted = load_predictions(
        _predictions(
            tmp_path / "pred.jsonl",
            {
                "d1": [call("find", {"food": "thai"}), call("find", {"selection": 2}), NO_FUNCTION_CALL],
                "d2": ["garbage", NO_FUNCTION_CALL],
            },
        ),
        gold,
    )
    scores = score_nlu(gold, predicted)
    overall = scores["by_position"]["all"]
    assert overall["turns"] == 5 and overall["intent_accuracy"] == pytest.approx(3 / 5)
    # per conversation: d1 2/3, d2 1/2
    assert overall["intent_macro_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    # precision by predicted intent: find [d1: 1/2], none [d1: 1, d2: 1], NONE [d2: 0] -> mean(0.5, 1, 0)
    # recall by gold intent: find [d1: 1, d2: 0], select [d1: 0], none [1, 1] -> mean(0.5, 0, 1)
    assert overall["intent_macro"]["precision"] == pytest.approx(0.5)
    assert overall["intent_macro"]["recall"] == pytest.approx(0.5)
    # slot turns: d1 find (1,1,1), d1 select (0,0,0), d2 find (0,0,0)
    assert overall["slot_turns"] == 3 and overall["slot_micro"]["f1"] == pytest.approx(1 / 3)
    # macro: find -> mean(d1 1.0, d2 0.0) = 0.5, select -> 0.0; mean 0.25
    assert overall["slot_macro"]["f1"] == pytest.approx(0.25)
    assert scores["by_position"]["1"]["intent_accuracy"] == 0.5 and scores["by_position"]["3"]["turns"] == 1


def test_gold_against_itself_scores_one(simulated_run, restaurant_graph, tmp_path: Path) -> None:
    summary = convert(restaurant_graph, read_dialogues(simulated_run[0]), tmp_path)
    gold = load_gold(summary.data_file)
    rows = [json.loads(line) for line in summary.data_file.read_text().splitlines()]
    functions = {r["id"]: [m["value"] for m in r["conversations"] if m["from"] == "function"] for r in rows}
    scores = score_nlu(gold, load_predictions(_predictions(tmp_path / "p.jsonl", functions), gold))
    overall = scores["by_position"]["all"]
    assert (
        overall["intent_accuracy"] == 1.0 and overall["slot_micro"]["f1"] == 1.0 and overall["slot_macro"]["f1"] == 1.0
    )
    assert scores["dialogues"] == len(rows) and "find_restaurant" in scores["intents"]


def test_bad_predictions_name_the_line(tmp_path: Path) -> None:
    gold = load_gold(_records(tmp_path / "gold.jsonl", {"d1": [NO_FUNCTION_CALL]}))
    with pytest.raises(SpecTodError, match=r"pred.jsonl: line 1: dialogue 'zz' is not in the gold records"):
        load_predictions(_predictions(tmp_path / "pred.jsonl", {"zz": []}), gold)
    with pytest.raises(SpecTodError, match=r"line 1 \(d1\): 2 functions for 1 user turns"):
        load_predictions(_predictions(tmp_path / "pred.jsonl", {"d1": ["a", "b"]}), gold)


def test_judge_prompt_and_reading() -> None:
    prompt = judge_prompt([("user", "hi  there"), ("assistant", "hello")], "ok", "fine")
    assert prompt.startswith(
        "Given the conversation history:\nuser: hi there\nsystem: hello\nResponse: ok\nGroundtruth: fine\n"
    )
    assert (read_relevance(" 2"), read_relevance("x"), read_relevance("1.")) == (2, None, 1)


def test_score_nlu_command_prints_the_table_and_writes_the_json(tmp_path: Path, monkeypatch, capsys) -> None:
    import sys

    from spec_tod.cli import main

    gold = _records(tmp_path / "gold.jsonl", {"d1": [call("find_restaurant", {"food": "thai"}), NO_FUNCTION_CALL]})
    predictions = _predictions(tmp_path / "pred.jsonl", {"d1": [call("find_restaurant", {"food": "thai"}), "x"]})
    out_json = tmp_path / "nlu.json"
    argv = ["spec-tod", "score", "nlu", str(predictions), "--gold", str(gold), "--json", str(out_json)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("COLUMNS", "200")
    main()  # returns on success; errors exit
    scores = json.loads(out_json.read_text())
    assert scores["dialogues"] == 1 and scores["by_position"]["all"]["intent_accuracy"] == 0.5
    assert "NLU scores of" in capsys.readouterr().out
