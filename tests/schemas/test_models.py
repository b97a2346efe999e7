import numpy as np
import pytest
from pydantic import ValidationError

from vecbridge.schemas import (
    CollectionSpec,
    ConfigurationError,
    Document,
    Embeddings,
    FilterError,
    IndexBatch,
    Settings,
    SparseVector,
    matches,
    parse_filter,
    validate_filter,
)
from vecbridge.schemas.filters import between, eq, is_in, ne, not_in

SPEC = CollectionSpec(
    name="c", dense_dim=4, filterable={"lang": "string", "year": "int", "score": "float", "ok": "bool"}
)


def test_document_rejects_bad_fields():
    with pytest.raises(ValidationError, match="id"):
        Document(id="", text="x")
    with pytest.raises(ValidationError, match=r"metadata\['a'\]\[0\] has a value of type object"):
        Document(id="1", text="x", metadata={"a": [object()]})  # any JSON shape, but JSON only
    with pytest.raises(ValidationError, match="not a finite number"):
        Document(id="1", text="x", metadata={"x": {"y": float("nan")}})
    with pytest.raises(ValidationError):
        Document(id=1, text="x")  # strict: ids are strings


def test_embeddings_check_rows_and_values():
    sparse = [SparseVector.from_dict({1: 1.0})] * 2
    e = Embeddings(dense=np.ones((2, 3)), sparse=sparse)
    assert len(e) == 2 and e.dense.dtype == np.float32 and e.dense_dim == 3
    with pytest.raises(ValidationError, match="row count"):
        Embeddings(dense=np.ones((3, 3)), sparse=sparse)
    with pytest.raises(ValidationError, match="non-finite"):
        Embeddings(dense=np.array([[1.0, np.inf]]))
    with pytest.raises(ValidationError, match="2-d"):
        Embeddings(dense=np.ones(3))
    merged = Embeddings.concat([e, e]).select([3, 0])
    assert len(merged) == 2


def test_index_batch_alignment_and_unique_ids():
    docs = [Document(id="a", text="x"), Document(id="b", text="y")]
    with pytest.raises(ValidationError, match="3 rows for 2 documents"):
        IndexBatch(documents=docs, dense=np.ones((3, 4)))
    with pytest.raises(ValidationError, match="duplicated: \\['a'\\]"):
        IndexBatch(documents=[docs[0], docs[0]])
    with pytest.raises(ValidationError, match="sparse field 'sparse' has 1 vectors"):
        IndexBatch(documents=docs, sparse={"sparse": [SparseVector.from_dict({1: 1.0})]})


def test_collection_spec_validation():
    with pytest.raises(ValidationError, match="dense field"):
        CollectionSpec(name="c", sparse_fields=())
    with pytest.raises(ValidationError, match="not one of"):
        CollectionSpec(name="c", dense_dim=3, filterable={"text": "string"})
    with pytest.raises(ValidationError, match="name"):
        CollectionSpec(name="bad-name", dense_dim=3)


def test_filters_parse_validate_and_evaluate():
    tree = parse_filter(
        {
            "any": [
                {"key": "lang", "op": "==", "value": "zh"},
                {
                    "all": [
                        {"key": "year", "op": ">=", "value": 2020},
                        {"not": {"key": "ok", "op": "==", "value": True}},
                    ]
                },
            ]
        }
    )
    validate_filter(tree, SPEC)
    assert matches(tree, {"lang": "zh"})
    assert matches(tree, {"lang": "en", "year": 2021, "ok": False})
    assert not matches(tree, {"lang": "en", "year": 2021, "ok": True})
    assert not matches(eq("lang", "en"), {})  # a missing key reads as None (see test_filter_semantics.py)
    assert matches(ne("lang", "en"), {"lang": "zh"}) and matches(is_in("year", [1, 2]), {"year": 2})
    assert matches(not_in("year", [1, 2]), {"year": 3}) and matches(between("score", 0.5, 1), {"score": 0.5})


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (parse_filter({"key": "colour", "op": ">", "value": "red"}), "undeclared key 'colour' needs a number"),
        (eq("year", "2020"), "not of type int"),
        (eq("year", True), "not of type int"),
        (eq("lang", ["en"]), "needs a scalar"),
        (is_in("lang", []), "non-empty JSON list"),
        (parse_filter({"key": "lang", "op": ">", "value": "a"}), "numeric or datetime key"),
    ],
)
def test_bad_filters_are_rejected_with_names(node, message):
    with pytest.raises(FilterError, match=message):
        validate_filter(node, SPEC)


def test_unknown_operator_is_rejected():
    with pytest.raises(FilterError, match=r"filter.op: unknown operator .~=."):
        parse_filter({"key": "lang", "op": "~=", "value": "x"})


def test_settings_from_env_and_secrets_hidden(monkeypatch):
    monkeypatch.setenv("VECBRIDGE_URI", "http://127.0.0.1:19530")
    monkeypatch.setenv("VECBRIDGE_TOKEN", "root:Milvus")
    monkeypatch.setenv("VECBRIDGE_BATCH_SIZE", "8")
    s = Settings(_env_file=None)
    assert s.uri == "http://127.0.0.1:19530" and s.batch_size == 8
    assert s.token.get_secret_value() == "root:Milvus"
    assert "root:Milvus" not in repr(s) and "root:Milvus" not in str(s.model_dump())
    monkeypatch.setenv("VECBRIDGE_BATCH_SIZE", "0")
    with pytest.raises(ConfigurationError, match="VECBRIDGE_BATCH_SIZE='0'"):
        Settings(_env_file=None)
