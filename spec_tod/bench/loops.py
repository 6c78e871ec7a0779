"""One turn end to end, one turn of DST, and the belief state the turns add up to.

End-to-end turn *t* (turns of a dialogue run in order):

1. DST call: the DST prompt with the model's own earlier calls and delexicalised responses as
   history, prefilled up to the function name. The output is read with the tasks layer's parser;
   the function name gives the turn's domain, the arguments are validated against the function
   (:func:`spec_tod.tasks.prompts.arguments_to_state`; dropped arguments are recorded as problems)
   and become that domain's state (a call carries the domain's cumulative state, as in training).
2. Database: the venues matching the new state of that domain, counted as the training data counts
   them (:func:`spec_tod.data.readers.mwz_turns.db_count`).
3. Response call: the end-to-end prompt with the current call (when the state changed) and the
   observation, prefilled with ``Action:``; the output splits into the action and the delexicalised
   response.

DST turn: one DST call with the gold history (independent of the other turns); states are added
up after the calls (:func:`replay`), so concurrency cannot change them.

Outputs that do not parse never stop a run. A call that cannot be read at all sets
``parse_failed``: its fallbacks are the previous turn's domain (``general`` in DST mode) with no
state change, and for the response the whole generated text with no action. Every problem is listed
in the record. A request that still fails after the client's retries makes the turn ``failed``
(with the error); in end-to-end mode the dialogue's later turns are not run, since their prompts
need that turn's output. Rerunning the command retries a failed turn and continues the dialogue.

A state update that is empty (a call with no valid arguments) changes nothing: training never shows
an empty call, and dropping a domain's state on one would lose it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from spec_tod.bench.client import Completion, CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.prompts import ACTION_PREFILL, CALL_PREFILL, DialoguePrompts, HistoryTurn, Message
from spec_tod.bench.store import CallRecord, TurnRecord
from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import BeliefState
from spec_tod.data.readers.mwz_turns import db_count
from spec_tod.tasks.prompts import (
    arguments_to_state,
    format_e2e_response,
    format_function_call,
    function_domain,
    observation_text,
    parse_e2e_response,
    parse_function_call,
    state_to_arguments,
)

NO_DOMAIN = "general"

Render = Callable[[Sequence[Message], Message], str]
"""Messages plus the prefill message -> the raw prompt string."""


@dataclass
class StateTracker:
    """The running belief state of one dialogue and the domain of its last readable call."""

    state: BeliefState = field(default_factory=dict)
    domain: str = NO_DOMAIN

    def apply(self, domain: str, update: dict[str, str] | None) -> bool:
        """Apply one turn's call; True when it changed the state (the turn "called" its function)."""
        if update is None:
            return False
        self.domain = domain
        if not update or update == self.state.get(domain):
            return False
        self.state = {**self.state, domain: dict(update)}
        return True


def replay(records: Sequence[TurnRecord]) -> list[tuple[BeliefState, bool]]:
    """``(state after the turn, whether the turn changed it)`` for each of a dialogue's records in order."""
    tracker = StateTracker()
    steps = []
    for record in records:
        changed = tracker.apply(record.domain, record.update)
        steps.append((tracker.state, changed))
    return steps


def _call_message(prompts: DialoguePrompts, domain: str, state: dict[str, str], called: bool) -> str | None:
    """The ``function`` message of a turn that changed ``domain``'s state to ``state``; ``None`` otherwise."""
    function = prompts.function(domain)
    if not called or function is None:
        return None
    return format_function_call(function["name"], state_to_arguments(domain, state, function))


def history_turn(prompts: DialoguePrompts, record: TurnRecord, called: bool) -> HistoryTurn:
    """How a finished end-to-end turn appears in the prompts of later turns."""
    call = _call_message(prompts, record.domain, record.update or {}, called)
    if record.acts is not None:
        reply = format_e2e_response(record.acts, record.response)
    else:  # the model's own words, as it wrote them after the prefill
        reply = ACTION_PREFILL[1] + next((c.text for c in record.calls if c.kind == "response"), "")
    return HistoryTurn(
        user=prompts.dialogue.turns[record.turn].user,
        call=call,
        observation=observation_text(record.domain, record.db_count, called),
        dst_reply=record.response,
        e2e_reply=reply,
    )


