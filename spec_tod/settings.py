"""Where spec-tod finds things unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path

# The folder above the package: a source checkout's root, or site-packages for an installed wheel
# (which has no .git, so provenance records no revision for it).
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "SPEC_TOD_DATA_DIR"
STATE_DIR_ENV = "SPEC_TOD_HOME"
DEFAULT_DATA_DIR_HELP = (
    "$SPEC_TOD_DATA_DIR, else ../shared/data beside a source checkout, else $SPEC_TOD_HOME/data "
    "(~/.cache/spec-tod/data, filled by `spec-tod quickstart`)"
)


def state_dir() -> Path:
    """spec-tod's own state (started servers, their logs, downloaded data): ``$SPEC_TOD_HOME``, else ``~/.cache/spec-tod``."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.home() / ".cache" / "spec-tod")


def default_data_dir() -> Path:
    """The data folder when none is given (docs/install.md, "The data folder").

    ``$SPEC_TOD_DATA_DIR``; else ``../shared/data`` beside a source checkout, when that folder exists;
    else ``state_dir()/data``, the folder ``spec-tod quickstart`` downloads the MultiWOZ files into.
    """
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    shared = _source_checkout_shared_data()
    if shared is not None:
        return shared
    return state_dir() / "data"


def _source_checkout_shared_data() -> Path | None:
    # Only a package imported from a checkout (pyproject.toml beside it) has a "beside the
    # repository"; an installed package lives in site-packages and never looks outside it.
    checkout = REPO_ROOT
    shared = checkout.parent / "shared" / "data"
    return shared if (checkout / "pyproject.toml").is_file() and shared.is_dir() else None
