"""The store calls of a batch of searches: requests that ask the same retriever with the same depth,
filter and options share one multi-query store call (Milvus: one search with ``nq`` query vectors)
instead of one call each. Rankings are unchanged: each query gets the hits its own call would return.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from vecbridge.schemas import Filter, Hit

MANY = {"dense": "search_dense_many", "sparse": "search_sparse_many"}
"""The connector's optional multi-query method per retriever kind (``Connector`` docstring)."""


@dataclass(frozen=True)
class StoreCall:
    """What a retriever's first store call of one request asks; requests with equal calls share one."""

    retriever: str
    kind: str
    k: int
    filter: Optional[str]  # the validated filter as JSON (None: no filter)
    ef: Optional[int]
    content: bool


def filter_key(filter_: Optional[Filter]) -> Optional[str]:
    """A hashable, order-stable form of a validated filter."""
    return None if filter_ is None else filter_.model_dump_json()


def plan(calls: Sequence[tuple[int, StoreCall]]) -> dict[StoreCall, list[int]]:
    """(request row, call) pairs grouped by call, rows in their given order; calls of one row only
    are left out (they run as single searches)."""
    groups: dict[StoreCall, list[int]] = defaultdict(list)
    for row, call in calls:
        groups[call].append(row)
    return {call: rows for call, rows in groups.items() if len(rows) > 1}


def supports_many(connector: Any, kind: str) -> bool:
    """Whether ``connector`` has the multi-query search for retrievers of ``kind``."""
    return kind in MANY and callable(getattr(connector, MANY[kind], None))


def search_many(
    connector: Any,
    collection: str,
    call: StoreCall,
    vectors: Sequence[Any],
    filter_: Optional[Filter],
    field: str,
) -> list[list[Hit]]:
    """One multi-query store call for ``call``: each vector's hits, in order."""
    extra: dict[str, Any] = {} if call.content else {"content": False}
    if call.kind == "dense":
        if call.ef is not None:
            extra["ef"] = call.ef
        return connector.search_dense_many(collection, vectors, call.k, filter_, **extra)
    return connector.search_sparse_many(collection, vectors, call.k, filter_, field=field, **extra)