@dataclass
class _CallReading:
    domain: str
    update: dict[str, str] | None
    problems: list[str]
    unreadable: bool


def _read_call(prompts: DialoguePrompts, text: str, fallback_domain: str) -> _CallReading:
    parsed = parse_function_call(text, CALL_PREFILL[1])
    if parsed is None:
        return _CallReading(fallback_domain, None, ["dst: no function call could be read"], True)
    name, arguments = parsed
    domain = function_domain(name)
    function = prompts.function(domain) if domain is not None else None
    if function is None:
        return _CallReading(fallback_domain, None, [f"dst: {name!r} is not one of the offered functions"], True)
    update, problems = arguments_to_state(domain, arguments, function)
    return _CallReading(domain, update, [f"dst: {problem}" for problem in problems], False)


def _call_record(kind: str, completion: Completion) -> CallRecord:
    return CallRecord(
        kind=kind,
        text=completion.text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        generated_tokens=completion.generated_tokens,
        latency_s=completion.latency_s,
        attempts=completion.attempts,
        endpoint=completion.endpoint,
    )


def _failure(error: RequestFailed) -> str:
    status = f"HTTP {error.last_status}" if error.last_status else "no answer"
    return f"request failed after {error.attempts} attempt(s): {status}: {error.last_error}"


@dataclass
class TurnRunner:
    """Runs turns against one client; every turn ends as a record, never as an exception."""

    client: CompletionClient
    render: Render
    dst_params: GenerationParams
    response_params: GenerationParams
    database: VenueDatabase | None
    session: str

    async def dst_turn(self, prompts: DialoguePrompts, turn: int) -> TurnRecord:
        """One DST-only turn: gold history, one call."""
        started = time.time()
        prompt = self.render(prompts.dst_messages(turn, None), CALL_PREFILL)
        try:
            completion = await self.client.complete(prompt, self.dst_params)
        except RequestFailed as error:
            return self._record(prompts, turn, started, status="failed", error=_failure(error))
        reading = _read_call(prompts, completion.text, NO_DOMAIN)
        return self._record(
            prompts,
            turn,
            started,
            status="done",
            domain=reading.domain,
            update=reading.update,
            problems=reading.problems,
            parse_failed=reading.unreadable,
            calls=[_call_record("dst", completion)],
        )

    async def e2e_turn(
        self, prompts: DialoguePrompts, turn: int, history: Sequence[HistoryTurn], tracker: StateTracker
    ) -> TurnRecord:
        """One end-to-end turn; ``tracker`` holds the state after the earlier turns (read, not changed)."""
        started = time.time()
        calls: list[CallRecord] = []
        try:
            prompt = self.render(prompts.dst_messages(turn, history), CALL_PREFILL)
            dst = await self.client.complete(prompt, self.dst_params)
            calls.append(_call_record("dst", dst))
            reading = _read_call(prompts, dst.text, tracker.domain)
            after = StateTracker(dict(tracker.state), tracker.domain)
            called = after.apply(reading.domain, reading.update)
            count = db_count(self.database, reading.domain, after.state)
            call = _call_message(prompts, reading.domain, after.state.get(reading.domain, {}), called)
            observation = observation_text(reading.domain, count, called)
            prompt = self.render(prompts.response_messages(turn, history, call, observation), ACTION_PREFILL)
            answer = await self.client.complete(prompt, self.response_params)
            calls.append(_call_record("response", answer))
        except RequestFailed as error:
            return self._record(prompts, turn, started, status="failed", error=_failure(error), calls=calls)
        acts, response = parse_e2e_response(ACTION_PREFILL[1] + answer.text)
        problems = list(reading.problems)
        if acts is None:
            problems.append("response: no action JSON after 'Action:'")
        if not response.strip():
            problems.append("response: empty response")
        return self._record(
            prompts,
            turn,
            started,
            status="done",
            domain=reading.domain,
            update=reading.update,
            db_count=count,
            acts=acts,
            response=response,
            problems=problems,
            parse_failed=reading.unreadable or acts is None,
            calls=calls,
        )

    def _record(self, prompts: DialoguePrompts, turn: int, started: float, **fields: object) -> TurnRecord:
        return TurnRecord(
            dialogue_id=prompts.dialogue.id,
            turn=turn,
            session=self.session,
            started_at=started,
            finished_at=time.time(),
            **fields,
        )
