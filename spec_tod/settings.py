"""Where spec-tod finds things unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "SPEC_TOD_DATA_DIR"


def default_data_dir() -> Path:
    """The shared data folder: ``$SPEC_TOD_DATA_DIR``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT.parent / "shared" / "data")
