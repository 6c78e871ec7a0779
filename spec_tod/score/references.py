"""What the evaluator compares against, built from the project's own dataset layer (docs/evaluation.md 8).

Per dialogue: the normalised delexicalised reference responses (BLEU), the normalised gold states
(DST; Inform/Success of inputs without states), the booked-domain lists (5.2) and the goal (5.1).
References come from :attr:`Turn.system_delex`, gold states from :attr:`Turn.belief_state`, booked
domains from :attr:`Turn.booked_domains` (which reproduce the evaluator's ``booked_domains.json``
on the MultiWOZ 2.1 test and validation splits) unless a booked-domains file is given, goals from
:attr:`Dialogue.goal`. MultiWOZ 2.2 has neither goals nor booking records: they then come from the
MultiWOZ 2.1 dialogues passed as ``goal_dialogues``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spec_tod.cache import cached
from spec_tod.data.dialogue import BeliefState, Dialogue
from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.normalize import (
    normalise_response,
    normalise_responses,
    normalise_state,
    placeholder_class,
)
from spec_tod.data.readers import LoadResult, load_dialogues
from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json
from spec_tod.score.bleu import ReferenceIndex
from spec_tod.score.goals import Goal, build_goal
from spec_tod.score.split_index import REFERENCES, split_identity

DONTCARE = "dontcare"
_BRACKETED = re.compile(r"\[([^\[\]]+)\]")
_VALUE_PREFIX = "value_"
_V = TypeVar("_V")


@dataclass(frozen=True)
class DialogueReference:
    """Everything the metrics need about one reference dialogue."""

    id: str
    """Interchange id: lower case, no ``.json``."""
    responses: tuple[str, ...]
    states: tuple[dict[str, dict[str, str]], ...]
    booked: tuple[tuple[str, ...], ...]
    goal: Goal


def interchange_id(dialogue_id: str) -> str:
    """``SNG0073`` or ``SNG0073.json`` -> ``sng0073``, the key of the prediction format."""
    dialogue_id = dialogue_id.lower()
    return dialogue_id[: -len(".json")] if dialogue_id.endswith(".json") else dialogue_id


def _canonical_placeholder(match: re.Match[str]) -> str:
    # The dataset layer writes ``[value_<name>]``; a few (value_internet, value_parking,
    # value_openhours) are not in the evaluator's table although their bare name is.
    name = match.group(1)
    if placeholder_class(name) is None and name.lower().startswith(_VALUE_PREFIX):
        bare = name[len(_VALUE_PREFIX) :]
        if placeholder_class(bare) is not None:
            return f"[{bare}]"
    return match.group(0)


def evaluator_delex(system_delex: str) -> str:
    """A delexicalised system turn with every placeholder spelled as the evaluator knows it."""
    return _BRACKETED.sub(_canonical_placeholder, system_delex)


def reference_response(system_delex: str) -> str:
    """The normalised reference for one delexicalised system turn of the dataset layer."""
    return normalise_response(evaluator_delex(system_delex))


def without_dontcare(state: BeliefState) -> BeliefState:
    """``state`` without don't-care slots and then without empty domains.

    The standardized evaluator's gold states have no ``dontcare`` (so a predicted one is a false
    positive); bench predictions drop them the same way, as the release's DST scoring did
    (``ignore_dontcare_in_pred``)."""
    kept = {
        domain: {slot: value for slot, value in slots.items() if value != DONTCARE}
        for domain, slots in state.items()
    }
    return {domain: slots for domain, slots in kept.items() if slots}


def raw_gold_state(belief_state: BeliefState) -> BeliefState:
    """The turn's state without don't-care slots and then without empty domains, not yet normalised."""
    return without_dontcare(belief_state)


def gold_state(belief_state: BeliefState) -> dict[str, dict[str, str]]:
    """The evaluator's gold state (docs/evaluation.md 8.3/8.4): :func:`raw_gold_state`, normalised."""
    return normalise_state(raw_gold_state(belief_state))


def ground_truth_predictions(dialogues: Sequence[Dialogue]) -> dict[str, list[dict[str, Any]]]:
    """The dataset itself in the interchange format: delexicalised references as responses and
    gold states; scoring it gives 100 BLEU and 100 joint accuracy (a sanity check, an oracle row)."""
    return {
        interchange_id(dialogue.id): [
            {"response": evaluator_delex(turn.system_delex), "state": raw_gold_state(turn.belief_state)}
            for turn in dialogue.turns
        ]
        for dialogue in dialogues
    }


def load_booked_domains(path: Path) -> dict[str, list[list[str]]]:
    """A ``booked_domains.json`` file: interchange id -> one list of domains per system turn."""
    try:
        data = loads_json(Path(path).read_bytes())
    except (OSError, ValueError) as error:
        raise SpecTodError(f"{path}: cannot read the booked-domains file ({error})") from error
    if not isinstance(data, dict) or not all(
        isinstance(turns, list) and all(isinstance(domains, list) for domains in turns) for turns in data.values()
    ):
        raise SpecTodError(
            f"{path}: expected {{dialogue id: [[domain, ...] per system turn]}} as in mwz_eval/booked_domains.json"
        )
    return data


