"""The fast path of a fused search: the last retriever runs in the calling thread (the others in the
pool), failures are still raised in retriever-name order, ids-and-scores hits are built unvalidated
(``bare_hit``) yet equal validated ones, and on Milvus Lite the late-content path returns the same
hits, order, per-retriever ranks and content as the path where every retriever returns content, on
a random corpus with tied scores, with filters and tenants."""

from __future__ import annotations

import random
import threading

import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import HybridIndex
from vecbridge.schemas import Document, Hit, bare_hit, trusted_hit

WORDS = "vector database hybrid search sparse dense fusion rank milvus query text model index".split()


def _corpus(seed: int, n: int) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        words = rng.choices(WORDS[:6], k=rng.randint(1, 3))  # few distinct texts: many exact ties
        docs.append(
            Document(id=f"d{rng.randrange(10**6):06d}-{i}", text=" ".join(words), metadata={"year": 2000 + i % 5})
        )
    return docs


class RecordingConnector(InMemoryConnector):
    """Records which thread ran each retriever; ``fail`` names retrievers whose search raises."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[str, str] = {}
        self.fail: set[str] = set()

    def _run(self, name: str, call, *args, **kwargs):
        self.threads[name] = threading.current_thread().name
        if name in self.fail:
            raise RuntimeError(f"{name} failed")
        return call(*args, **kwargs)

    def search_dense(self, *args, **kwargs):
        return self._run("dense", super().search_dense, *args, **kwargs)

    def search_sparse(self, *args, **kwargs):
        return self._run("sparse", super().search_sparse, *args, **kwargs)


def _index(connector, docs, **kwargs) -> HybridIndex:
    encoder = BagOfWordsEncoder()
    index = HybridIndex.create(connector, "docs", dense=encoder, sparse=encoder, filterable={"year": "int"}, **kwargs)
    assert index.upsert(docs).written == len(docs)
    return index


def test_the_last_retriever_runs_in_the_calling_thread() -> None:
    connector = RecordingConnector()
    index = _index(connector, _corpus(1, 40))
    assert index.search("vector search", k=3)
    assert connector.threads["sparse"] == threading.current_thread().name
    assert connector.threads["dense"].startswith("vecbridge-retrieve")
    index.close()


@pytest.mark.parametrize(
    ("failing", "raised"), [({"dense", "sparse"}, "dense"), ({"sparse"}, "sparse"), ({"dense"}, "dense")]
)
def test_failures_are_raised_in_retriever_order(failing: set[str], raised: str) -> None:
    connector = RecordingConnector()
    index = _index(connector, _corpus(2, 30))
    connector.fail = failing
    with pytest.raises(RuntimeError, match=f"{raised} failed"):
        index.search("vector search", k=3)
    connector.fail = set()
    assert index.search("vector search", k=3)  # the pool is still usable
    index.close()


def test_bare_hit_equals_a_validated_hit() -> None:
    bare, full = bare_hit("a", 0.5), Hit(id="a", score=0.5)
    assert bare == full and bare.model_dump() == full.model_dump() and repr(bare) == repr(full)
    assert bare.model_fields_set == full.model_fields_set
    assert bare.model_copy(update={"score": 1.0}) == Hit(id="a", score=1.0)
    bare.text, bare.ranks = "t", {"dense": 1}
    assert (bare.text, bare.ranks, full.ranks) == ("t", {"dense": 1}, {})  # no shared defaults
    assert bare_hit("b", 1.0).metadata is not bare_hit("c", 1.0).metadata


def test_trusted_hit_equals_a_validated_hit_and_model_construct() -> None:
    fields = {"id": "a", "score": 0.25, "text": "t", "metadata": {"k": 1}, "ranks": {"d": 2}, "scores": {"d": 0.5}}
    trusted, full = trusted_hit(dict(fields)), Hit(**fields)
    assert trusted == full == Hit.model_construct(**fields) and trusted.model_dump() == full.model_dump()
    assert trusted.model_fields_set == full.model_fields_set == set(fields)
    assert repr(trusted) == repr(full)
    assert trusted_hit({"id": "b", "score": 1.0}).retrievers is not trusted_hit({"id": "c", "score": 1.0}).retrievers


def _dump(results):
    return [[h.model_dump() for h in hits] for hits in results]


@pytest.mark.parametrize("seed", [3, 4])
def test_milvus_late_content_equals_content_from_every_retriever(tmp_path, seed: int) -> None:
    pytest.importorskip("milvus_lite", reason="needs milvus-lite")
    from vecbridge.connectors.milvus import MilvusConnector

    connector = MilvusConnector(str(tmp_path / "late.db"))
    docs = _corpus(seed, 120)
    rng = random.Random(seed)
    queries = [" ".join(rng.choices(WORDS, k=rng.randint(1, 3))) for _ in range(25)]
    try:
        encoder = BagOfWordsEncoder()
        index = HybridIndex.create(
            connector, "docs", dense=encoder, sparse=encoder, filterable={"year": "int"}, tenant_key="tenant"
        )
        tenants = {"a": docs[:70], "b": docs[70:]}
        for tenant, rows in tenants.items():
            assert index.tenant(tenant).upsert(rows).written == len(rows)
        assert index.late_content
        for options in ({}, {"filter": {"key": "year", "op": ">=", "value": 2002}}, {"window": 7, "k": 9}):
            late = index.search_batch(queries, **options)
            index.late_content = False
            inline = index.search_batch(queries, **options)
            index.late_content = True
            assert _dump(late) == _dump(inline)
            assert all(h.text and set(h.ranks) <= {"dense", "sparse"} and h.ranks for hits in late for h in hits)
            if "filter" in options:
                assert all(h.metadata["year"] >= 2002 for hits in late for h in hits)
            for tenant, rows in tenants.items():
                view = index.tenant(tenant)
                allowed = {d.id for d in rows}
                late_t = view.search_batch(queries, **options)
                index.late_content = False
                inline_t = view.search_batch(queries, **options)
                index.late_content = True
                assert _dump(late_t) == _dump(inline_t)
                assert all(h.id in allowed for hits in late_t for h in hits)
        index.close()
    finally:
        connector.close()


def test_milvus_ids_only_answers_parse_like_rows(tmp_path) -> None:
    pytest.importorskip("milvus_lite", reason="needs milvus-lite")
    from vecbridge.connectors.milvus import MilvusConnector, requests as rq

    connector = MilvusConnector(str(tmp_path / "parse.db"))
    try:
        encoder = BagOfWordsEncoder()
        index = HybridIndex.create(connector, "docs", dense=encoder, sparse=encoder)
        index.upsert(_corpus(5, 50))
        vector = encoder.encode_queries(["vector search"]).dense[0]
        request = rq.dense_search(index.spec, vector, 20, None, content=False)
        answer = connector.client.search("docs", **request)
        assert isinstance(answer[0].ids, list)  # what the fast path reads
        fast = rq.hits(answer, content=False)  # from the answer's ids / distances lists
        slow = rq.hits(answer)  # row by row, validated
        assert len(fast) == 20 and [h.model_dump() for h in fast] == [h.model_dump() for h in slow]
        assert all(type(h.id) is str and type(h.score) is float for h in fast)
        index.close()
    finally:
        connector.close()


def test_scored_ids_reads_as_a_list_of_bare_hits() -> None:
    from vecbridge.schemas import ScoredIds, ids_and_scores

    scored = ScoredIds(["b", "a", "c"], [0.9, 0.5, 0.5])
    as_list = [bare_hit("b", 0.9), bare_hit("a", 0.5), bare_hit("c", 0.5)]
    assert scored == as_list and as_list == scored and len(scored) == 3
    assert scored[1] == Hit(id="a", score=0.5) and scored[-1].id == "c"
    assert scored[1:] == ScoredIds(["a", "c"], [0.5, 0.5]) and isinstance(scored[:2], ScoredIds)
    scored[0].metadata["x"] = 1  # a fresh hit each time: nothing stored changes
    assert scored[0].metadata == {} and ids_and_scores(scored) == (["b", "a", "c"], [0.9, 0.5, 0.5])
    assert ids_and_scores(as_list) == ids_and_scores(scored)
    with pytest.raises(ValueError, match="ScoredIds needs as many scores as ids, got 1 for 2"):
        ScoredIds(["a", "b"], [1.0])


def test_ties_and_fusion_read_scored_ids_like_lists() -> None:
    from vecbridge import fusion
    from vecbridge.index import order_ties
    from vecbridge.schemas import ScoredIds

    dense = ScoredIds(["d3", "d1", "d2", "d0"], [0.9, 0.7, 0.7, 0.1])
    sparse = ScoredIds(["d2", "d4", "d3"], [5.0, 5.0, 1.0])
    ordered = order_ties(dense)
    assert isinstance(ordered, ScoredIds) and ordered.ids == ["d3", "d1", "d2", "d0"]
    assert order_ties(sparse).ids == ["d2", "d4", "d3"] and order_ties(ScoredIds(["b", "a"], [1.0, 1.0])).ids == [
        "a",
        "b",
    ]
    lists = {"dense": dense, "sparse": sparse}
    plain = {name: list(hits) for name, hits in lists.items()}
    for fuse in (lambda x: fusion.rrf(x, 4, weights={"dense": 2.0}), lambda x: fusion.linear(x, 4)):
        assert [h.model_dump() for h in fuse(lists)] == [h.model_dump() for h in fuse(plain)]
    with pytest.raises(ValueError, match="retriever 'dense' returned id 'a' twice"):
        fusion.rrf({"dense": ScoredIds(["a", "b", "a"], [3.0, 2.0, 1.0])}, 2)
