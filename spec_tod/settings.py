"""Where spec-tod finds things unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "SPEC_TOD_DATA_DIR"


def default_data_dir() -> Path:
    """The shared data folder: ``$SPEC_TOD_DATA_DIR``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT.parent / "shared" / "data")


STATE_DIR_ENV = "SPEC_TOD_HOME"


def state_dir() -> Path:
    """spec-tod's own state (started servers, their logs, downloaded data): ``$SPEC_TOD_HOME``, else ``~/.cache/spec-tod``."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.home() / ".cache" / "spec-tod")
