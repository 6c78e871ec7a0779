"""Where a JSON output came from: tool version, git revision, date, command line, model and a label.

Every JSON document that ``bench``, ``score`` and ``build-data`` write carries one ``provenance``
object made here, so that a result found later says what produced it:

* ``label``: free text from ``--label`` (e.g. ``llama3-8b-lora-r32``), or ``null``;
* ``tool``, ``version``: ``spec-tod`` and its version;
* ``git_revision``: the commit of the checkout spec-tod runs from, ``null`` when it is installed
  from a wheel (no checkout) or git is missing;
* ``date``: UTC, ISO 8601, to the second; ``$SOURCE_DATE_EPOCH`` (the reproducible-builds
  convention) fixes it, so that reruns can write identical bytes;
* ``command``: the command line; values of options whose name says they hold a secret
  (``--*token*``, ``--*key*``, ``--*password*``, ``--*secret*``) are replaced by ``REDACTED``. Keys and
  tokens are read from the environment only, never from flags, but a wrapper may still pass one;
* ``model``: ``id`` (the served model name, or the base model id) and ``dir_sha256``, a SHA-256 over
  the files that decide the model's text interface and architecture (:data:`MODEL_IDENTITY_FILES`,
  by name and content; weights are left out, as hashing gigabytes would cost minutes), with
  ``dir_files`` naming the files hashed; ``null`` when no model is involved.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spec_tod import __version__
from spec_tod.settings import REPO_ROOT

MODEL_IDENTITY_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
)
_SECRET_OPTION = re.compile(r"^--[\w-]*(token|key|password|secret)[\w-]*$", re.IGNORECASE)


def model_dir_hash(model_dir: Path) -> tuple[str, list[str]] | None:
    """SHA-256 over the identity files present in ``model_dir`` (name and bytes of each), and their names;
    ``None`` when the folder has none of them."""
    digest = hashlib.sha256()
    hashed = []
    for name in MODEL_IDENTITY_FILES:
        path = Path(model_dir) / name
        if path.is_file():
            data = path.read_bytes()
            for part in (name.encode(), data):
                digest.update(len(part).to_bytes(8, "big") + part)
            hashed.append(name)
    return (digest.hexdigest(), hashed) if hashed else None


def git_revision(root: Path = REPO_ROOT) -> str | None:
    """The commit checked out at ``root`` when spec-tod runs from a git checkout, else ``None``."""
    if not (root / ".git").exists():
        return None
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = result.stdout.strip()
    return revision if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", revision) else None


def utc_now() -> str:
    """Now (or ``$SOURCE_DATE_EPOCH``) in UTC, ISO 8601 to the second."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
        if epoch.isdigit()
        else datetime.datetime.now(datetime.UTC)
    )
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def command_line(argv: Sequence[str] | None = None) -> str:
    """``argv`` (default: this process's) as one shell line, with secret-looking option values masked."""
    args = list(sys.argv if argv is None else argv)
    if args:
        args[0] = Path(args[0]).name
    masked: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            masked.append("REDACTED")
            hide_next = False
            continue
        name, sep, _ = arg.partition("=")
        if _SECRET_OPTION.match(name):
            if sep:
                masked.append(f"{name}=REDACTED")
            else:
                masked.append(arg)
                hide_next = True
            continue
        masked.append(arg)
    return shlex.join(masked)


def provenance(
    *,
    label: str | None = None,
    model_id: str | None = None,
    model_dir: Path | None = None,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The ``provenance`` object described in the module docstring."""
    model: dict[str, Any] | None = None
    if model_id is not None or model_dir is not None:
        hashed = model_dir_hash(model_dir) if model_dir is not None and Path(model_dir).is_dir() else None
        model = {
            "id": model_id,
            "dir": str(model_dir) if model_dir is not None else None,
            "dir_sha256": hashed[0] if hashed else None,
            "dir_files": hashed[1] if hashed else [],
        }
    return {
        "label": label,
        "tool": "spec-tod",
        "version": __version__,
        "git_revision": git_revision(),
        "date": utc_now(),
        "command": command_line(argv),
        "model": model,
    }
