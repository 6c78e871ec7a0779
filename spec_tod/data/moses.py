"""sacremoses' English tokenizer and detokenizer, the canonical spacing of the evaluator's responses.

Imported only when a response is normalised: sacremoses (with joblib) takes half a second to import,
which readers and the venue database do not need.
"""

from __future__ import annotations

from sacremoses import MosesDetokenizer, MosesTokenizer


class _FastMosesTokenizer(MosesTokenizer):
    """sacremoses' tokenizer with its two character-class tests made fast.

    ``islower``/``isanyalpha`` rebuild a set of every Unicode letter on each call, which is half of
    the tokenizer's time; these overrides make the same test against sets built once.
    """

    def __init__(self) -> None:
        super().__init__(lang="en")
        self._lower = frozenset(self.IsLower)
        self._alpha = frozenset(self.IsAlpha)

    def islower(self, text: str) -> bool:
        return not set(text).difference(self._lower)

    def isanyalpha(self, text: str) -> bool:
        return bool(set(text).intersection(self._alpha))


_TOKENIZER = _FastMosesTokenizer()
_DETOKENIZER = MosesDetokenizer(lang="en")


def retokenize(text: str) -> str:
    """Moses tokenise (default escaping) and detokenise (default unescaping), English."""
    return _DETOKENIZER.detokenize(_TOKENIZER.tokenize(text))
