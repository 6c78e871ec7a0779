"""Intent decisions over HTTP with a scripted true/false server: the KNN vote, binary and RAG modes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from spec_tod.bench.client import CompletionClient
from spec_tod.bench.render import PromptRenderer
from spec_tod.chat.template import load_chat_template
from spec_tod.du import prompts
from spec_tod.du.bench import DuBenchOptions, ServerAsker
from spec_tod.du.exemplars import ExemplarSet
from spec_tod.du.index import Retriever
from spec_tod.du.inference import IntentPrediction, knn_decision, predict_intent
from spec_tod.du.instances import View, views
from tests.du.answer_server import AnswerServer


def _predict(
    answer: Callable[[str], str | None], mode: str, view: View, utterance: str, constrained: str = "none"
) -> tuple[IntentPrediction, AnswerServer]:
    options = DuBenchOptions(
        [], Path("."), Path("."), "sgd", "dev", Path("."), template="llama3", constrained=constrained
    )  # type: ignore[arg-type]

    async def run(url: str) -> IntentPrediction:
        async with CompletionClient([url], concurrency=4, max_retries=0) as client:
            ask = ServerAsker(client, PromptRenderer(load_chat_template("llama3")), options)
            prediction = await predict_intent(mode, utterance, view, ask)  # type: ignore[arg-type]
            assert ask.failures == []
            return prediction

    with AnswerServer(answer=answer) as server:
        return asyncio.run(run(server.url)), server


def _true_for(*needles: str) -> Callable[[str], str]:
    return lambda prompt: "true" if any(needle in prompt for needle in needles) else "false"


def test_knn_vote_picks_the_owner_with_most_votes(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    item = sgd_dev.exemplars[3]  # get_ride: 7 of its 8 retrieved exemplars are get_ride, one get_cars_available
    view, _ = views(item, retriever)
    owners = [h.exemplar.owner for h in view.retrieval.exemplars]
    assert owners.count("get_ride") == 7 and owners.count("get_cars_available") == 1
    rides = [
        f"Template: {h.exemplar.template}\nDecision:"
        for h in view.retrieval.exemplars
        if h.exemplar.owner == "get_ride"
    ]
    cars = next(s for s in view.retrieval.skills if s.name == "get_cars_available")
    prediction, server = _predict(
        _true_for(*rides[:2], f"description: {cars.description}\n"), "knn", view, item.utterance, constrained="vllm"
    )
    assert (prediction.owner, prediction.votes) == ("get_ride", {"get_ride": 2, "get_cars_available": 1})
    assert len(server.received) == len(view.retrieval.exemplars) + len(view.retrieval.skills)
    assert all(r.body["guided_choice"] == ["true", "false"] for r in server.received)


def test_knn_vote_is_none_when_the_best_owner_has_one_vote(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    item = sgd_dev.exemplars[3]
    view, _ = views(item, retriever)
    one = f"Template: {view.retrieval.exemplars[0].exemplar.template}\nDecision:"
    prediction, server = _predict(_true_for(one), "knn", view, item.utterance)
    assert (prediction.owner, prediction.votes) == (None, {"get_ride": 1})
    assert all("guided_choice" not in r.body for r in server.received)  # unconstrained by default
    nothing, _ = _predict(lambda prompt: "false", "knn", view, item.utterance)
    assert (nothing.owner, nothing.votes) == (None, {})
    garbage, _ = _predict(lambda prompt: "maybe", "knn", view, item.utterance)
    assert garbage.owner is None and garbage.unreadable == len(view.retrieval.exemplars) + len(view.retrieval.skills)


def test_knn_decision_ties_go_to_the_first_voted() -> None:
    assert knn_decision([("b", True), ("a", True), ("a", True), ("b", True)]) == ("b", {"b": 2, "a": 2})
    assert knn_decision([("a", True), ("b", True), ("c", False)]) == (None, {"a": 1, "b": 1})


def test_binary_and_rag_modes(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    item = sgd_dev.exemplars[3]
    view, negative = views(item, retriever)
    binary, _ = _predict(_true_for('means "get_ride"? Output:'), "binary", view, item.utterance)
    assert binary.owner == "get_ride"
    rag, server = _predict(lambda prompt: '["get_ride"]', "rag", view, item.utterance, constrained="vllm")
    assert rag.owner == "get_ride" and len(server.received) == 1
    assert server.received[0].body["guided_choice"] == prompts.rag_choices(view.retrieval.skills)
    empty, _ = _predict(lambda prompt: "[]", "rag", negative, item.utterance)
    assert (empty.owner, empty.unreadable) == (None, 0)
