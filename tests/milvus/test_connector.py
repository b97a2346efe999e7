"""Milvus-specific connector behaviour (the shared contract: vecbridge.testing, run by tests/conformance)."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest
from pydantic import SecretStr

from vecbridge.connectors.base import Connector
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionSpec,
    ConfigurationError,
    DenseIndex,
    Document,
    IndexBatch,
    ScalarType,
    SparseVector,
    WriteError,
)

SPEC = CollectionSpec(name="c", dense_dim=4, filterable={"year": ScalarType.INT})


def _batch(*ids: str) -> IndexBatch:
    docs = [Document(id=i, text=i, metadata={"year": 1}) for i in ids]
    return IndexBatch(
        documents=docs,
        dense=np.eye(4)[: len(ids)],
        sparse={"sparse": [SparseVector(indices=[1], values=[1])] * len(ids)},
    )


def test_engine_pinned():
    """The selective-filter and escaping behaviour is verified against this engine; re-run
    tests/conformance and tests/milvus before changing the pin in pyproject.toml."""
    assert version("milvus-lite") == "2.5.1"
    assert version("pymilvus").startswith("2.5.")


def test_init_opens_nothing(tmp_path, monkeypatch):
    import pymilvus

    def boom(*args, **kwargs):
        raise AssertionError("MilvusClient created in __init__")

    monkeypatch.setattr(pymilvus, "MilvusClient", boom)
    connector = MilvusConnector(str(tmp_path / "lazy.db"))
    assert connector._client is None
    assert not (tmp_path / "lazy.db").exists()
    assert isinstance(connector, Connector)
    connector.close()  # nothing to close


def test_token_never_shown():
    connector = MilvusConnector("http://127.0.0.1:19530", token="root:secret")
    assert "secret" not in repr(connector)
    assert isinstance(connector._token, SecretStr)
    MilvusConnector("https://milvus.example:443", token=SecretStr("x"))


@pytest.mark.parametrize(
    "uri, message",
    [("", "uri"), ("data.sqlite", "'.db'"), ("/no/such/dir/x.db", "does not exist"), ("ftp://h:1", "http")],
)
def test_bad_uri(uri, message):
    with pytest.raises(ConfigurationError, match=message):
        MilvusConnector(uri)


def test_token_with_local_file_rejected(tmp_path):
    with pytest.raises(ConfigurationError, match="token"):
        MilvusConnector(str(tmp_path / "x.db"), token="a:b")


def test_close_releases_lock_same_and_other_process(tmp_path):
    path = str(tmp_path / "lock.db")
    first = MilvusConnector(path)
    first.ensure_collection(SPEC)
    first.upsert("c", _batch("a", "b"))
    first.close()
    again = MilvusConnector(path)
    assert again.count("c") == 2
    again.close()
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from vecbridge.connectors.milvus import MilvusConnector;"
        f"c = MilvusConnector({path!r}); print(c.count('c')); c.close()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "2"


def test_invalid_inputs_have_clear_errors(tmp_path):
    with MilvusConnector(str(tmp_path / "v.db")) as connector:
        connector.ensure_collection(SPEC)
        connector.upsert("c", _batch("a"))
        with pytest.raises(ConfigurationError, match="16384"):
            connector.search_dense("c", np.ones(4), 16385)
        with pytest.raises(ConfigurationError, match=r"\[1, 16384\]"):
            connector.search_dense("c", np.ones(4), 0)
        with pytest.raises(ConfigurationError, match="shape"):
            connector.search_dense("c", np.ones(5), 1)
        with pytest.raises(ConfigurationError, match="no sparse field 'splade'"):
            connector.search_sparse("c", SparseVector(indices=[1], values=[1]), 1, field="splade")
        with pytest.raises(ConfigurationError, match="window"):
            connector.search_hybrid_native("c", np.ones(4), {}, 5, window=20000)
        with pytest.raises(ConfigurationError, match="dim 3"):
            connector.upsert(
                "c",
                IndexBatch(
                    documents=[Document(id="x", text="", metadata={"year": 1})],
                    dense=np.ones((1, 3)),
                    sparse={"sparse": [SparseVector(indices=[1], values=[1])]},
                ),
            )


def test_lite_rejects_unstorable_ids(tmp_path):
    with MilvusConnector(str(tmp_path / "q.db")) as connector:
        connector.ensure_collection(SPEC)
        with pytest.raises(WriteError, match="single quote") as info:
            connector.upsert("c", _batch("ok", "it's"))
        assert set(info.value.failed) == {"it's"}
        assert info.value.written == 1  # the valid row of the batch is written
        assert connector.count("c") == 1 and [d.id for d in connector.get("c", ["ok", "it's"])] == ["ok"]
        assert connector.delete("c", ids=["it's"]) == 0


def test_hnsw_maps_to_autoindex_on_lite(tmp_path):
    spec = SPEC.model_copy(update={"name": "h", "dense_index": DenseIndex.HNSW})
    with MilvusConnector(str(tmp_path / "h.db")) as connector:
        connector.ensure_collection(spec)
        assert connector.client.describe_index("h", "dense")["index_type"] == "AUTOINDEX"
        connector.ensure_collection(spec)  # verifying maps the same way


def test_schema_layout(tmp_path):
    with MilvusConnector(str(tmp_path / "s.db")) as connector:
        connector.ensure_collection(SPEC)
        fields = {f["name"]: f["type"].name for f in connector.client.describe_collection("c")["fields"]}
        assert fields == {
            "id": "VARCHAR",
            "text": "VARCHAR",
            "metadata": "JSON",
            "_meta_types": "JSON",
            "year": "INT64",
            "year__present": "BOOL",
            "dense": "FLOAT_VECTOR",
            "_has_dense": "BOOL",
            "sparse": "SPARSE_FLOAT_VECTOR",
        }
        assert connector.client.describe_index("c", "sparse")["index_type"] == "SPARSE_INVERTED_INDEX"


def test_datetime_keys_reopen_as_datetime_and_bad_dates_name_id_key_value(tmp_path):
    spec = CollectionSpec(
        name="t", dense_dim=4, sparse_fields=(), filterable={"when": ScalarType.DATETIME, "n": ScalarType.INT}
    )
    with MilvusConnector(str(tmp_path / "t.db")) as connector:
        connector.ensure_collection(spec)
    with MilvusConnector(str(tmp_path / "t.db")) as connector:
        connector.ensure_collection(spec)  # INT64 + description: still datetime, not int
        docs = [
            Document(id="ok", text="", metadata={"when": "2020-01-01"}),
            Document(id="bad", text="", metadata={"when": "next tuesday"}),
        ]
        with pytest.raises(WriteError, match="'bad'.*'when'.*'next tuesday'") as info:
            connector.upsert("t", IndexBatch(documents=docs, dense=np.ones((2, 4), np.float32)))
        assert info.value.written == 1 and list(info.value.failed) == ["bad"]


def test_collections_without_presence_fields_are_a_mismatch(tmp_path):
    """Collections created before the presence fields cannot hold documents lacking a key."""

    with MilvusConnector(str(tmp_path / "old.db")) as connector:
        _create_pre_flag_collection(connector, year=True)
        with pytest.raises(CollectionMismatchError, match="older vecbridge.*'year__present'.*re-create"):
            connector.ensure_collection(SPEC)
        with pytest.raises(CollectionMismatchError, match="re-create"):
            connector.count("c")


def test_collection_without_has_dense_field_takes_full_rows_and_refuses_vectorless_ones(tmp_path):
    """Collections created before ``_has_dense`` existed stay usable; only rows without a dense
    vector are refused there (WriteError naming why), never written with a zero vector."""
    from vecbridge.schemas import WriteError

    spec = CollectionSpec(name="c", dense_dim=4)
    with MilvusConnector(str(tmp_path / "old.db")) as connector:
        _create_pre_flag_collection(connector, year=False)
        connector.ensure_collection(spec)
        full = _batch("a", "b")
        connector.upsert("c", full)
        masked = IndexBatch(documents=full.documents, dense=full.dense, sparse=full.sparse, dense_present=[True, False])
        with pytest.raises(WriteError) as info:
            connector.upsert("c", masked)
        assert list(info.value.failed) == ["b"] and "created before" in info.value.failed["b"]
        assert {h.id for h in connector.search_dense("c", np.ones(4, dtype=np.float32), 5)} == {"a", "b"}


def test_has_dense_is_a_reserved_field_name(tmp_path):
    spec = CollectionSpec(name="r", dense_dim=4, filterable={"_has_dense": ScalarType.BOOL})
    with MilvusConnector(str(tmp_path / "r.db")) as connector:
        with pytest.raises(ConfigurationError, match="reserved"):
            connector.ensure_collection(spec)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # milvus_lite's Server.__del__
@pytest.mark.parametrize("name", ["has space.db", "ünï.db", "we+ird.db", "x@y.db", "a" * 34 + ".db"])
def test_lite_file_names_the_engine_refuses_are_configuration_errors(tmp_path, name):
    from milvus_lite.server import Server

    with pytest.raises(RuntimeError):  # the engine's own check: the connector's rule is not stricter
        Server(str(tmp_path / name))
    with pytest.raises(ConfigurationError, match=re.escape(repr(name))):
        MilvusConnector(str(tmp_path / name))


@pytest.mark.parametrize(
    "folder, name", [("dir with späce", "ok.db"), ("plain", "a" * 33 + ".db"), ("p", "A-b_c.1.db")]
)
def test_lite_file_names_the_engine_takes_open(tmp_path, folder, name):
    (tmp_path / folder).mkdir()
    with MilvusConnector(str(tmp_path / folder / name)) as connector:
        connector.ensure_collection(SPEC)
        connector.upsert("c", _batch("a"))
        assert connector.count("c") == 1


def _create_pre_flag_collection(connector, year: bool) -> None:
    """Collection "c" in the layout of vecbridge before presence flags and ``_has_dense``
    (optionally with a plain INT64 ``year``), created with pymilvus directly."""
    from pymilvus import DataType

    schema = connector.client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("metadata", DataType.JSON)
    if year:
        schema.add_field("year", DataType.INT64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    params = connector.client.prepare_index_params()
    params.add_index("dense", index_type="FLAT", metric_type="IP")
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    connector.client.create_collection("c", schema=schema, index_params=params)
