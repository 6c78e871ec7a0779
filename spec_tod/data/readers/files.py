"""Reading the corpora's JSON files, plain or zipped, with errors that name the file."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json


def read_json(path: Path) -> Any:
    """Parse ``path``; a ``.zip`` must hold exactly one ``.json`` member, which is parsed instead."""
    try:
        if path.suffix == ".zip":
            return _read_zipped(path)
        return loads_json(path.read_bytes())
    except FileNotFoundError:
        raise SpecTodError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecTodError(f"{path}: malformed JSON ({exc}); replace the file with an intact copy") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise SpecTodError(f"{path}: cannot be read ({exc}); replace the file with an intact copy") from None


def _read_zipped(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        members = [name for name in archive.namelist() if name.endswith(".json") and "__MACOSX" not in name]
        if len(members) != 1:
            raise SpecTodError(f"{path}: expected exactly one .json file inside the zip, found {members or 'none'}")
        return loads_json(archive.read(members[0]))


def read_id_list(path: Path) -> list[str]:
    """Dialogue ids of a MultiWOZ list file (one per line, ``.json`` suffix optional)."""
    try:
        lines = path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecTodError(f"{path}: cannot read the dialogue id list ({exc})") from None
    return [strip_json_suffix(line) for line in lines]


def strip_json_suffix(dialogue_id: str) -> str:
    """``SNG0073.json`` -> ``SNG0073``: MultiWOZ ids are used without the file suffix everywhere."""
    return dialogue_id[: -len(".json")] if dialogue_id.endswith(".json") else dialogue_id
