"""The Cambridge venue database and the standardized evaluator's query over it.

Loading and querying follow docs/evaluation.md, section 4: only restaurant, attraction, hotel and
train have a table; one value correction (attraction ``68``), ignored columns and column renames come
from ``database_tables.json``. A query keeps the records that pass every constraint: unknown (``?``)
record values always pass, ``arrive``/``leave`` compare minutes, name-like columns use fuzzywuzzy's
``partial_ratio`` (>= 90), everything else exact equality.

Queries are answered from per-(column, value) bitmasks over the records, each computed once, and
whole query results are cached, so repeated queries during scoring cost a dictionary lookup.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spec_tod.data.fuzzy import partial_ratio_reaches
from spec_tod.data.mwz_tables import load_table
from spec_tod.data.normalize import normalise_slot_name, normalise_slot_value, time_to_minutes
from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json

_TABLES = load_table("database_tables")
DB_DOMAINS: tuple[str, ...] = tuple(_TABLES["domains_with_database"])
_IGNORED_COLUMNS: dict[str, list[str]] = _TABLES["ignored_columns"]
_COLUMN_RENAMES: dict[str, str] = _TABLES["column_name_normalisation"]["renames"]
_FUZZY_COLUMNS = {domain: frozenset(columns) for domain, columns in _TABLES["fuzzy_columns"].items()}
_FUZZY_THRESHOLD: int = _TABLES["fuzzy_reject_below"]
_TIME_COLUMNS = frozenset(_TABLES["time_columns"])
_IGNORED_VALUES = frozenset(_TABLES["ignored_constraint_values"])
_UNKNOWN = _TABLES["unknown_database_value"]
_RESULT_ID: dict[str, str] = _TABLES["result_identifier"]


def _normalise_column(name: str) -> str:
    if name == "id":
        return name
    name = name.lower().replace(" ", "")
    return _COLUMN_RENAMES.get(name, name)


class _Column:
    """One column's records as bitmasks (bit ``i`` = record ``i``), so a constraint costs a few lookups."""

    def __init__(self, cells: list[Any], *, fuzzy: bool, time: bool) -> None:
        self.fuzzy = fuzzy
        self.unknown = 0
        """Records whose value is unknown (``?``): they pass every constraint."""
        self.by_value: dict[str, int] = {}
        for position, cell in enumerate(cells):
            if cell == _UNKNOWN:
                self.unknown |= 1 << position
            elif isinstance(cell, str):
                self.by_value[cell] = self.by_value.get(cell, 0) | 1 << position
        self.minutes: list[int] = []
        self.up_to: list[int] = []
        """``up_to[i]``: records at or before ``minutes[i]``; ``from_on[i]``: at or after it."""
        self.from_on: list[int] = []
        if time:
            by_minutes: dict[int, int] = {}
            for cell, mask in self.by_value.items():
                minutes = time_to_minutes(cell)
                by_minutes[minutes] = by_minutes.get(minutes, 0) | mask
            self.minutes = sorted(by_minutes)
            running = 0
            for minutes in self.minutes:
                running |= by_minutes[minutes]
                self.up_to.append(running)
            running = 0
            for minutes in reversed(self.minutes):
                running |= by_minutes[minutes]
                self.from_on.append(running)
            self.from_on.reverse()

    def passing(self, column: str, value: Any) -> int:
        """Records passing the constraint ``column = value`` (value already normalised; minutes for times)."""
        if column == "arrive":
            index = bisect_right(self.minutes, value)
            return self.unknown | (self.up_to[index - 1] if index else 0)
        if column == "leave":
            index = bisect_left(self.minutes, value)
            return self.unknown | (self.from_on[index] if index < len(self.minutes) else 0)
        if self.fuzzy:
            mask = self.unknown
            for cell, cell_mask in self.by_value.items():
                if partial_ratio_reaches(cell, value, _FUZZY_THRESHOLD):
                    mask |= cell_mask
            return mask
        return self.unknown | self.by_value.get(value, 0)


@dataclass
class _Table:
    """One domain's records: raw (for :meth:`VenueDatabase.entity`) and indexed by column."""

    raw: list[dict[str, Any]]
    ids: list[str]
    columns: dict[str, _Column]
    index_of_id: dict[str, int]
    masks: dict[tuple[str, Any], int] = field(default_factory=dict)
    """``(column, query value) -> bitmask`` of the records passing that constraint."""

    def mask(self, column: str, value: Any) -> int:
        key = (column, value)
        mask = self.masks.get(key)
        if mask is None:
            mask = self.masks[key] = self.columns[column].passing(column, value)
        return mask


