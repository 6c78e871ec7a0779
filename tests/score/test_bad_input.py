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


def test_responses_are_handed_on_before_the_check_and_a_bad_file_still_fails(tmp_path: Path) -> None:
    from spec_tod.score.predictions import read_predictions

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"a": [{"response": "hi"}, {"response": 3}, "x", {}], "b": "no", "c": [{"response": "yo"}]}))
    seen: list[list[str]] = []
    with pytest.raises(SpecTodError, match=r"p.json: 4 format problem\(s\): dialogue a turn 1 response"):
        read_predictions(path, on_responses=seen.append)
    assert seen == [["hi", "yo"]]  # the strings only: they go to the normaliser, which the check does not wait for
    path.write_text("[1, 2]")
    with pytest.raises(SpecTodError, match="expected a JSON object"):
        read_predictions(path, on_responses=seen.append)
    assert seen[1:] == [[]]


def test_every_kind_of_format_problem_is_named() -> None:
    from spec_tod.score.predictions import PredictedTurn, parse_predictions

    problems = {
        "a": "not a list",
        "b": [{"state": None}],
        "c": ["hello"],
        "d": [{"response": "hi", "state": {"hotel": "cheap"}}],
        "e": [{"response": "hi", "active_domains": "hotel"}],
        "f": [{"response": "hi", "active_domains": ["hotel", 3]}],
    }
    with pytest.raises(SpecTodError) as raised:
        parse_predictions(problems, source="p.json")
    assert str(raised.value).startswith(
        "p.json: 6 format problem(s): dialogue a: input should be a valid list; "
        "dialogue b turn 0 response: field required; dialogue c turn 0: input should be a valid dictionary; "
        "dialogue d turn 0 state.hotel: input should be a valid dictionary, got str; "
        "dialogue e turn 0 active_domains: input should be a valid list, got str; and 1 more"
    )
    parsed = parse_predictions({"a": [{"response": "hi", "state": None, "extra": 1}, {"response": "", "active_domains": []}]})
    assert parsed == {"a": [PredictedTurn("hi"), PredictedTurn("", None, [])]}


def test_the_format_is_a_strict_pydantic_models() -> None:
    """The hand-written check accepts exactly what the model it replaced (strict, extra keys ignored) accepts."""
    import random

    from pydantic import BaseModel, ConfigDict, StrictStr, TypeAdapter, ValidationError

    from spec_tod.score.predictions import PredictedTurn, parse_predictions

    class Turn(BaseModel):
        model_config = ConfigDict(extra="ignore", frozen=True)
        response: StrictStr
        state: dict[StrictStr, dict[StrictStr, StrictStr]] | None = None
        active_domains: list[StrictStr] | None = None

    model = TypeAdapter(dict[StrictStr, list[Turn]])
    rng = random.Random(7)
    leaves = ["x", "", 3, 2.5, None, True, ["x"], {"k": "v"}]

    def value(depth: int) -> object:
        if depth == 0 or rng.random() < 0.6:
            return rng.choice(leaves)
        if rng.random() < 0.5:
            return [value(depth - 1) for _ in range(rng.randint(0, 2))]
        return {rng.choice(["hotel", "area", 5]): value(depth - 1) for _ in range(rng.randint(0, 2))}

    def turn() -> object:
        if rng.random() < 0.1:
            return value(2)
        keys = {"response": lambda: value(1), "state": lambda: value(3), "active_domains": lambda: value(2), "extra": lambda: value(1)}
        return {key: make() for key, make in keys.items() if rng.random() < 0.8}

    agreed = accepted = 0
    for _ in range(3000):
        data = {"d": [turn() for _ in range(rng.randint(0, 2))]} if rng.random() < 0.95 else {"d": value(2)}
        try:
            expected = {i: [PredictedTurn(t.response, t.state, t.active_domains) for t in ts] for i, ts in model.validate_python(data).items()}
        except ValidationError:
            expected = None
        try:
            got = parse_predictions(data)
        except SpecTodError:
            got = None
        assert got == expected, data
        agreed += 1
        accepted += got is not None
    assert agreed == 3000 and 100 < accepted < 2900  # both kinds of input were tried
