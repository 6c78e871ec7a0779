"""Bad predictions stop with one message naming the offending dialogues and what was expected."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.score import Scorer, load_predictions


def test_unknown_ids(scorer: Scorer, published: dict[str, Any]) -> None:
    predictions = dict(published["sfn"])
    predictions["xyz0001"] = predictions["sng0073"]
    with pytest.raises(SpecTodError, match=r"1 dialogue id\(s\) not in the reference split: xyz0001; expected ids of its 1000"):
        scorer.score(predictions)
    upper = {key.upper(): value for key, value in published["sfn"].items()}
    with pytest.raises(SpecTodError, match="lower case without .json"):
        scorer.score(upper)


def test_too_many_turns(scorer: Scorer, published: dict[str, Any]) -> None:
    predictions = dict(published["sfn"])
    predictions["sng0073"] = predictions["sng0073"] * 2
    with pytest.raises(SpecTodError, match="more turns than the reference: sng0073 has 8 turns, the reference 4"):
        scorer.score(predictions, allow_subset=True)


def test_fewer_turns_need_the_subset_option(scorer: Scorer, published: dict[str, Any]) -> None:
    predictions = dict(published["augpt"])
    predictions["sng0073"] = predictions["sng0073"][:2]
    with pytest.raises(SpecTodError, match="fewer turns than the reference: sng0073 has 2 turns, the reference 4; pass --subset"):
        scorer.score(predictions)
    result = scorer.score(predictions, allow_subset=True)
    assert (result.coverage.dialogues, result.coverage.turns) == (1000, 7370)


def test_missing_dialogues_need_the_subset_option(scorer: Scorer, published: dict[str, Any]) -> None:
    with pytest.raises(SpecTodError, match="1 of the 1000 reference dialogues are not predicted: mul0789; pass --subset"):
        scorer.score(published["mintl"])
    with pytest.raises(SpecTodError, match="no dialogues"):
        scorer.score({}, allow_subset=True)


def test_format_errors_name_dialogue_and_turn(scorer: Scorer, published: dict[str, Any]) -> None:
    predictions = copy.deepcopy(published["augpt"])
    predictions["sng0073"][3]["response"] = 17
    predictions["pmul4672"][0]["state"] = {"hotel": {"stars": 4}}
    with pytest.raises(SpecTodError, match=r"2 format problem\(s\): dialogue sng0073 turn 3 response: .*string.*got int; dialogue pmul4672 turn 0 state.hotel.stars"):
        scorer.score(predictions)
    with pytest.raises(SpecTodError, match="expected a JSON object"):
        scorer.score([1, 2])  # type: ignore[arg-type]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SpecTodError, match="not found"):
        load_predictions(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"sng0073": [', encoding="utf-8")
    with pytest.raises(SpecTodError, match="broken.json: cannot read the predictions as JSON"):
        load_predictions(broken)
    broken.write_text('{"sng0073": ' + "[" * 5000 + "]" * 5000 + "}", encoding="utf-8")  # deeper than the decoder goes
    with pytest.raises(SpecTodError, match="broken.json: cannot read the predictions as JSON"):
        load_predictions(broken)
    with pytest.raises(SpecTodError, match="without predictions.json"):
        load_predictions(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "predictions.json").write_text(json.dumps({"sng0073": [{"response": "hi", "extra": 1}]}), encoding="utf-8")
    assert load_predictions(run) == {"sng0073": [{"response": "hi", "extra": 1}]}
