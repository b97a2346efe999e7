"""The versioned-records protocol of ``connectors/state_store.py`` on an in-memory table:
a reader never sees a mix of two writes, nor a half-written one."""

from __future__ import annotations

import pytest

from vecbridge.connectors import state_store
from vecbridge.connectors.state_store import StateRecord
from vecbridge.schemas import ConnectorError


class Table:
    """In-memory ``StateRecords``; ``hooks`` run before the named call (to interleave another writer)."""

    def __init__(self) -> None:
        self.rows: dict[str, StateRecord] = {}
        self.hooks: dict[str, list] = {}

    def _hook(self, name: str) -> None:
        for hook in self.hooks.pop(name, []):
            hook()

    def insert(self, records):
        self._hook("insert")
        for r in records:
            assert r.key not in self.rows  # records are only ever inserted, never overwritten
            self.rows[r.key] = r

    def pointers(self, collection):
        return [r for r in self.rows.values() if r.collection == collection and r.part == -1]

    def get(self, keys):
        self._hook("get")
        return {k: self.rows[k] for k in keys if k in self.rows}

    def delete_versions(self, collection, versions):
        self.rows = {k: r for k, r in self.rows.items() if not (r.collection == collection and r.version in versions)}

    def delete_collection(self, collection):
        self.rows = {k: r for k, r in self.rows.items() if r.collection != collection}


def write(table: Table, state: dict, part_chars: int = 7) -> None:
    state_store.write_state(table, "c", state, part_chars)


OLD = {"terms": [f"old{i}" for i in range(50)]}
NEW = {"terms": [f"new{i}" for i in range(60)]}


def test_round_trip_in_many_parts_and_overwrite_leaves_one_version():
    table = Table()
    write(table, OLD)
    assert len(table.rows) > 10 and state_store.read_state(table, "c") == OLD
    write(table, NEW)
    assert state_store.read_state(table, "c") == NEW
    (pointer,) = table.pointers("c")
    assert {r.version for r in table.rows.values()} == {pointer.version}  # the old version's records are gone


def test_a_write_that_dies_before_its_pointer_leaves_the_old_state_readable():
    table = Table()
    write(table, OLD)
    original_insert = table.insert

    def die_on_pointer(records):
        if records[0].part == -1:
            raise ConnectionError("store went away")
        original_insert(records)

    table.insert = die_on_pointer
    with pytest.raises(ConnectionError):
        write(table, NEW)
    assert state_store.read_state(table, "c") == OLD


def test_a_reader_overtaken_by_a_writer_reads_again_and_gets_the_new_state():
    table = Table()
    write(table, OLD)
    table.hooks["get"] = [lambda: write(table, NEW)]  # between the reader's pointer and its parts
    assert state_store.read_state(table, "c") == NEW


def test_the_newest_pointer_wins_while_both_exist():
    table = Table()
    write(table, OLD)
    original_delete = table.delete_versions
    table.delete_versions = lambda collection, versions: None  # the writer has not cleaned up yet
    write(table, NEW)
    assert len(table.pointers("c")) == 2 and state_store.read_state(table, "c") == NEW
    table.delete_versions = original_delete


def test_corrupt_parts_fail_the_checksum():
    table = Table()
    write(table, OLD)
    key = next(k for k, r in table.rows.items() if r.part == 1)
    table.rows[key] = StateRecord(key, "c", table.rows[key].version, 1, "A" * len(table.rows[key].data))
    with pytest.raises(ConnectorError, match="checksum"):
        state_store.read_state(table, "c")


def test_collections_are_independent_and_drop_removes_one():
    table = Table()
    write(table, OLD)
    state_store.write_state(table, "d", NEW, 7)
    state_store.drop_state(table, "c")
    assert state_store.read_state(table, "c") is None and state_store.read_state(table, "d") == NEW
