"""The prompt tables: parsed from the package's YAML once, then read from the on-disk cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spec_tod import cache
from spec_tod.resources import TEMPLATES, resource
from spec_tod.tasks.templates import yaml_table


def test_a_table_is_its_yaml_whether_parsed_or_read_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEC_TOD_HOME", str(tmp_path))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    name = "multiwoz_functions.yaml"
    parsed = yaml.safe_load(resource(TEMPLATES, name).read_text(encoding="utf-8"))
    yaml_table.cache_clear()
    try:
        assert yaml_table(name) == parsed  # parsed, and written to the cache
        assert len(list((tmp_path / "cache" / "template-table").glob("*.pickle"))) == 1
        code = (
            "import sys; from spec_tod.tasks.templates import yaml_table; "
            f"print(yaml_table({name!r}) == {parsed!r}, 'yaml' in sys.modules)"
        )
        again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert again.stdout.split() == ["True", "False"]  # another process reads it back without PyYAML
    finally:
        yaml_table.cache_clear()
