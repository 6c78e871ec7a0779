"""One turn end to end, one turn of DST, and the belief state the turns add up to.

End-to-end turn *t* (turns of a dialogue run in order):

1. DST call: the DST prompt with the model's own earlier calls (:mod:`spec_tod.bench.prompts`);
   the model writes the whole function message: calls, or the no-call text. Each call's arguments
   are validated against its function (dropped arguments are recorded as problems) and become its
   domain's state (a call carries the domain's cumulative state, as in training).
2. Database: the venues matching the state of the last call's domain
   (:func:`spec_tod.tasks.layout.observation`, the function the training data uses).
3. Response call: the end-to-end prompt with this turn's function message and observation; the
   model writes the assistant message, ``Action: {...}`` and the delexicalised response.

DST turn: one DST call with the gold history (independent of the other turns); states are added
up after the calls (:func:`replay`), so concurrency cannot change them.

Outputs that do not parse never stop a run. A function message that cannot be read sets
``parse_failed`` and changes no state; a response without an action keeps the whole text as the
response. Every problem is listed in the record. A request that still fails after the client's
retries, or a prompt that cannot fit the server's context, makes the turn ``failed`` (with the
reason); in end-to-end mode the dialogue's later turns are not run, since their prompts need that
turn's output. Rerunning the command retries a failed turn and continues the dialogue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from spec_tod.bench.client import Completion, CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.prompts import DialoguePrompts, Prompt
from spec_tod.bench.protocols import WirePrompt
from spec_tod.bench.store import CallRecord, TurnRecord
from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import BeliefState
from spec_tod.data.readers.mwz_turns import db_count
from spec_tod.tasks.layout import TurnText, apply_calls, normalised_calls, observation
from spec_tod.tasks.prompts import format_calls, format_e2e_response, parse_calls, parse_e2e_response

NO_DOMAIN = "general"

Render = Callable[[Prompt, int], WirePrompt]
"""A prompt and the tokens it may generate -> the raw prompt string (chat endpoints: the messages to send);
raises :class:`PromptTooLong`."""


class PromptTooLong(Exception):
    """The prompt plus its new tokens exceed the server's context; the message says by how much."""


Updates = dict[str, dict[str, str]]
"""The validated state of each domain a turn called, in call order."""


@dataclass
class StateTracker:
    """The running belief state of one dialogue and the domain of its last call."""

    state: BeliefState = field(default_factory=dict)
    domain: str = NO_DOMAIN

    def apply(self, updates: Updates | None) -> None:
        """Apply one turn's calls (``None``: unreadable, ``{}``: no call; both change nothing)."""
        if updates:
            self.state = {**self.state, **{domain: dict(update) for domain, update in updates.items()}}
            self.domain = next(reversed(updates))


def replay(records: Sequence[TurnRecord]) -> list[BeliefState]:
    """The state after each of a dialogue's records, in order."""
    tracker = StateTracker()
    states = []
    for record in records:
        tracker.apply(record.updates)
        states.append(tracker.state)
    return states


def history_turn(prompts: DialoguePrompts, record: TurnRecord, state: BeliefState) -> TurnText:
    """How a finished end-to-end turn appears in later prompts; ``state`` is the state after it.

    Calls are shown as the training data writes them (so a call equal to its target shows exactly
    the target); the reply is the parsed action and response, or the model's own words when no
    action could be read.
    """
    domains = list(record.updates or {})
    call = format_calls(normalised_calls(state, domains, prompts.functions))
    if record.acts is not None:
        reply = format_e2e_response(record.acts, record.response)
    else:
        reply = next((c.text for c in record.calls if c.kind == "response"), "")
    return TurnText(
        user=prompts.dialogue.turns[record.turn].user,
        call=call,
        observation=observation(domains[-1] if domains else None, record.db_count),
        reply=reply,
    )


@dataclass
class _CallReading:
    updates: Updates | None
    problems: list[str]


def _read_calls(prompts: DialoguePrompts, text: str) -> _CallReading:
    calls = parse_calls(text)
    if calls is None:
        return _CallReading(None, ["dst: no function call could be read"])
    updates: Updates = {}
    problems: list[str] = []
    for call in calls:
        state, domain, found = apply_calls({}, [call], prompts.functions)
        problems += [f"dst: {problem}" for problem in found]
        if domain is not None:
            updates.pop(domain, None)  # a later call of the same domain wins, and moves last
            updates[domain] = state[domain]
    return _CallReading(updates, problems)


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
        ttft_s=completion.ttft_s,
        itl_s=list(completion.gaps_s),
    )


def _failure(error: RequestFailed | PromptTooLong) -> str:
    if isinstance(error, PromptTooLong):
        return str(error)
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
        try:
            text = self.render(prompts.dst_prompt(turn), self.dst_params.max_new_tokens)
            completion = await self.client.complete(text, self.dst_params)
        except (RequestFailed, PromptTooLong) as error:
            return self._record(prompts, turn, started, status="failed", error=_failure(error))
        reading = _read_calls(prompts, completion.text)
        return self._record(
            prompts,
            turn,
            started,
            status="done",
            domain=next(reversed(reading.updates)) if reading.updates else NO_DOMAIN,
            updates=reading.updates,
            problems=reading.problems,
            parse_failed=reading.updates is None,
            calls=[_call_record("dst", completion)],
        )

    async def e2e_turn(
        self, prompts: DialoguePrompts, turn: int, history: Sequence[TurnText], tracker: StateTracker
    ) -> TurnRecord:
        """One end-to-end turn; ``tracker`` holds the state after the earlier turns (read, not changed)."""
        started = time.time()
        calls: list[CallRecord] = []
        try:
            calls_so_far = [t.call for t in history[:turn]]
            text = self.render(prompts.dst_prompt(turn, calls_so_far), self.dst_params.max_new_tokens)
            dst = await self.client.complete(text, self.dst_params)
            calls.append(_call_record("dst", dst))
            reading = _read_calls(prompts, dst.text)
            after = StateTracker(dict(tracker.state), tracker.domain)
            after.apply(reading.updates)
            domains = list(reading.updates or {})
            count = db_count(self.database, domains[-1], after.state) if domains else None
            observed = observation(domains[-1] if domains else None, count)
            call = format_calls(normalised_calls(after.state, domains, prompts.functions))
            response_prompt = prompts.response_prompt(turn, history, call, observed)
            text = self.render(response_prompt, self.response_params.max_new_tokens)
            answer = await self.client.complete(text, self.response_params)
            calls.append(_call_record("response", answer))
        except (RequestFailed, PromptTooLong) as error:
            return self._record(prompts, turn, started, status="failed", error=_failure(error), calls=calls)
        acts, response = parse_e2e_response(answer.text)
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
            domain=after.domain,
            updates=reading.updates,
            db_count=count,
            acts=acts,
            response=response,
            problems=problems,
            parse_failed=reading.updates is None or acts is None,
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
