"""The evaluator's fuzzy string match: fuzzywuzzy's ``partial_ratio``, memoised.

The standardized evaluator's Inform rate and DST scores depend on this exact algorithm
(docs: evaluation.md, section 4): ``rapidfuzz`` searches all alignments and gives different
numbers, so fuzzywuzzy (with python-Levenshtein) is used as is. Scoring asks the same few
thousand pairs over and over, hence the cache.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

with warnings.catch_warnings():
    # fuzzywuzzy warns when python-Levenshtein is missing; it is a declared dependency.
    warnings.simplefilter("ignore")
    from fuzzywuzzy import fuzz


@lru_cache(maxsize=1 << 18)
def partial_ratio(first: str, second: str) -> int:
    """fuzzywuzzy 0.18 ``fuzz.partial_ratio(first, second)`` (0-100; argument order matters on ties)."""
    return fuzz.partial_ratio(first, second)
