"""Standardized MultiWOZ scoring (Nekvinda & Dušek, 2021), computed by the project's own code.

``score_predictions(predictions, dialogues)`` gives BLEU, Inform, Success (per domain and total),
Combined, lexical richness and, for inputs with states, DST scores, exactly as the reference
evaluator does (docs/evaluation.md). ``load_predictions(path)`` reads the interchange format or
a ``spec-tod bench`` run directory; :class:`Scorer` scores several prediction sets against one split.
"""

from spec_tod.score.evaluate import Scorer, score_predictions
from spec_tod.score.predictions import load_predictions
from spec_tod.score.result import ScoreResult

__all__ = ["ScoreResult", "Scorer", "load_predictions", "score_predictions"]
