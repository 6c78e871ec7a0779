"""The files that ship inside the package: prompt templates, training configs, the evaluator's tables,
synth's example graphs.

They are read through :mod:`importlib.resources`, so an installed wheel finds them exactly as a
source checkout does; nothing is looked up relative to the repository.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

CONFIGS = "configs"
TEMPLATES = "templates"
MWZ_EVAL = "mwz_eval"
SYNTH = "synth"


def resource(folder: str, name: str) -> Traversable:
    """The package file ``spec_tod/resources/<folder>/<name>`` (it may not exist: check ``is_file()``)."""
    return files(__name__).joinpath(folder, name)


def names(folder: str) -> list[str]:
    """The file names in ``spec_tod/resources/<folder>``, sorted."""
    return sorted(item.name for item in files(__name__).joinpath(folder).iterdir() if item.is_file())
