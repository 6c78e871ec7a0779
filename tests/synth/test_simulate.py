"""Simulation against the scripted stand-in: repair calls, preamble filter, gold positions, resuming after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spec_tod.bench.rundir_lock import RunDirLock
from spec_tod.errors import SpecTodError
from spec_tod.synth.graph import Graph
from spec_tod.synth.retrieve import load_corpus
from spec_tod.synth.simulate import DIALOGUES_FILE, TURNS_FILE, SimulateOptions, TurnLog, read_dialogues, simulate
from tests.synth.conftest import COUNT, SEED
from tests.synth.stand_in import StandIn


@pytest.fixture()
def server(stand_in):
    return stand_in


@pytest.fixture()
def finished_run(simulated_run):
    return simulated_run


def _options(graph: Graph, corpus_file: Path, run_dir: Path, url: str, count: int = COUNT, **kwargs) -> SimulateOptions:
    return SimulateOptions(
        graph=graph,
        corpus=load_corpus(corpus_file, graph.spec.corpus),
        run_dir=run_dir,
        endpoints=[url],
        count=count,
        seed=SEED,
        **kwargs,
    )


def test_every_dialogue_completes_and_every_call_is_logged(finished_run) -> None:
    run_dir, summary = finished_run
    dialogues = read_dialogues(run_dir)
    assert [d.status for d in dialogues] == ["complete"] * COUNT
    logs = [TurnLog.model_validate_json(line) for line in (run_dir / TURNS_FILE).read_text().splitlines()]
    assert len(logs) == summary.turns_run == sum(len(d.turns) for d in dialogues)
    calls = [call for log in logs for call in log.calls]
    assert len(calls) == summary.calls and all(call.prompt and call.answer for call in calls)


def test_bad_json_gets_the_repair_call(finished_run) -> None:
    run_dir, summary = finished_run
    logs = [TurnLog.model_validate_json(line) for line in (run_dir / TURNS_FILE).read_text().splitlines()]
    searches = [log for log in logs if log.intent == "find_restaurant"]
    assert searches and summary.repairs == len(searches)  # the stand-in breaks every search request's JSON
    for log in searches:
        assert [call.purpose for call in log.calls] == ["turn", "repair"]
        assert log.calls[1].prompt.startswith(
            'Fix the JSON below. The expected format is {"text": ..., "food": ..., "area": ..., "pricerange": ...}.'
        )
        assert set(log.slots) == {"food", "area", "pricerange"} and log.text.startswith("i want ")


def test_preambles_are_filtered(finished_run) -> None:
    dialogues = read_dialogues(finished_run[0])
    user_texts = [t.text for d in dialogues for t in d.turns if t.role == "user"]
    assert user_texts and not any(text.lower().startswith("sure") for text in user_texts)
    assert not any(text.startswith(("1.", "2.", "3.", '"')) for text in user_texts)


def test_the_gold_position_becomes_the_selection_label(finished_run) -> None:
    dialogues = read_dialogues(finished_run[0])
    selections = 0
    for dialogue in dialogues:
        for before, turn in zip(dialogue.turns, dialogue.turns[1:], strict=False):
            if turn.intent == "select_restaurant":
                selections += 1
                assert before.intent == "show_restaurants" and before.selection == turn.slots["selection"]
                assert before.results[turn.slots["selection"] - 1]["id"] == dialogue.item_id
                assert len(before.results) == 3 and f"option {before.selection}" in turn.text
    positions = {t.slots["selection"] for d in dialogues for t in d.turns if t.intent == "select_restaurant"}
    assert selections >= 10 and positions == {1, 2, 3}


def test_a_rerun_reuses_every_turn(restaurant_graph, corpus_file, server, finished_run) -> None:
    run_dir, _ = finished_run
    before = (run_dir / DIALOGUES_FILE).read_bytes()
    summary = simulate(_options(restaurant_graph, corpus_file, run_dir, server.url))
    assert summary.turns_run == 0 and summary.calls == 0
    assert (run_dir / DIALOGUES_FILE).read_bytes() == before


def test_a_run_folder_refuses_other_settings(restaurant_graph, corpus_file, server, finished_run) -> None:
    with pytest.raises(SpecTodError, match=r"made with other settings \(count differ\)"):
        simulate(_options(restaurant_graph, corpus_file, finished_run[0], server.url, count=COUNT + 1))


def test_sigkill_then_rerun_gives_the_same_output(restaurant_graph, corpus_file, finished_run, tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    command = [
        sys.executable,
        "-c",
        "from spec_tod.cli import main; main()",
        "synth",
        "simulate",
        "multiwoz_restaurant",
        "--corpus",
        str(corpus_file),
        "--count",
        str(COUNT),
        "--seed",
        str(SEED),
        "--run-dir",
        str(run_dir),
        "--concurrency",
        "4",
    ]
    with StandIn(delay_s=0.02) as slow:
        process = subprocess.Popen(
            [*command, "--endpoint", slow.url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        turns = run_dir / TURNS_FILE
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if turns.is_file() and turns.read_bytes().count(b"\n") >= 40:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else ""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert not (run_dir / DIALOGUES_FILE).exists()
        recorded = turns.read_bytes().count(b"\n")
        assert 40 <= recorded < sum(len(d.turns) for d in read_dialogues(finished_run[0]))
        done = subprocess.run([*command, "--endpoint", slow.url], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run_dir / DIALOGUES_FILE).read_bytes() == (finished_run[0] / DIALOGUES_FILE).read_bytes()
    assert json.loads((run_dir / "settings.json").read_text())["count"] == COUNT


def test_a_run_dir_held_by_another_process_is_refused_at_once(restaurant_graph, corpus_file, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # flock: a second descriptor on the lock file is refused even within this process
    with RunDirLock(run_dir), pytest.raises(SpecTodError, match=f"in use by another spec-tod process \\(PID {os.getpid()}\\)"):
        simulate(_options(restaurant_graph, corpus_file, run_dir, "http://127.0.0.1:9"))
    assert sorted(path.name for path in run_dir.iterdir()) == [".lock"]  # no settings, no turns written
