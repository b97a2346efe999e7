"""Unit tests without a server: lazy client, secrets, bulk retries with a mocked client, licence
handling, filter compilation."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import numpy as np
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, ConnectionError as ESConnectionError, Elasticsearch

from vecbridge.connectors.elasticsearch import (
    ElasticsearchConfig,
    ElasticsearchConnector,
    NativeHybrid,
    compile_filter,
    connector as connector_module,
)
from vecbridge.connectors.elasticsearch.bulk import bulk_index
from vecbridge.schemas import (
    CollectionSpec,
    ConfigurationError,
    Settings,
    StoreUnavailableError,
    UnsupportedOperationError,
    parse_filter,
)

NO_SLEEP = {"initial_backoff": 0.01, "max_backoff": 0.02}


def _meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )


def api_error(status: int, kind: str = "error") -> ApiError:
    return ApiError(message=kind, meta=_meta(status), body={"error": {"type": kind, "reason": kind}, "status": status})


def test_init_opens_nothing() -> None:
    with mock.patch.object(connector_module, "Elasticsearch") as cls:
        conn = ElasticsearchConnector(url="http://127.0.0.1:1", api_key="secret-key")
        assert cls.call_count == 0
        _ = conn.client  # first use creates it, once
        _ = conn.client
        assert cls.call_count == 1
        assert cls.call_args.kwargs["api_key"] == "secret-key"
        conn.close()
        cls.return_value.close.assert_called_once()


def test_secrets_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    config = ElasticsearchConfig(url="https://es:9200", username="elastic", password="hunter2-pw", ca_certs="/ca.pem")
    conn = ElasticsearchConnector(config)
    assert "hunter2" not in repr(conn) and "hunter2" not in repr(config) and "hunter2" not in str(config.model_dump())
    kwargs = config.client_kwargs()
    assert kwargs["basic_auth"] == ("elastic", "hunter2-pw") and kwargs["ca_certs"] == "/ca.pem"
    assert kwargs["verify_certs"] is True
    with caplog.at_level(logging.DEBUG):
        with mock.patch.object(connector_module, "Elasticsearch"):
            conn.client.license.get.side_effect = api_error(400, "invalid_index_name_exception")
            assert conn.licence_allows_rrf() is False
    assert "hunter2" not in caplog.text


def test_config_validation_and_settings() -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        ElasticsearchConfig(url="localhost:9200")
    with pytest.raises(ConfigurationError, match="both username and password"):
        ElasticsearchConfig(username="u")
    with pytest.raises(ConfigurationError, match="either api_key or username"):
        ElasticsearchConfig(api_key="k", username="u", password="p")
    settings = Settings(es_url="https://h:9243/", es_api_key="abc", es_verify_certs=False, _env_file=None)
    config = ElasticsearchConfig.from_settings(settings)
    assert config.url == "https://h:9243" and config.client_kwargs()["verify_certs"] is False
    with pytest.raises(ConfigurationError, match="es_url"):
        ElasticsearchConfig.from_settings(Settings(_env_file=None))


def _bulk_ok(ids: list[str], statuses: dict[str, int] | None = None) -> dict[str, Any]:
    items = []
    for doc_id in ids:
        status = (statuses or {}).get(doc_id, 201)
        item: dict[str, Any] = {"_index": "i", "_id": doc_id, "status": status}
        if status >= 300:
            item["error"] = {
                "type": "es_rejected_execution_exception" if status == 429 else "mapper_parsing_exception",
                "reason": f"status {status}",
            }
        items.append({"index": item})
    return {"errors": any(s >= 300 for s in (statuses or {}).values()), "took": 1, "items": items}


def _ids_of(operations: list[Any]) -> list[str]:
    """Document ids in a bulk body (header lines are dicts or pre-serialized bytes)."""
    import json

    ids = []
    for line in operations:
        obj = json.loads(line) if isinstance(line, (bytes, str)) else line
        if "index" in obj:
            ids.append(obj["index"]["_id"])
    return ids


def test_bulk_retries_whole_request_on_429_then_succeeds() -> None:
    client = Elasticsearch("http://127.0.0.1:1")
    sources = {f"d{i}": {"text": str(i)} for i in range(5)}
    calls: list[list[str]] = []

    def fake_bulk(*args: Any, operations: list[Any], **kwargs: Any) -> Any:
        calls.append(_ids_of(operations))
        if len(calls) == 1:
            raise api_error(429, "es_rejected_execution_exception")
        return mock.Mock(body=_bulk_ok(calls[-1]))

    with mock.patch.object(Elasticsearch, "bulk", side_effect=fake_bulk):
        failed = bulk_index(client, "i", sources, chunk_size=10, refresh="false", max_attempts=3, **NO_SLEEP)
    assert failed == {}
    assert calls == [list(sources), list(sources)]


def test_bulk_retries_only_the_rejected_items_and_reports_final_failures() -> None:
    client = Elasticsearch("http://127.0.0.1:1")
    sources = {f"d{i}": {"text": str(i)} for i in range(6)}
    calls: list[list[str]] = []
    waits: list[float] = []

    seen: dict[str, int] = {}
    plan = {"d1": [429, 429], "d4": [503], "d5": [400] * 9}  # statuses per attempt; then 201

    def fake_bulk(*args: Any, operations: list[Any], **kwargs: Any) -> Any:
        ids = _ids_of(operations)
        calls.append(ids)
        statuses = {}
        for doc_id in ids:
            n = seen[doc_id] = seen.get(doc_id, 0) + 1
            if n <= len(plan.get(doc_id, [])):
                statuses[doc_id] = plan[doc_id][n - 1]
        return mock.Mock(body=_bulk_ok(ids, statuses))

    with mock.patch.object(Elasticsearch, "bulk", side_effect=fake_bulk):
        failed = bulk_index(
            client,
            "i",
            sources,
            chunk_size=4,
            refresh="false",
            max_attempts=5,
            initial_backoff=0.5,
            max_backoff=10,
            sleep=waits.append,
        )
    assert calls == [["d0", "d1", "d2", "d3"], ["d4", "d5"], ["d1", "d4"], ["d1"]]
    assert list(failed) == ["d5"] and failed["d5"].startswith("400 mapper_parsing_exception")
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 1.5  # exponential + jitter


def test_bulk_gives_up_after_max_attempts_on_connection_errors() -> None:
    client = Elasticsearch("http://user:pw@127.0.0.1:1")
    with mock.patch.object(Elasticsearch, "bulk", side_effect=ESConnectionError("refused")) as bulk:
        with pytest.raises(StoreUnavailableError) as info:
            bulk_index(client, "i", {"a": {}, "b": {}}, chunk_size=10, refresh="false", max_attempts=3, **NO_SLEEP)
    assert bulk.call_count == 3
    message = str(info.value)
    assert "\n" not in message and "pw" not in message and "127.0.0.1:1" in message
    assert "3 times" in message and "refused" in message and info.value.written == 0
    assert info.value.__cause__ is None


def test_bulk_does_not_retry_a_400_request() -> None:
    client = Elasticsearch("http://127.0.0.1:1")
    with mock.patch.object(Elasticsearch, "bulk", side_effect=api_error(400, "illegal_argument_exception")) as bulk:
        failed = bulk_index(client, "i", {"a": {}}, chunk_size=10, refresh="false", max_attempts=4, **NO_SLEEP)
    assert bulk.call_count == 1 and set(failed) == {"a"}


SPEC = CollectionSpec(name="c", dense_dim=4, filterable={"year": "int", "lang": "string"})


def _mocked(native: NativeHybrid, licence: Any) -> ElasticsearchConnector:
    conn = ElasticsearchConnector(url="http://127.0.0.1:1", native_hybrid=native)
    conn._specs["c"] = SPEC
    conn._client = mock.Mock()
    if isinstance(licence, Exception):
        conn._client.license.get.side_effect = licence
    else:
        conn._client.license.get.return_value = {"license": licence}
    return conn


def _sparse() -> dict:
    from vecbridge.schemas import SparseVector

    return {"sparse": SparseVector(indices=[1, 2], values=[0.5, 1.0])}


@pytest.mark.parametrize(
    "licence",
    [
        api_error(400, "invalid_index_name_exception"),
        {"type": "basic", "status": "active"},
        {"type": "enterprise", "status": "expired"},
    ],
)
def test_native_hybrid_needs_a_licence_with_rrf(licence: Any) -> None:
    conn = _mocked(NativeHybrid.AUTO, licence)
    with pytest.raises(UnsupportedOperationError, match="server-side RRF unavailable"):
        conn.search_hybrid_native("c", np.ones(4, np.float32), _sparse(), 5)
    conn.client.search.assert_not_called()


def test_native_hybrid_403_is_unsupported() -> None:
    conn = _mocked(NativeHybrid.AUTO, {"type": "trial", "status": "active"})
    conn.client.search.side_effect = api_error(403, "security_exception")
    with pytest.raises(UnsupportedOperationError, match="403"):
        conn.search_hybrid_native("c", np.ones(4, np.float32), _sparse(), 5, rrf_k=60, window=20)
    body = conn.client.search.call_args.kwargs["retriever"]["rrf"]
    assert body["rank_constant"] == 60 and body["rank_window_size"] == 20 and len(body["retrievers"]) == 2
    knn = body["retrievers"][0]["knn"]
    assert np.isclose(np.linalg.norm(knn["query_vector"]), 1.0) and knn["k"] == 20  # dot_product: unit query
    assert conn.licence_allows_rrf() is False  # remembered


def test_native_hybrid_never() -> None:
    conn = _mocked(NativeHybrid.NEVER, {"type": "enterprise", "status": "active"})
    with pytest.raises(UnsupportedOperationError):
        conn.search_hybrid_native("c", np.ones(4, np.float32), _sparse(), 5)


def test_sparse_query_sends_only_positive_boosts() -> None:
    from vecbridge.connectors.elasticsearch.queries import sparse_query
    from vecbridge.schemas import SparseVector

    query = sparse_query("sparse", SparseVector(indices=[9, 3, 4], values=[0.5, 0.0, 2.0]), None)
    clauses = query["bool"]["should"]
    assert [c["rank_feature"]["field"] for c in clauses] == ["sparse.4", "sparse.9"]
    assert all(c["rank_feature"]["boost"] > 0 and c["rank_feature"]["linear"] == {} for c in clauses)


def test_filter_compiler_is_pure_and_exact() -> None:
    flt = parse_filter(
        {
            "all": [
                {"key": "year", "op": ">=", "value": 2000},
                {
                    "any": [
                        {"key": "lang", "op": "!=", "value": "en"},
                        {"key": "lang", "op": "not in", "value": ["a", "b"]},
                    ]
                },
                {"not": {"key": "year", "op": "in", "value": [2001, 2002]}},
            ]
        }
    )
    first = compile_filter(flt)
    assert compile_filter(flt) == first
    assert first == {
        "bool": {
            "filter": [
                {"range": {"metadata.year": {"gte": 2000}}},
                {
                    "bool": {
                        "should": [  # != and not in match documents lacking the key (missing reads as None)
                            {"bool": {"must_not": [{"term": {"metadata.lang": "en"}}]}},
                            {"bool": {"must_not": [{"terms": {"metadata.lang": ["a", "b"]}}]}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
                {"bool": {"must_not": [{"terms": {"metadata.year": [2001, 2002]}}]}},
            ]
        }
    }
    missing = {"bool": {"must_not": [{"exists": {"field": "metadata.lang"}}]}}
    assert compile_filter(parse_filter({"key": "lang", "op": "==", "value": None})) == missing
    assert compile_filter(parse_filter({"key": "lang", "op": "!=", "value": None})) == {"bool": {"must_not": [missing]}}
    assert compile_filter(parse_filter({"key": "lang", "op": "in", "value": ["a", None]})) == {
        "bool": {"should": [{"terms": {"metadata.lang": ["a"]}}, missing], "minimum_should_match": 1}
    }
    assert compile_filter(parse_filter({"key": "x", "op": ">", "value": None})) == {"match_none": {}}
    for op, word in [("<", "lt"), ("<=", "lte"), (">", "gt"), (">=", "gte")]:
        assert compile_filter(parse_filter({"key": "x", "op": op, "value": 1.5})) == {
            "range": {"metadata.x": {word: 1.5}}
        }


def test_bulk_stops_retrying_after_max_wait_seconds() -> None:
    client = Elasticsearch("http://127.0.0.1:1")
    with mock.patch.object(Elasticsearch, "bulk", side_effect=ESConnectionError("refused")) as bulk:
        with pytest.raises(StoreUnavailableError, match="1 times"):
            bulk_index(
                client,
                "i",
                {"a": {}},
                chunk_size=10,
                refresh="false",
                max_attempts=10,
                initial_backoff=0.01,
                max_backoff=0.02,
                max_wait=0,
            )
    assert bulk.call_count == 1  # the time budget ends it before the attempts do


def test_refresh_after_a_bulk_is_retried_within_the_budget() -> None:
    """A store blip between a bulk and its refresh must not fail a write the budget carries."""
    conn = ElasticsearchConnector(url="http://127.0.0.1:1", max_attempts=3, **NO_SLEEP)
    conn._specs["c"] = CollectionSpec(name="c")
    outcomes = [ESConnectionError("refused"), {"_shards": {}}]
    with (
        mock.patch.object(connector_module, "bulk_index", return_value=_written(1)),
        mock.patch("elasticsearch._sync.client.indices.IndicesClient.refresh", side_effect=outcomes) as refresh,
    ):
        assert conn.upsert("c", _one_doc()) == 1
    assert refresh.call_count == 2
    with (
        mock.patch.object(connector_module, "bulk_index", return_value=_written(1)),
        mock.patch(
            "elasticsearch._sync.client.indices.IndicesClient.refresh", side_effect=ESConnectionError("refused")
        ) as refresh,
    ):
        with pytest.raises(StoreUnavailableError, match="refresh after upsert") as info:
            conn.upsert("c", _one_doc())
    assert refresh.call_count == 3 and info.value.written == 1


def _written(n: int):
    from vecbridge.connectors.elasticsearch.bulk import Failures

    return Failures({}, written=n)


def _one_doc():
    from vecbridge.schemas import Document, IndexBatch

    return IndexBatch(documents=[Document(id="a", text="x")])


def test_retry_settings_reach_both_connectors() -> None:
    from vecbridge.config import open_connector
    from vecbridge.connectors.milvus import MilvusConnector

    settings = Settings(retry_attempts=3, retry_max_wait=1.5, es_url="http://127.0.0.1:1", uri="http://127.0.0.1:1")
    milvus = open_connector(settings)
    assert isinstance(milvus, MilvusConnector) and (milvus.retry_attempts, milvus.retry_max_wait) == (3, 1.5)
    es = open_connector(settings.model_copy(update={"backend": "elasticsearch"}))
    assert (es.config.max_attempts, es.config.retry_max_wait) == (3, 1.5)
    defaults = open_connector(Settings(uri="http://127.0.0.1:1"))
    assert (defaults.retry_attempts, defaults.retry_max_wait) == (8, 30.0)  # the connector's own defaults
    with pytest.raises(ConfigurationError, match="VECBRIDGE_RETRY_ATTEMPTS"):
        Settings(retry_attempts=0)


def test_documents_with_dates_nested_metadata_and_dotted_keys() -> None:
    """Filterable keys hold one scalar of their type (DATETIME: ISO-8601), or null, or are missing;
    other metadata may have any shape; a dotted key under a filterable key's name is refused."""
    from vecbridge.connectors.elasticsearch.config import ElasticsearchConfig
    from vecbridge.connectors.elasticsearch.mapping import build_mapping, document_problem

    spec = CollectionSpec(name="c", dense_dim=2, filterable={"when": "datetime", "k": "string"})
    props = build_mapping(spec, ElasticsearchConfig())["properties"]["metadata"]["properties"]
    assert props == {"when": {"type": "date"}, "k": {"type": "keyword"}}
    ok = [
        {},
        {"when": None},
        {"when": "1969-07-21T20:17:40"},
        {"when": "2020-01-01T00:00:00.123456+01:00"},
        {"source.file": "x", "nested": {"k.x": [1, {"a": None}]}, "k": "v"},
    ]
    for metadata in ok:
        assert document_problem(metadata, "", spec) is None, metadata
    assert "metadata['when']='tomorrow' is not an ISO-8601" in document_problem({"when": "tomorrow"}, "", spec)
    assert "sub-field of the filterable key 'k'" in document_problem({"k.x": 1}, "", spec)