def _normalised_references(texts: list[str]) -> list[str]:
    """:func:`normalise_responses` of the reference texts, kept on disk under a hash of the texts: the
    Moses normalisation is most of building references, and a bench run's subset of a split, or a
    test, asks for the same texts again and again."""
    return _cached_by_texts("normalised-references", texts, normalise_responses)


def _cached_by_texts(kind: str, texts: list[str], build: Callable[[list[str]], _V]) -> _V:
    """``build(texts)``, kept on disk (:mod:`spec_tod.cache`) under a hash of the texts themselves."""
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    return cached(kind, {"texts": digest}, lambda: (build(texts), []))


@gc_paused()
def build_references(
    dialogues: Sequence[Dialogue],
    *,
    booked_domains: Mapping[str, Sequence[Sequence[str]]] | None = None,
    goal_dialogues: Sequence[Dialogue] | None = None,
) -> dict[str, DialogueReference]:
    """References for ``dialogues``, keyed by interchange id, in dataset order.

    ``booked_domains`` (interchange id -> lists per turn) replaces the dataset's booking records;
    ``goal_dialogues`` (MultiWOZ 2.1) supply goals, and booked domains where the dialogues have no
    goal of their own (MultiWOZ 2.2).
    """
    companions = {interchange_id(d.id): d for d in goal_dialogues or ()}
    normalised = iter(_normalised_references([evaluator_delex(t.system_delex) for d in dialogues for t in d.turns]))
    references: dict[str, DialogueReference] = {}
    for dialogue in dialogues:
        key = interchange_id(dialogue.id)
        source = dialogue if dialogue.goal is not None else companions.get(key)
        if source is None:
            raise SpecTodError(
                f"{dialogue.source or 'dataset'}: dialogue {dialogue.id} has no goal (MultiWOZ 2.2 has none); "
                "pass --goals-data-dir with the MultiWOZ 2.1 data (multiwoz21/ with test.json.zip) to take goals "
                "and booked domains from there"
            )
        if booked_domains is not None:
            if key not in booked_domains:
                raise SpecTodError(
                    f"booked-domains file has no entry for dialogue {key}; pass the evaluator's full booked_domains.json"
                )
            booked = tuple(tuple(domains) for domains in booked_domains[key])
        else:
            booked = tuple(turn.booked_domains for turn in source.turns)
        references[key] = DialogueReference(
            id=key,
            responses=tuple(next(normalised) for _turn in dialogue.turns),
            states=tuple(gold_state(turn.belief_state) for turn in dialogue.turns),
            booked=booked,
            goal=build_goal(source.goal),
        )
    return references


def split_references(
    dataset: str,
    data_dir: Path,
    split: str,
    *,
    db_dir: Path | None = None,
    booked_domains_file: Path | None = None,
    goals_data_dir: Path | None = None,
) -> dict[str, DialogueReference]:
    """:func:`build_references` for a whole split, kept on disk (:mod:`spec_tod.cache`): a warm call reads
    neither the split nor the goals, only checks that their files are unchanged.

    ``goals_data_dir`` (MultiWOZ 2.2): the MultiWOZ 2.1 data the goals and booked domains come from.
    """
    def build() -> tuple[dict[str, DialogueReference], list[Path]]:
        loaded = load_dialogues(dataset, data_dir, split, db_dir=db_dir)
        files = list(loaded.files)
        goal_dialogues = None
        if goals_data_dir is not None:
            goals = _multiwoz21_goals(goals_data_dir, split, db_dir)
            goal_dialogues, files = goals.dialogues, files + goals.files
        booked = None
        if booked_domains_file is not None:
            booked, files = load_booked_domains(booked_domains_file), files + [booked_domains_file]
        return build_references(loaded.dialogues, booked_domains=booked, goal_dialogues=goal_dialogues), files

    identity = split_identity(
        dataset, data_dir, split, db_dir=db_dir, booked_domains_file=booked_domains_file, goals_data_dir=goals_data_dir
    )
    return cached(REFERENCES, identity, build)


def reference_index(references: Mapping[str, DialogueReference]) -> ReferenceIndex:
    """The BLEU statistics (:class:`ReferenceIndex`) of every reference response, kept on disk under a hash
    of the texts (each sentence's codes depend on the texts alone): reading them is a fraction of counting
    them (docs/speed.md). Read where BLEU is computed (the scorer's BLEU worker), not where the
    references are (``spec-tod score``: :func:`spec_tod.score.split_index.cached_split_index`)."""
    texts = [response for reference in references.values() for response in reference.responses]
    return _cached_by_texts("reference-ngrams", texts, ReferenceIndex.of)


def _multiwoz21_goals(goals_dir: Path, split: str, db_dir: Path | None) -> LoadResult:
    try:
        return load_dialogues("multiwoz21", goals_dir, split, db_dir=db_dir)
    except SpecTodError as error:
        raise SpecTodError(
            f"MultiWOZ 2.2 scoring needs the MultiWOZ 2.1 goals and booking records, which were not found ({error}); "
            "pass --goals-data-dir with the folder holding multiwoz21/"
        ) from None

