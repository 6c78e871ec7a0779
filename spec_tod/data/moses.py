"""sacremoses' English tokenizer and detokenizer, the canonical spacing of the evaluator's responses.

Imported only when a response is normalised: sacremoses takes a quarter of a second to import (half
a second with the joblib it does not need here), which readers and the venue database do not need.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _without_parallel_helpers() -> Iterator[None]:
    """Import sacremoses without joblib (which imports numpy) and tqdm: about half its import time.

    sacremoses imports them at module level for ``parallelize_preprocess`` only, which spec-tod never
    calls. While sacremoses is imported, stand-ins whose names import the real library when called
    take their place; they are removed right after, so any later ``import joblib`` gets the real one.
    """
    stand_ins = {name: types.ModuleType(name) for name in ("joblib", "tqdm") if name not in sys.modules}
    for name, module in stand_ins.items():
        for attribute in {"joblib": ("Parallel", "delayed"), "tqdm": ("tqdm",)}[name]:
            setattr(module, attribute, _deferred(name, attribute))
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _deferred(module: str, attribute: str):  # noqa: ANN202 (a callable of the library's own signature)
    def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        import importlib

        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    return call


with _without_parallel_helpers():
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
