"""Showing a :class:`ScoreResult`: rich tables of the published metrics, and failing dialogues.

When only part of the reference split was scored (``--subset``), every number gets its coverage
beside it, so a figure over 999 dialogues is never mistaken for one over 1000.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from spec_tod.score.result import DialogueDetail, ScoreResult

_DOMAIN_ORDER = ("attraction", "hotel", "restaurant", "taxi", "train", "hospital", "police")


def render(result: ScoreResult, console: Console, *, show_failures: int = 0) -> None:
    """Print the score tables (and the first ``show_failures`` failing dialogues)."""
    coverage = result.coverage
    overall = coverage.label() if coverage.subset else None
    title_note = f" - {coverage.label()}" if coverage.subset else ""

    main = _table("MultiWOZ end-to-end scores", overall is not None)
    _row(main, "BLEU", f"{result.bleu:.2f}", overall)
    _row(main, "Inform", f"{result.inform:.1f}", overall)
    _row(main, "Success", f"{result.success:.1f}", overall)
    _row(main, "Combined", f"{result.combined:.2f}", overall)
    main.caption = f"Inform/Success with {result.states} states and {result.active_domains} active domains"
    console.print(main)

    domains = Table(title=f"Inform and Success per domain{title_note}")
    domains.add_column("domain")
    domains.add_column("Inform", justify="right")
    domains.add_column("Success", justify="right")
    domains.add_column("dialogues", justify="right")
    for domain in sorted(result.inform_by_domain, key=_domain_key):
        scored = result.dialogues_by_domain.get(domain, 0)
        total = coverage.total_dialogues_by_domain.get(domain, scored)
        domains.add_row(
            domain,
            f"{result.inform_by_domain[domain]:.1f}",
            f"{result.success_by_domain.get(domain, 0.0):.1f}",
            f"{scored}/{total}" if coverage.subset else str(scored),
        )
    console.print(domains)

    richness = result.richness
    lexical = _table("Lexical richness", overall is not None)
    for name, value in (
        ("Av. len.", f"{richness.avg_length:.2f}"),
        ("Entropy", f"{richness.entropy:.2f}"),
        ("CBE (cond. bigram entropy)", f"{richness.cond_entropy:.2f}"),
        ("MSTTR-50", f"{richness.msttr:.3f}"),
        ("#uniq. words", str(richness.num_unigrams)),
        ("#uniq. bigrams", str(richness.num_bigrams)),
        ("#uniq. 3-grams", str(richness.num_trigrams)),
    ):
        _row(lexical, name, value, overall)
    console.print(lexical)

    if result.dst is None:
        console.print("DST: not scored (some turns carry no predicted state)")
    else:
        dst = result.dst
        tracking = _table("Dialogue state tracking", overall is not None)
        _row(tracking, "Joint goal accuracy", f"{dst.joint_accuracy:.2f}", overall)
        _row(tracking, "Slot precision", f"{dst.slot_precision:.2f}", overall)
        _row(tracking, "Slot recall", f"{dst.slot_recall:.2f}", overall)
        _row(tracking, "Slot F1", f"{dst.slot_f1:.2f}", overall)
        for domain in sorted(dst.joint_accuracy_by_domain, key=_domain_key):
            _row(tracking, f"Joint accuracy: {domain}", f"{dst.joint_accuracy_by_domain[domain]:.2f}", overall)
        console.print(tracking)

    if show_failures:
        render_failures(result.details, console, limit=show_failures)


def render_failures(details: list[DialogueDetail], console: Console, *, limit: int) -> None:
    """The first ``limit`` dialogues that failed Inform or Success, with the reasons."""
    failing = [detail for detail in details if detail.reasons]
    table = Table(title=f"Failing dialogues: {min(limit, len(failing))} of {len(failing)}")
    table.add_column("dialogue")
    table.add_column("why", overflow="fold")
    for detail in failing[:limit]:
        table.add_row(detail.id, "\n".join(detail.reasons))
    console.print(table)


def _table(title: str, with_coverage: bool) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if with_coverage:
        table.add_column("coverage")
    return table


def _row(table: Table, name: str, value: str, coverage: str | None) -> None:
    table.add_row(name, value, *([coverage] if coverage is not None else []))


def _domain_key(domain: str) -> tuple[int, str]:
    return (_DOMAIN_ORDER.index(domain) if domain in _DOMAIN_ORDER else len(_DOMAIN_ORDER), domain)
