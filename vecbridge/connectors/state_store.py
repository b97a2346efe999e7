"""Collection state kept in the store beside the data: the backend-neutral part.

A collection's state is a JSON-able dict (the facade keeps its manifest and BM25 statistics there).
It is written as JSON, zlib-compressed, base64-encoded (ASCII) and cut into parts small enough for
one store record (Milvus: one VARCHAR of at most 65,535 bytes). Each write is a new *version*:

1. the parts, keyed ``<collection>/<version>/<n>`` (``part = n >= 0``);
2. then one pointer record, keyed ``<collection>/<version>`` (``part = -1``), holding the number
   of parts, their SHA-256 and the write time;
3. then the records of the versions whose pointers were there before step 2 are deleted.

Records are only ever inserted, never overwritten, so a reader sees either the old or the new
version, never a mix: it takes the newest pointer and reads that version's parts (if a later
write removed them meanwhile, it reads again). Parts of a write that died before its pointer stay
until the collection is dropped. Two processes writing the first state of one collection at the
same moment are not arbitrated: the later pointer wins.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from vecbridge.schemas import ConfigurationError, ConnectorError

FORMAT = 1
ENCODING = "json+zlib+base64"
POINTER = -1
READ_ATTEMPTS = 3


@dataclass(frozen=True)
class StateRecord:
    """One stored record: a part (``part >= 0``, a slice of the encoded state) or a pointer (``part == -1``)."""

    key: str
    collection: str
    version: str
    part: int
    data: str


class StateRecords(Protocol):
    """What a backend provides to keep state records (one store-wide table / index of them)."""

    def insert(self, records: Sequence[StateRecord]) -> None:
        """Write the records (creating the table on first use), visible to the next read."""
        ...

    def pointers(self, collection: str) -> list[StateRecord]:
        """Every pointer record of ``collection`` (none when the table does not exist)."""
        ...

    def get(self, keys: Sequence[str]) -> dict[str, StateRecord]:
        """The records that exist among ``keys``, by key."""
        ...

    def delete_versions(self, collection: str, versions: Sequence[str]) -> None:
        """Remove every record (pointer and parts) of these versions of ``collection``."""
        ...

    def delete_collection(self, collection: str) -> None:
        """Remove every record of ``collection`` (nothing to do when the table does not exist)."""
        ...


def part_key(collection: str, version: str, part: int) -> str:
    return f"{collection}/{version}/{part}"


def pointer_key(collection: str, version: str) -> str:
    return f"{collection}/{version}"


def encode_state(collection: str, state: dict[str, Any]) -> str:
    """The state as compact JSON, zlib-compressed, base64 (ASCII); names the collection on bad input."""
    if not isinstance(state, dict):
        raise ConfigurationError(f"state of collection {collection!r} must be a dict, got {type(state).__name__}")
    try:
        text = json.dumps(state, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"state of collection {collection!r} is not JSON-serialisable: {exc}") from None
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def decode_state(collection: str, blob: str) -> dict[str, Any]:
    try:
        return json.loads(zlib.decompress(base64.b64decode(blob.encode("ascii"))).decode("utf-8"))
    except (ValueError, zlib.error) as exc:
        raise ConnectorError(f"state of collection {collection!r} is corrupt: {exc}") from exc


def write_state(records: StateRecords, collection: str, state: dict[str, Any], part_chars: int) -> None:
    """Store ``state`` as a new version of ``collection``'s state, then remove the versions it replaces."""
    blob = encode_state(collection, state)
    version = uuid.uuid4().hex
    previous = records.pointers(collection)
    chunks = [blob[i : i + part_chars] for i in range(0, len(blob), part_chars)] or [""]
    records.insert(
        [StateRecord(part_key(collection, version, n), collection, version, n, chunk) for n, chunk in enumerate(chunks)]
    )
    pointer = {
        "format": FORMAT,
        "encoding": ENCODING,
        "parts": len(chunks),
        "chars": len(blob),
        "sha256": hashlib.sha256(blob.encode("ascii")).hexdigest(),
        "written_ns": time.time_ns(),
    }
    records.insert([StateRecord(pointer_key(collection, version), collection, version, POINTER, json.dumps(pointer))])
    stale = sorted({p.version for p in previous} - {version})
    if stale:
        records.delete_versions(collection, stale)


def _newest(pointers: list[StateRecord]) -> tuple[StateRecord, dict[str, Any]]:
    decoded = [(p, json.loads(p.data)) for p in pointers]
    return max(decoded, key=lambda pair: (pair[1]["written_ns"], pair[0].version))


