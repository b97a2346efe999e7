"""One-query search answers read by column: ids, scores, and (when asked) the ``text`` and
``metadata`` columns, straight from the gRPC ``SearchResults`` message.

pymilvus' ``MilvusClient.search`` turns every returned row into a dict (and decodes its JSON) before
the caller sees it; for the fusion window of a hybrid search (hundreds of rows, of which only the
fused top ``k`` are kept) that costs more than the store's own work. ``search_answer`` builds the
request as ``MilvusClient.search`` does (``Prepare.search_requests_with_expr``) and calls the
client's ``Search`` stub itself, keeping the response message; where this pymilvus lacks those
internals it falls back to ``client.search`` and its parsed ``SearchResult`` (read as before). Both
give the same hits (tests/milvus/test_search_answers.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

try:  # pymilvus decodes JSON fields with ujson (its dependency): the same decoder, the same values
    from ujson import loads as _json_loads
except ImportError:  # pragma: no cover - pymilvus always brings ujson
    from json import loads as _json_loads

from vecbridge.connectors.milvus import requests as rq
from vecbridge.schemas import Hit, ScoredIds, bare_hit


def search_answer(client: Any, collection: str, request: dict[str, Any]) -> Any:
    """``client.search(collection, **request)`` for one query: the ``SearchResultData`` message
    (read by ``answer_hits`` column by column), or pymilvus' parsed ``SearchResult`` where the raw
    message cannot be had (``raw_searcher``). Driver errors are raised as the plain call raises them."""
    searcher = raw_searcher(client)
    if searcher is None:
        return client.search(collection, **request)
    handler, prepare, check_status = searcher
    response = handler._stub.Search(_message(prepare, collection, request), timeout=request.get("timeout"))
    check_status(response.status)
    return response.results


async def search_answer_async(client: Any, collection: str, request: dict[str, Any]) -> Any:
    """``search_answer`` for pymilvus' ``AsyncMilvusClient``: its ``Search`` stub awaited directly (the
    client parses every row into dicts otherwise), or ``await client.search`` where this pymilvus
    lacks the internals (``raw_searcher(client, asynchronous=True)``)."""
    searcher = raw_searcher(client, asynchronous=True)
    if searcher is None:
        return await client.search(collection, **request)
    handler, prepare, check_status = searcher
    await handler.ensure_channel_ready()  # as the client's own search does first
    response = await handler._async_stub.Search(_message(prepare, collection, request), timeout=request.get("timeout"))
    check_status(response.status)
    return response.results


def _message(prepare: Any, collection: str, request: dict[str, Any]) -> Any:
    """The ``SearchRequest`` message ``MilvusClient.search(collection, **request)`` sends."""
    return prepare(
        collection,
        request["data"],
        request["anns_field"],
        request["search_params"],
        request["limit"],
        request.get("filter", ""),
        None,
        request.get("output_fields"),
        -1,
        expr_params={},
    )


def raw_searcher(client: Any, asynchronous: bool = False) -> Optional[tuple[Any, Any, Any]]:
    """What a raw search needs from pymilvus: the client's gRPC handler (its ``Search`` stub; with
    ``asynchronous``, the ``AsyncMilvusClient`` handler's awaitable one), the request builder and the
    status check ``MilvusClient.search`` uses; None where this pymilvus lacks one of them (the
    connector then calls ``client.search`` and reads its parsed result)."""
    try:
        from pymilvus.client.prepare import Prepare
        from pymilvus.client.utils import check_status

        handler = client._get_connection()
        stub = handler._async_stub if asynchronous else handler._stub
    except Exception:  # another pymilvus, or not connected: the public call says why
        return None
    if not callable(getattr(stub, "Search", None)):
        return None
    if asynchronous and not callable(getattr(handler, "ensure_channel_ready", None)):
        return None
    return handler, Prepare.search_requests_with_expr, check_status


def answer_hits(answer: Any, content: bool, queries: int = 1) -> list[Sequence[Hit]]:
    """Each query's hits of a ``search_answer`` / ``search_answer_async`` result: read by column from
    the message (``message_hits``), or from pymilvus' parsed ``SearchResult`` on the fallback path."""
    if is_message(answer):
        return message_hits(answer, content, queries)
    return rq.hits_many(answer, queries, content)


def is_message(answer: Any) -> bool:
    """Whether ``answer`` is a ``SearchResultData`` message (not a parsed ``SearchResult``)."""
    return hasattr(answer, "topks") and hasattr(answer, "fields_data")


def _column(answer: Any, name: str) -> Optional[list[Any]]:
    """The values of output field ``name`` (None for a null row; no column: None)."""
    for field in answer.fields_data:
        if field.field_name != name:
            continue
        values = list(field.scalars.json_data.data if name == "metadata" else field.scalars.string_data.data)
        valid = field.valid_data
        return [v if ok else None for v, ok in zip(values, valid, strict=True)] if len(valid) else values
    return None


def message_hits(answer: Any, content: bool, queries: int = 1) -> list[Sequence[Hit]]:
    """Each query's hits of a ``SearchResultData`` for ``queries`` queries (``topks`` splits the
    columns): ids and scores only (``content=False``) as a ``ScoredIds``; else hits built
    unvalidated from the id, score, ``text`` and ``metadata`` columns (the same values the validated
    path gives; ``metadata`` JSON decoded as pymilvus does)."""
    if answer.ids.HasField("str_id"):
        ids = [str(i) for i in answer.ids.str_id.data]
    else:
        ids = [str(i) for i in answer.ids.int_id.data]
    scores = [float(s) for s in answer.scores]
    topks = list(answer.topks) or [0]
    if len(topks) != queries or sum(topks) != len(ids) or len(ids) != len(scores):
        raise ValueError(f"expected the answer of {queries} queries, got topks {topks} for {len(ids)} ids")
    texts = _column(answer, "text") if content else None
    metas = _column(answer, "metadata") if content else None
    out: list[Sequence[Hit]] = []
    start = 0
    for topk in topks:
        stop = start + topk
        if not content:
            out.append(ScoredIds(ids[start:stop], scores[start:stop]))
        else:
            out.append(_content_hits(ids, scores, texts, metas, start, stop))
        start = stop
    return out


def _content_hits(
    ids: list[str], scores: list[float], texts: Optional[list[Any]], metas: Optional[list[Any]], start: int, stop: int
) -> list[Hit]:
    hits = [bare_hit(ids[i], scores[i]) for i in range(start, stop)]
    for hit, i in zip(hits, range(start, stop), strict=True):
        if texts is not None:
            hit.__dict__["text"] = texts[i] or ""
        if metas is not None:
            raw = metas[i]
            hit.__dict__["metadata"] = (_json_loads(raw) if raw else None) or {}
        hit.__pydantic_fields_set__.update(("text", "metadata"))
    return hits
