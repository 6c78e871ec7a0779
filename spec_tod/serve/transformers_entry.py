"""``transformers serve``, with its model list completed by the model it is pinned to.

transformers 5.16's ``serve`` answers ``GET /v1/models`` from ``ModelManager.get_gen_models()``, a
scan of the Hugging Face hub cache for generative models (``cli/serving/model_manager.py``),
whatever model the server is pinned to (its positional ``FORCE_MODEL``). A model served from a
local folder, which is how spec-tod serves a merged fine-tune, is therefore never listed, and a
client that discovers the model through ``/v1/models`` (as OpenAI clients and vLLM's
``bench serve`` do) finds none; no flag of ``serve`` changes this. spec-tod starts the server
through this module instead of the ``transformers`` script: it puts the pinned model first in the
list, under the exact name the server accepts in the ``model`` field (the argument as given, see
``cli/serving/utils.py``: any other name is refused), then runs transformers' own command line
unchanged. A cache that cannot be scanned leaves the pinned model alone in the list, not a 500.

Run as ``python -m spec_tod.serve.transformers_entry serve MODEL [options]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any


def pinned_model(args: Sequence[str]) -> str | None:
    """The FORCE_MODEL of ``serve MODEL [options]`` (spec-tod always puts it first), if any."""
    if len(args) >= 2 and args[0] == "serve" and not args[1].startswith("-"):
        return args[1]
    return None


def list_pinned_first(pinned: str) -> None:
    """Make ``/v1/models`` list ``pinned`` first, then what the cache scan finds."""
    from transformers.cli.serving.model_manager import ModelManager

    scan = ModelManager.get_gen_models
    created = int(time.time())

    def listed(cache_dir: str | None = None) -> list[dict[str, Any]]:
        try:
            found = [entry for entry in scan(cache_dir) if entry.get("id") != pinned]
        except Exception:  # the cache scan is a courtesy; the pinned model is listed whatever it finds
            found = []
        return [{"id": pinned, "object": "model", "created": created, "owned_by": "spec-tod"}, *found]

    ModelManager.get_gen_models = staticmethod(listed)  # type: ignore[method-assign,assignment]


def main() -> None:
    args = sys.argv[1:]
    pinned = pinned_model(args)
    if pinned is not None:
        list_pinned_first(pinned)
    from transformers.cli.transformers import main as transformers_main

    sys.argv = ["transformers", *args]
    transformers_main()


if __name__ == "__main__":
    main()
