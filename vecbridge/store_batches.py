"""The store calls of a batch of searches: requests that ask the same retriever with the same depth,
filter and options share one multi-query store call (Milvus: one search with ``nq`` query vectors)
instead of one call each. Rankings are unchanged: each query gets the hits its own call would return.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from vecbridge.schemas import Filter

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


@dataclass(frozen=True)
class SharedCall:
    """One multi-query store call of a batch: ``call`` for the requests at ``rows``, with their
    query ``vectors``; calling it returns what the connector returns (a list, or an awaitable)."""

    connector: Any
    collection: str
    call: StoreCall
    rows: list[int]
    vectors: list[Any]
    filter: Optional[Filter]
    field: str

    def __call__(self) -> Any:
        extra: dict[str, Any] = {} if self.call.content else {"content": False}
        if self.call.kind == "dense":
            if self.call.ef is not None:
                extra["ef"] = self.call.ef
            return self.connector.search_dense_many(self.collection, self.vectors, self.call.k, self.filter, **extra)
        return self.connector.search_sparse_many(
            self.collection, self.vectors, self.call.k, self.filter, field=self.field, **extra
        )


def placed(calls: Sequence[SharedCall], results: Sequence[Sequence[Any]], n: int) -> list[dict[str, Any]]:
    """Per request (``n``), each retriever's first answer from the shared calls' ``results``."""
    answers: list[dict[str, Any]] = [{} for _ in range(n)]
    for shared, found in zip(calls, results, strict=True):
        for row, hits in zip(shared.rows, found, strict=True):
            answers[row][shared.call.retriever] = hits
    return answers
