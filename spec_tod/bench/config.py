"""The configuration of a bench run: everything that decides its outputs, stored as ``<run_dir>/config.json``.

Rerunning a command against an existing run directory continues that run, so the new command
must describe the same run. :func:`open_run_dir` compares the new configuration with the stored
one field by field and raises a ``SpecTodError`` listing every difference rather than mixing
outputs of two configurations.

What is part of the configuration (compared): dataset, split, mode, the number of dialogues
(``--limit-dialogues``), a fingerprint of the selected dialogues' content, a fingerprint of the chat
template (its source, special tokens and stop strings), the served model name,
the seed, the generation parameters of both call kinds and the shard count (it decides which file
holds which dialogue).

What is not (may change between resumes and across machines): the endpoints, the protocol,
``--concurrency``, timeouts and retries, ``--shard`` (several machines run different shards of one
configuration), and the paths of the data and model folders: moving the data or running a shard
on another machine is fine as long as the content fingerprints agree.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spec_tod.bench.rundir_lock import LOCK_FILE
from spec_tod.data.dialogue import Dialogue
from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_json

CONFIG_FILE = "config.json"
CONFIG_VERSION = 1


class CallSettings(BaseModel):
    """Generation parameters of one call kind (greedy decoding by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(gt=0)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, gt=0)
    repetition_penalty: float | None = Field(default=None, gt=0.0)


class RunConfig(BaseModel):
    """Everything that decides a run's outputs; see the module docstring for what is left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = CONFIG_VERSION
    dataset: str
    split: str
    mode: Literal["e2e", "dst", "response"]
    limit_dialogues: int | None = Field(default=None, gt=0)
    dialogue_count: int
    dialogues_sha256: str
    template: str
    """``model-dir`` (the served model's own template) or a named template (``llama3``)."""
    template_sha256: str
    served_model: str | None = None
    seed: int = 0
    dst: CallSettings
    response: CallSettings
    shards: int = Field(default=1, gt=0)


def dialogues_fingerprint(dialogues: list[Dialogue]) -> str:
    """SHA-256 over the ids, utterances, gold states and domains of ``dialogues``, in order."""
    digest = hashlib.sha256()
    for dialogue in dialogues:
        turns = [
            [turn.user, turn.system, turn.system_delex, turn.belief_state, turn.turn_domain] for turn in dialogue.turns
        ]
        digest.update(json.dumps([dialogue.id, turns], sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def text_fingerprint(*parts: str) -> str:
    """SHA-256 of ``parts`` (length-prefixed, so that the split between parts counts)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def config_differences(stored: RunConfig, wanted: RunConfig) -> list[str]:
    """``field: stored -> wanted`` for every field that differs (nested fields by dotted name)."""
    differences: list[str] = []

    def walk(prefix: str, old: object, new: object) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for name in dict.fromkeys([*old, *new]):
                walk(f"{prefix}{name}.", old.get(name), new.get(name))
        elif old != new:
            differences.append(f"{prefix.rstrip('.')}: {old!r} -> {new!r}")

    walk("", stored.model_dump(mode="json"), wanted.model_dump(mode="json"))
    return differences


def read_config(run_dir: Path) -> RunConfig:
    """The configuration stored in ``run_dir``."""
    path = run_dir / CONFIG_FILE
    try:
        return RunConfig.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise SpecTodError(f"{run_dir}: not a bench run directory (no {CONFIG_FILE}); pass the --run-dir of a run") from None
    except ValidationError as error:
        raise SpecTodError(
            f"{path}: not a bench configuration ({error.errors()[0]['loc']}: {error.errors()[0]['msg']}); "
            "was it written by another version? Use a new --run-dir"
        ) from None


def check_new_run_dir(run_dir: Path) -> None:
    """Raise unless ``run_dir`` is a run directory, a new or empty folder, or a new path (checked before any work)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise SpecTodError(f"{run_dir}: is a file, not a folder; pass a new or empty --run-dir")
    if (run_dir / CONFIG_FILE).is_file() or not run_dir.is_dir():
        return
    # the lock file is created before the configuration
    if any(entry.name != LOCK_FILE for entry in run_dir.iterdir()):
        raise SpecTodError(
            f"{run_dir}: the folder exists, is not empty and has no {CONFIG_FILE}; pass a new or empty --run-dir"
        )


def open_run_dir(run_dir: Path, wanted: RunConfig) -> bool:
    """Create ``run_dir`` with ``wanted``, or check that it already holds the same configuration.

    Returns True when the run directory already existed (a resume).
    """
    if not (run_dir / CONFIG_FILE).is_file():
        check_new_run_dir(run_dir)
        write_json(run_dir / CONFIG_FILE, wanted.model_dump(mode="json"))
        return False
    differences = config_differences(read_config(run_dir), wanted)
    if differences:
        raise SpecTodError(
            f"{run_dir / CONFIG_FILE}: this command describes a different run than the one in the folder "
            f"({'; '.join(differences)}); rerun with the stored settings to continue it, or pass a new --run-dir"
        )
    return True
