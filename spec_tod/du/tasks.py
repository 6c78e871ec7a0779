"""The names of the DU strategies (``build-data --task du-...``), apart from :mod:`spec_tod.du.instances`.

``build-data`` checks its ``--task`` values against them; importing the instances module for that
would import retrieval (numpy and the index) into every DST and end-to-end build.
"""

from __future__ import annotations

from typing import Literal

DuTask = Literal["du-knn", "du-rag", "du-binary", "du-slots-one", "du-slots-all"]
TASKS: tuple[DuTask, ...] = ("du-knn", "du-rag", "du-binary", "du-slots-one", "du-slots-all")
