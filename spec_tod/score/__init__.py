"""Standardized MultiWOZ scoring (Nekvinda & Dušek, 2021), computed by the project's own code.

``score_predictions(predictions, dialogues)`` gives BLEU, Inform, Success (per domain and total),
Combined, lexical richness and, for inputs with states, DST scores, exactly as the reference
evaluator does (docs/evaluation.md). ``load_predictions(path)`` reads the interchange format or
a ``spec-tod bench`` run directory; :class:`Scorer` scores several prediction sets against one split.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spec_tod.score.evaluate import Scorer, score_predictions
    from spec_tod.score.predictions import load_predictions
    from spec_tod.score.result import ScoreResult

__all__ = ["ScoreResult", "Scorer", "load_predictions", "score_predictions"]

_HOMES = {
    "Scorer": "spec_tod.score.evaluate",
    "score_predictions": "spec_tod.score.evaluate",
    "load_predictions": "spec_tod.score.predictions",
    "ScoreResult": "spec_tod.score.result",
}


def __getattr__(name: str) -> Any:
    # Imported when first asked for: a bench run imports spec_tod.score.predictions without the scorer, whose
    # modules (70 ms) its prepared worker imports on the other core.
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