@dataclass
class VenueDatabase:
    """The four venue tables the evaluator queries; build with :meth:`load`."""

    tables: dict[str, _Table]
    _masks: dict[tuple[str, frozenset], int] = field(default_factory=dict, repr=False)
    """Per query (domain, normalised constraints), the bitmask of the matching records."""
    _ids: dict[tuple[str, frozenset], list[str]] = field(default_factory=dict, repr=False)
    """Per query, the matching ids in file order (built only for :meth:`query`)."""

    @classmethod
    def load(cls, db_dir: Path) -> VenueDatabase:
        """Read ``<db_dir>/<domain>_db.json`` for restaurant, attraction, hotel and train."""
        db_dir = Path(db_dir)
        corrections = _TABLES["value_corrections"]
        tables: dict[str, _Table] = {}
        for domain in DB_DOMAINS:
            path = db_dir / f"{domain}_db.json"
            try:
                raw = loads_json(path.read_bytes())
            except (OSError, ValueError) as error:
                raise SpecTodError(
                    f"{path}: cannot read the {domain} venue table ({error}); pass the multiwoz_db folder of the shared data"
                ) from error
            if not isinstance(raw, list) or not raw or not all(isinstance(record, dict) for record in raw):
                raise SpecTodError(f"{path}: expected a non-empty JSON list of venue records")
            for fix in corrections:
                if Path(fix["file"]).name == path.name:
                    for record in raw:
                        if record.get("id") == fix["id"] and record.get(fix["column"]) == fix["from"]:
                            record[fix["column"]] = fix["to"]
            ignored = set(_IGNORED_COLUMNS.get(domain, ()))
            rows = [{_normalise_column(k): v for k, v in record.items() if k not in ignored} for record in raw]
            id_column = _RESULT_ID[domain]
            ids = [str(row.get(id_column, "")) for row in rows]
            fuzzy = _FUZZY_COLUMNS.get(domain, frozenset())
            tables[domain] = _Table(
                raw=raw,
                ids=ids,
                columns={
                    # A column is queryable when the first record has it (as in the evaluator);
                    # a record without it counts as unknown.
                    column: _Column(
                        [row.get(column, _UNKNOWN) for row in rows],
                        fuzzy=column in fuzzy,
                        time=column in _TIME_COLUMNS,
                    )
                    for column in rows[0]
                },
                index_of_id={venue_id: position for position, venue_id in reversed(list(enumerate(ids)))},
            )
        return cls(tables)

    def has_table(self, domain: str) -> bool:
        """Whether ``domain`` has a venue table (restaurant, attraction, hotel, train)."""
        return domain in self.tables

    def query(self, domain: str, constraints: Mapping[str, str]) -> list[str]:
        """Ids (``trainid`` for trains) of the records matching ``constraints``, in file order.

        Slot names may use any spelling that normalises to a column (``arriveBy``, ``leave at``,
        ``pricerange``); other slots and don't-care values are ignored. A domain without a table
        gives ``[]``.
        """
        table = self.tables.get(domain)
        if table is None:
            return []
        key = self._key(domain, constraints)
        ids = self._ids.get(key)
        if ids is None:
            ids = self._ids[key] = self._ids_of(table, self._selected(table, key))
        return list(ids)

    def count(self, domain: str, constraints: Mapping[str, str]) -> int:
        """``len(self.query(domain, constraints))``: the matching records counted from their bitmask,
        without listing their ids (an end-to-end observation wants only the count)."""
        table = self.tables.get(domain)
        if table is None:
            return 0
        return self._selected(table, self._key(domain, constraints)).bit_count()

    @staticmethod
    def _key(domain: str, constraints: Mapping[str, str]) -> tuple[str, frozenset]:
        # Normalised names first, so that of two spellings of one slot the later wins, as in the evaluator.
        by_column = {normalise_slot_name(slot): value for slot, value in constraints.items()}
        return domain, frozenset(by_column.items())

    def _selected(self, table: _Table, key: tuple[str, frozenset]) -> int:
        selected = self._masks.get(key)
        if selected is None:
            selected = self._masks[key] = self._run(table, dict(key[1]))
        return selected

    def entity(self, domain: str, venue_id: str) -> dict[str, Any]:
        """The record (all columns, as in the file) with id (or train id) ``venue_id``."""
        table = self.tables.get(domain)
        if table is None or venue_id not in table.index_of_id:
            raise KeyError(f"no {domain} venue with id {venue_id!r}")
        return table.raw[table.index_of_id[venue_id]]

    @staticmethod
    def _run(table: _Table, by_column: dict[str, str]) -> int:
        """The bitmask of the records (bit i: record i) passing every constraint."""
        selected = (1 << len(table.ids)) - 1
        for column, value in by_column.items():
            if column not in table.columns or value in _IGNORED_VALUES:
                continue
            wanted: Any = normalise_slot_value(column, value)
            if column in _TIME_COLUMNS:
                wanted = time_to_minutes(wanted)
            selected &= table.mask(column, wanted)
            if not selected:
                return 0
        return selected

    @staticmethod
    def _ids_of(table: _Table, selected: int) -> list[str]:
        ids = []
        while selected:
            lowest = selected & -selected
            ids.append(table.ids[lowest.bit_length() - 1])
            selected ^= lowest
        return ids