def read_state(records: StateRecords, collection: str) -> Optional[dict[str, Any]]:
    """The newest complete state of ``collection``, or ``None`` when none was written."""
    for _ in range(READ_ATTEMPTS):
        pointers = records.pointers(collection)
        if not pointers:
            return None
        pointer, meta = _newest(pointers)
        if meta.get("format") != FORMAT or meta.get("encoding") != ENCODING:
            raise ConnectorError(
                f"state of collection {collection!r} has format {meta.get('format')!r} / encoding "
                f"{meta.get('encoding')!r}; this version reads format {FORMAT} / {ENCODING}"
            )
        keys = [part_key(collection, pointer.version, n) for n in range(meta["parts"])]
        found = records.get(keys)
        if len(found) < len(keys):
            continue  # a newer write replaced this version while we read it: read again
        blob = "".join(found[k].data for k in keys)
        if hashlib.sha256(blob.encode("ascii")).hexdigest() != meta["sha256"]:
            raise ConnectorError(f"state of collection {collection!r} (version {pointer.version}) fails its checksum")
        return decode_state(collection, blob)
    raise ConnectorError(
        f"state of collection {collection!r}: parts of version {pointer.version} missing after {READ_ATTEMPTS} reads"
    )


def check_collection_name(collection: str, reserved: str) -> None:
    """Refuse the store-wide state table's own name as a collection whose state is kept."""
    if not isinstance(collection, str) or not collection:
        raise ConfigurationError(f"collection name must be a non-empty string, got {collection!r}")
    if collection == reserved:
        raise ConfigurationError(f"collection name {collection!r} is reserved for vecbridge's state records")


def drop_state(records: StateRecords, collection: str) -> None:
    """Remove every state record of ``collection``, its log's too."""
    records.delete_collection(collection)
    records.delete_collection(log_name(collection))


# ---- the log: append-only entries beside the state (BM25 statistic deltas) -------------------
# Each entry is a version written like a state (parts, then a pointer) under the name
# ``<collection>#log``; entries are never replaced, only removed by version. Concurrent writers
# append without coordinating: a reader lists the pointers and reads the entries it lacks.

LOG_SUFFIX = "#log"


def log_name(collection: str) -> str:
    """The name a collection's log entries are kept under (beside its state)."""
    return collection + LOG_SUFFIX


def append_log(records: StateRecords, collection: str, entry: dict[str, Any], part_chars: int) -> str:
    """Append ``entry`` (a JSON-able dict) to ``collection``'s log; returns its version. Visible to
    readers once its pointer is written (the last insert)."""
    name = log_name(collection)
    blob = encode_state(collection, entry)
    version = uuid.uuid4().hex
    chunks = [blob[i : i + part_chars] for i in range(0, len(blob), part_chars)] or [""]
    records.insert([StateRecord(part_key(name, version, n), name, version, n, chunk) for n, chunk in enumerate(chunks)])
    pointer = {
        "format": FORMAT,
        "encoding": ENCODING,
        "parts": len(chunks),
        "chars": len(blob),
        "sha256": hashlib.sha256(blob.encode("ascii")).hexdigest(),
        "written_ns": time.time_ns(),
    }
    records.insert([StateRecord(pointer_key(name, version), name, version, POINTER, json.dumps(pointer))])
    return version


def log_versions(records: StateRecords, collection: str) -> list[str]:
    """The versions of ``collection``'s log entries, oldest first."""
    decoded = [(json.loads(p.data)["written_ns"], p.version) for p in records.pointers(log_name(collection))]
    return [version for _, version in sorted(decoded)]


def read_log(records: StateRecords, collection: str, versions: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The entries of ``versions`` that still exist, by version (a removed one is left out)."""
    name = log_name(collection)
    pointers = records.get([pointer_key(name, v) for v in versions])
    metas = {p.version: json.loads(p.data) for p in pointers.values()}
    keys = [part_key(name, v, n) for v, meta in metas.items() for n in range(meta["parts"])]
    parts = records.get(keys)
    entries: dict[str, dict[str, Any]] = {}
    for version, meta in metas.items():
        wanted = [part_key(name, version, n) for n in range(meta["parts"])]
        if not all(k in parts for k in wanted):
            continue  # removed while we read it
        blob = "".join(parts[k].data for k in wanted)
        if hashlib.sha256(blob.encode("ascii")).hexdigest() != meta["sha256"]:
            raise ConnectorError(f"log entry {version} of collection {collection!r} fails its checksum")
        entries[version] = decode_state(collection, blob)
    return entries


def remove_log(records: StateRecords, collection: str, versions: Sequence[str]) -> None:
    """Remove the log entries of ``versions`` (pointers and parts)."""
    if versions:
        records.delete_versions(log_name(collection), list(versions))
