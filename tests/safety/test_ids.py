"""Ids given to ``get`` / ``delete`` / tenant ``upsert``: a bare string, ``None`` or a non-str id is refused
with a clear error naming the argument, and never touches a document it does not name."""

from __future__ import annotations

import asyncio

import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import AsyncHybridIndex, HybridIndex
from vecbridge.connectors import ThreadedConnector
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import Document, InvalidInputError

IDS = ["h", "1", "h1", "x"]


@pytest.fixture(params=["memory", "milvus-lite"])
def index(request, tmp_path):
    connector = InMemoryConnector() if request.param == "memory" else MilvusConnector(str(tmp_path / "ids.db"))
    index = HybridIndex.create(connector, "ids", dense=BagOfWordsEncoder(), tenant_key="team")
    index.upsert([Document(id=i, text=f"text {i}", metadata={"team": "a"}) for i in IDS])
    yield index
    connector.close()


def test_delete_refuses_a_bare_string_and_deletes_nothing(index):
    with pytest.raises(InvalidInputError, match=r"ids='h1'.*not one string"):
        index.delete(ids="h1")
    assert sorted(d.id for d in index.get(IDS)) == sorted(IDS)


@pytest.mark.parametrize("ids", [[None], ["h", None], [b"h"], [1], "h1", b"h1", 7, None])
def test_get_refuses_bad_ids_with_a_clear_error(index, ids):
    with pytest.raises(InvalidInputError, match="ids"):
        index.get(ids)


@pytest.mark.parametrize("ids", [[None], ["h", None], [b"h"], [1.5], b"h1", 7])
def test_delete_refuses_bad_ids_and_deletes_nothing(index, ids):
    with pytest.raises(InvalidInputError, match="ids"):
        index.delete(ids=ids)
    assert index.count() == len(IDS)


def test_delete_of_named_ids_deletes_exactly_those(index):
    assert index.delete(ids=("h1", "nope")) == 1
    assert sorted(d.id for d in index.get(IDS)) == ["1", "h", "x"]


def test_tenant_upsert_takes_underscore_id_and_integer_id_rows(index):
    report = index.tenant("a").upsert([{"_id": "y", "text": "t"}, {"id": 5, "text": "u"}])
    assert report.written == 2
    assert [d.metadata["team"] for d in index.get(["y", "5"])] == ["a", "a"]


def test_tenant_upsert_of_a_row_without_id_dead_letters_it(index):
    report = index.tenant("a").upsert([{"text": "no id"}, {"id": "z", "text": "t"}])
    assert report.written == 1 and report.read == 2


def test_async_index_refuses_the_same_ids():
    async def main():
        connector = ThreadedConnector(InMemoryConnector())
        index = await AsyncHybridIndex.create(connector, "ids", dense=BagOfWordsEncoder())
        await index.upsert([Document(id=i, text="t") for i in IDS])
        for bad in ("h1", [None], [3]):
            with pytest.raises(InvalidInputError, match="ids"):
                await index.delete(ids=bad)
            with pytest.raises(InvalidInputError, match="ids"):
                await index.get(bad)
        return await index.count()

    assert asyncio.run(main()) == len(IDS)


def test_milvus_connector_delete_refuses_a_bare_string(tmp_path):
    connector = MilvusConnector(str(tmp_path / "c.db"))
    try:
        index = HybridIndex.create(connector, "ids", dense=BagOfWordsEncoder())
        index.upsert([Document(id=i, text="t") for i in IDS])
        with pytest.raises(InvalidInputError, match="ids='h1'"):
            connector.delete("ids", ids="h1")
        assert index.count() == len(IDS)
    finally:
        connector.close()
