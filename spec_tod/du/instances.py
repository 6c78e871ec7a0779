"""Training instances (opendu's converters) and the views of an item that training and inference share.

An item is a labelled exemplar. Its *views* (:func:`views`) are what the model is asked about: the retrieval
for its utterance (never itself) with the gold owner, and the same retrieval with the owner's skill and
exemplars removed, whose gold answer is "no skill" (opendu's negatives). Every strategy writes instances for
both views, and bench asks about both views, so each inference prompt is a training prompt.

Strategies (``TASKS``):

* ``du-knn``: utterance vs each retrieved exemplar (and vs its own template) and vs each candidate skill's
  description -> ``true``/``false`` (opendu's ``InstanceTrainConverter``);
* ``du-rag``: skills and exemplars most relevant last, one instance per suffix of the exemplar list
  including the empty one -> ``["owner"]``, and the same for the negative view -> ``[]``
  (``RagSkillConverter``);
* ``du-binary``: per candidate skill, without examples and, for skills among the exemplars' owners, with
  the first 2 retrieved exemplars labelled -> ``true``/``false`` (``OneSkillTrainConverter``);
* ``du-slots-one``: per slot of the owner, the value or ``null`` (``OneSlotExtractConverter``);
* ``du-slots-all``: all slots of the owner as one JSON object.

Instances of one item are deduplicated by prompt (the negative view repeats some positive prompts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spec_tod.du import prompts
from spec_tod.du.exemplars import AnnotatedExemplar, Skill
from spec_tod.du.index import Retrieval, Retriever
from spec_tod.du.tasks import TASKS as TASKS  # re-exported: the strategies' names live in a light module
from spec_tod.du.tasks import DuTask as DuTask


@dataclass(frozen=True)
class Instance:
    kind: str
    """knn, desc, rag, binary, slot or slots."""
    prompt: str
    answer: str


@dataclass(frozen=True)
class View:
    retrieval: Retrieval
    gold: str | None
    """The owner, or ``None`` in the negative view."""


def without_owner(retrieval: Retrieval, owner: str) -> Retrieval:
    """The retrieval with the owner's skill and exemplars removed."""
    return Retrieval(
        [skill for skill in retrieval.skills if skill.name != owner],
        [hit for hit in retrieval.exemplars if hit.exemplar.owner != owner],
    )


def views(item: AnnotatedExemplar, retriever: Retriever) -> tuple[View, View]:
    retrieval = retriever(item.utterance, exclude=item.id)
    return View(retrieval, item.owner), View(without_owner(retrieval, item.owner), None)


def knn_instances(utterance: str, view: View) -> list[Instance]:
    """The pairs of one view, in the order inference votes on them (exemplars, then descriptions)."""
    found = [
        Instance(
            "knn",
            prompts.knn_prompt(utterance, hit.exemplar.template),
            prompts.boolean(hit.exemplar.owner == view.gold),
        )
        for hit in view.retrieval.exemplars
    ]
    found += [
        Instance("desc", prompts.desc_prompt(utterance, skill), prompts.boolean(skill.name == view.gold))
        for skill in view.retrieval.skills
    ]
    return found


def rag_instances(utterance: str, view: View) -> list[Instance]:
    """One instance per suffix of the exemplars, most relevant last; the first is what inference asks."""
    skills = view.retrieval.skills[::-1]
    exemplars = [hit.exemplar for hit in view.retrieval.exemplars][::-1]
    # A prompt can only name a listed skill: when retrieval missed the owner, "no skill" is the answer to teach.
    answer = prompts.rag_answer(view.gold if any(skill.name == view.gold for skill in skills) else None)
    return [
        Instance("rag", prompts.rag_prompt(utterance, skills, exemplars[i:]), answer) for i in range(len(exemplars) + 1)
    ]


def binary_instances(utterance: str, view: View, *, with_plain: bool = True) -> list[Instance]:
    """Per skill: the prompt inference asks (with examples when the skill owns a retrieved exemplar), and
    in training also the plain one."""
    exemplars = [hit.exemplar for hit in view.retrieval.exemplars]
    exampled = {e.owner for e in exemplars}
    found = []
    for skill in view.retrieval.skills:
        answer = prompts.boolean(skill.name == view.gold)
        if skill.name in exampled:
            examples = prompts.binary_examples(exemplars, skill.name)
            found.append(Instance("binary", prompts.binary_prompt(utterance, skill, examples), answer))
            if with_plain:
                found.append(Instance("binary", prompts.binary_prompt(utterance, skill, []), answer))
        else:
            found.append(Instance("binary", prompts.binary_prompt(utterance, skill, []), answer))
    return found


def slot_instances(item: AnnotatedExemplar, skill: Skill) -> list[Instance]:
    return [
        Instance("slot", prompts.slot_prompt(item.utterance, slot), prompts.slot_answer(item.arguments.get(slot.name)))
        for slot in skill.extractive_slots
    ]


def slots_instances(item: AnnotatedExemplar, skill: Skill) -> list[Instance]:
    if not skill.extractive_slots:
        return []
    return [Instance("slots", prompts.slots_prompt(item.utterance, skill), prompts.slots_answer(skill, item.arguments))]


def item_instances(task: DuTask, item: AnnotatedExemplar, retriever: Retriever) -> list[Instance]:
    """Every instance of ``task`` for one item, deduplicated by prompt, in a fixed order."""
    found: list[Instance] = []
    if task in ("du-slots-one", "du-slots-all"):
        skill = retriever.skills.get(item.owner)
        if skill is not None:
            found = slot_instances(item, skill) if task == "du-slots-one" else slots_instances(item, skill)
    else:
        for view in views(item, retriever):
            if task == "du-knn":
                found += knn_instances(item.utterance, view)
            elif task == "du-rag":
                found += rag_instances(item.utterance, view)
            else:
                found += binary_instances(item.utterance, view)
        if task == "du-knn":
            # opendu pairs each utterance with its own template too (always true).
            found.insert(0, Instance("knn", prompts.knn_prompt(item.utterance, item.template), prompts.TRUE))
    return _unique(found)


def _unique(instances: Iterable[Instance]) -> list[Instance]:
    seen: dict[str, Instance] = {}
    for instance in instances:
        seen.setdefault(instance.prompt, instance)
    return list(seen.values())


@dataclass(frozen=True)
class EmbeddingPair:
    query: str
    positive: str
    negative: str


def embedding_pairs(items: Sequence[AnnotatedExemplar], retriever: Retriever, depth: int = 16) -> list[EmbeddingPair]:
    """For the retriever's own training: per item, the best-ranked same-owner exemplar's template (else the
    owner's description) as positive and the best-ranked exemplar of another owner as hard negative."""
    pairs = []
    for item in items:
        ranked = retriever.ranked_exemplars(item.utterance, depth, exclude=item.id)
        positive = next((h.exemplar.template for h in ranked if h.exemplar.owner == item.owner), None)
        if positive is None and item.owner in retriever.skills:
            positive = retriever.skills[item.owner].description
        negative = next((h.exemplar.template for h in ranked if h.exemplar.owner != item.owner), None)
        if positive is not None and negative is not None:
            pairs.append(EmbeddingPair(item.utterance, positive, negative))
    return pairs
