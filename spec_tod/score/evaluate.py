"""Scoring predictions the way the standardized MultiWOZ evaluator does (docs/evaluation.md).

:class:`Scorer` builds the references once (responses, gold states, booked domains, goals, venue
database) and scores any number of prediction sets; :func:`score_predictions` is the one-call form.

Coverage rule: without ``allow_subset`` every reference dialogue must be predicted with exactly its
number of system turns. With it, dialogues may be left out and dialogues may stop early (only the
leading turns are compared, as the evaluator does); the result's coverage says how much was scored.
Unknown dialogue ids and dialogues longer than their reference are always errors.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spec_tod.data.background import Forked
from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.normalize import normalise_responses_later, normalise_state
from spec_tod.data.readers import find_db_dir, load_database
from spec_tod.errors import SpecTodError
from spec_tod.score.active_domains import estimate_active_domains
from spec_tod.score.bleu import ReferenceIndex, bleu
from spec_tod.score.bleu_worker import bleu_later as standing_bleu_later
from spec_tod.score.dst import dst_scores
from spec_tod.score.inform_success import TOTAL, aggregate, dialogue_outcome
from spec_tod.score.predictions import PredictedTurn, Predictions, parse_predictions
from spec_tod.score.references import DialogueReference, build_references, reference_index
from spec_tod.score.result import Coverage, DialogueDetail, ScoreResult
from spec_tod.score.richness import richness
from spec_tod.settings import default_data_dir

_SHOWN = 5


class Scorer:
    """Scores prediction sets against one set of reference dialogues."""

    def __init__(
        self,
        dialogues: Sequence[Dialogue],
        *,
        database: VenueDatabase,
        booked_domains: Mapping[str, Sequence[Sequence[str]]] | None = None,
        goal_dialogues: Sequence[Dialogue] | None = None,
    ) -> None:
        """``booked_domains`` overrides the dataset's booking records; ``goal_dialogues`` (MultiWOZ 2.1)
        supply goals and booked domains for dialogues without a goal (MultiWOZ 2.2)."""
        if not dialogues:
            raise SpecTodError("no reference dialogues to score against; check --data-dir and --split")
        self._use(build_references(dialogues, booked_domains=booked_domains, goal_dialogues=goal_dialogues), database)

    @classmethod
    def from_references(cls, references: Mapping[str, DialogueReference], *, database: VenueDatabase) -> Scorer:
        """A scorer over references already built (e.g. :func:`split_references`, from the cache)."""
        if not references:
            raise SpecTodError("no reference dialogues to score against; check --data-dir and --split")
        scorer = cls.__new__(cls)
        scorer._use(dict(references), database)
        return scorer

    def _use(self, references: dict[str, DialogueReference], database: VenueDatabase) -> None:
        self.database = database
        self.references = references
        self.total_turns = sum(len(reference.responses) for reference in self.references.values())
        self.total_by_domain = dict(sorted(Counter(d for r in self.references.values() for d in r.goal).items()))
        self._bleu_index: ReferenceIndex | None = None

    def bleu_index(self) -> ReferenceIndex:
        """The references' BLEU statistics, read from the cache (or counted) on first use in this process:
        in the BLEU worker, or ahead of time where the scoring will run (a bench run's prepared scorer)."""
        if self._bleu_index is None:
            self._bleu_index = reference_index(self.references)
        return self._bleu_index

    @gc_paused()
    def score(
        self,
        predictions: Mapping[str, Any],
        *,
        allow_subset: bool = False,
        on_stage: Callable[[str], None] | None = None,
    ) -> ScoreResult:
        """Score ``predictions`` (interchange format, raw JSON or parsed); see the module doc for coverage."""
        stage = _Stages(on_stage)
        stage("check")
        parsed = _parsed(predictions)
        self._check_coverage(parsed, allow_subset)
        ids = list(parsed)
        references = [self.references[dialogue_id] for dialogue_id in ids]

        stage("normalise")
        texts = [turn.response for i in ids for turn in parsed[i]]
        normalised = normalise_responses_later(texts)
        references_used = [ref for reference in references for ref in reference.responses[: len(parsed[reference.id])]]
        # BLEU in the command's standing normaliser, which has the normalised texts and has read the
        # references' BLEU statistics (spec_tod.score.bleu_worker), when there is one.
        bleu_later = standing_bleu_later(texts, references_used) if texts else None

        stage("normalise (rest)")
        flat = iter(normalised())
        responses = [[next(flat) for _turn in parsed[i]] for i in ids]
        hypotheses = [response for dialogue in responses for response in dialogue]
        # Otherwise started as soon as the responses are normalised, before the states, DST and
        # Inform/Success, which this process computes meanwhile, in a worker forked now, which reads the
        # arguments where they lie.
        bleu_job = None
        if hypotheses and bleu_later is None:
            bleu_job = Forked(_bleu, hypotheses, references_used, self)
            bleu_later = bleu_job.result
        try:
            stage("states")
            given_states = all(turn.state is not None for i in ids for turn in parsed[i])
            if given_states:
                states = [[normalise_state(turn.state or {}) for turn in parsed[i]] for i in ids]
            else:
                states = [list(reference.states[: len(parsed[reference.id])]) for reference in references]
            given_domains = all(turn.active_domains is not None for i in ids for turn in parsed[i])
            if given_domains:
                domains = [[turn.active_domains or [] for turn in parsed[i]] for i in ids]
            else:
                domains = [estimate_active_domains(dialogue_states) for dialogue_states in states]

            stage("dst")
            dst = None
            if given_states:
                dst = dst_scores(
                    (predicted, gold)
                    for reference, dialogue_states in zip(references, states, strict=True)
                    for predicted, gold in zip(dialogue_states, reference.states[: len(dialogue_states)], strict=True)
                )

            stage("inform/success")
            outcomes = [
                dialogue_outcome(reference.goal, reference.booked, dialogue, dialogue_states, dialogue_domains, self.database)
                for reference, dialogue, dialogue_states, dialogue_domains in zip(
                    references, responses, states, domains, strict=True
                )
            ]
            rates = aggregate(outcomes)

            stage("richness")
            lexical_figures = richness(hypotheses)

            stage("bleu (rest)")
            corpus_bleu = bleu_later() if bleu_later is not None else 0.0
        finally:
            if bleu_job is not None:
                bleu_job.stop()
        stage(None)

        inform, success = rates.inform.get(TOTAL, 0.0), rates.success.get(TOTAL, 0.0)
        return ScoreResult(
            bleu=corpus_bleu,
            inform=inform,
            success=success,
            combined=(inform + success) / 2 + corpus_bleu,
            inform_by_domain={k: v for k, v in rates.inform.items() if k != TOTAL},
            success_by_domain={k: v for k, v in rates.success.items() if k != TOTAL},
            dialogues_by_domain={k: v for k, v in rates.dialogues.items() if k != TOTAL},
            richness=lexical_figures,
            dst=dst,
            states="predicted" if given_states else "gold",
            active_domains="given" if given_domains else "estimated",
            coverage=Coverage(
                subset=allow_subset,
                dialogues=len(ids),
                total_dialogues=len(self.references),
                turns=len(hypotheses),
                total_turns=self.total_turns,
                total_dialogues_by_domain=self.total_by_domain,
            ),
            details=[
                DialogueDetail(
                    id=dialogue_id,
                    turns=len(parsed[dialogue_id]),
                    inform=outcome.inform,
                    success=outcome.success,
                    reasons=outcome.reasons,
                )
                for dialogue_id, outcome in zip(ids, outcomes, strict=True)
            ],
            timings=stage.timings,
        )

    def _check_coverage(self, predictions: Predictions, allow_subset: bool) -> None:
        if not predictions:
            raise SpecTodError("the predictions contain no dialogues")
        unknown = [dialogue_id for dialogue_id in predictions if dialogue_id not in self.references]
        if unknown:
            hint = ""
            if any(dialogue_id.lower().removesuffix(".json") in self.references for dialogue_id in unknown):
                hint = " (ids are lower case without .json, e.g. sng0073)"
            raise SpecTodError(
                f"{len(unknown)} dialogue id(s) not in the reference split{hint}: {_first(unknown)}; "
                f"expected ids of its {len(self.references)} dialogues"
            )
        longer = [
            f"{i} has {len(turns)} turns, the reference {len(self.references[i].responses)}"
            for i, turns in predictions.items()
            if len(turns) > len(self.references[i].responses)
        ]
        if longer:
            raise SpecTodError(f"{len(longer)} dialogue(s) with more turns than the reference: {'; '.join(longer[:_SHOWN])}")
        if allow_subset:
            return
        missing = [dialogue_id for dialogue_id in self.references if dialogue_id not in predictions]
        if missing:
            raise SpecTodError(
                f"{len(missing)} of the {len(self.references)} reference dialogues are not predicted: {_first(missing)}; "
                "pass --subset (allow_subset=True) to score only the given dialogues"
            )
        shorter = [
            f"{i} has {len(turns)} turns, the reference {len(self.references[i].responses)}"
            for i, turns in predictions.items()
            if len(turns) < len(self.references[i].responses)
        ]
        if shorter:
            raise SpecTodError(
                f"{len(shorter)} dialogue(s) with fewer turns than the reference: {'; '.join(shorter[:_SHOWN])}; "
                "pass --subset (allow_subset=True) to score only the leading turns"
            )


def _bleu(hypotheses: list[str], references_used: list[str], scorer: Scorer) -> float:
    # In the BLEU worker: the references' statistics are read (or counted) here, off the path of the
    # process that waits for this one, unless they are at hand already (a bench run's prepared scorer).
    return bleu(hypotheses, references_used, scorer.bleu_index())


class _Stages:
    """Times consecutive stages and reports each start to an optional callback."""

    def __init__(self, on_stage: Callable[[str], None] | None) -> None:
        self.timings: dict[str, float] = {}
        self._on_stage = on_stage
        self._name: str | None = None
        self._started = 0.0

    def __call__(self, name: str | None) -> None:
        now = time.perf_counter()
        if self._name is not None:
            self.timings[self._name] = now - self._started
        self._name, self._started = name, now
        if name is not None and self._on_stage is not None:
            self._on_stage(name)


def _parsed(predictions: Mapping[str, Any]) -> Predictions:
    if isinstance(predictions, Mapping) and all(
        isinstance(turns, list) and all(isinstance(t, PredictedTurn) for t in turns) for turns in predictions.values()
    ):
        return dict(predictions)
    return parse_predictions(predictions)


def _first(ids: list[str]) -> str:
    return ", ".join(ids[:_SHOWN]) + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")


def score_predictions(
    predictions: Mapping[str, Any],
    dialogues: Sequence[Dialogue],
    *,
    booked_domains: Mapping[str, Sequence[Sequence[str]]] | None = None,
    allow_subset: bool = False,
    database: VenueDatabase | None = None,
    goal_dialogues: Sequence[Dialogue] | None = None,
) -> ScoreResult:
    """Score interchange-format ``predictions`` against ``dialogues`` (one split of the dataset layer).

    ``database`` defaults to the venue database of the shared data folder
    (``$SPEC_TOD_DATA_DIR/multiwoz_db``).
    """
    if database is None:
        database = load_database(find_db_dir(default_data_dir()))
    scorer = Scorer(dialogues, database=database, booked_domains=booked_domains, goal_dialogues=goal_dialogues)
    return scorer.score(predictions, allow_subset=allow_subset)

