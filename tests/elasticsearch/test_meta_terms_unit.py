"""meta_terms (undeclared keys and dotted paths in Elasticsearch): the terms a document is indexed
with, the order of number codes, the compiled queries and the mapping. Pure, no server."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from vecbridge.connectors.elasticsearch.config import ElasticsearchConfig
from vecbridge.connectors.elasticsearch.filters import compile_filter
from vecbridge.connectors.elasticsearch.mapping import build_mapping, mapping_differences, spec_from_mapping
from vecbridge.connectors.elasticsearch.meta_terms import LONG, META_TERMS_FIELD, meta_terms, number_code, value_term
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionSpec,
    Condition,
    ConfigurationError,
    ScalarType,
    validate_filter,
)
from vecbridge.schemas.filters import eq, is_in

SPEC = CollectionSpec(name="c", dense_dim=4, filterable={"year": ScalarType.INT})
NUMBERS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False))


@given(a=NUMBERS, b=NUMBERS)
def test_number_codes_order_like_the_numbers(a, b):
    """Codes compare like the exact values (Fraction), int against float included, beyond 2**53 too."""
    x, y = Fraction(a), Fraction(b)
    ca, cb = number_code(a), number_code(b)
    assert len(ca) == len(cb) == 20
    assert (ca < cb) == (x < y) and (ca == cb) == (x == y)


def test_number_codes_near_2_53():
    big = 2**53
    assert number_code(big + 1) > number_code(float(big)) == number_code(big) > number_code(big - 1)
    assert number_code(-0.0) == number_code(0) == number_code(0.0)


def test_terms_of_a_document():
    terms = meta_terms({"k": 1, "s": "1", "b": True, "n": None, "l": [1], "o": {"p": 1.0, "q.r": 2}, "a.b": 3})
    assert sorted(terms) == sorted(
        [
            '"k"\x1f!',
            value_term("k", 1),
            '"s"\x1f!',
            '"s"\x1fs\x1f1',
            '"b"\x1f!',
            '"b"\x1fb\x1f1',
            '"l"\x1f!',
            '"o"\x1f!',
            '"o.p"\x1f!',
            value_term("o.p", 1),
        ]
    )
    assert value_term("k", 1) == value_term("k", 1.0) != value_term("k", True)


def test_long_paths_and_strings_are_hashed():
    long = "x" * (LONG + 1)
    term = value_term(long, long)
    assert term.startswith("#") and "\x1fh\x1f" in term and len(term) < 150
    assert value_term("k", "x" * LONG).endswith("x" * LONG)


def test_compiled_queries():
    assert compile_filter(validate_filter(eq("a.b", "x"), SPEC)) == {"term": {META_TERMS_FIELD: '"a.b"\x1fs\x1fx'}}
    assert compile_filter(validate_filter(eq("k", None), SPEC)) == {
        "bool": {"must_not": [{"term": {META_TERMS_FIELD: '"k"\x1f!'}}]}
    }
    assert compile_filter(validate_filter(is_in("k", [1, 1.0, "1"]), SPEC)) == {
        "terms": {META_TERMS_FIELD: sorted([value_term("k", 1), value_term("k", "1")])}
    }
    assert compile_filter(validate_filter(Condition(key="k", op=">", value=2), SPEC)) == {
        "range": {META_TERMS_FIELD: {"gt": '"k"\x1fn\x1f' + number_code(2), "lt": '"k"\x1fn\x1f~'}}
    }
    assert compile_filter(validate_filter(Condition(key="k", op="<=", value=2), SPEC)) == {
        "range": {META_TERMS_FIELD: {"lte": '"k"\x1fn\x1f' + number_code(2), "gt": '"k"\x1fn\x1f'}}
    }
    assert compile_filter(validate_filter(eq("year", 2), SPEC)) == {"term": {"metadata.year": 2}}  # declared: typed


def test_mapping_has_meta_terms_and_an_old_index_is_a_mismatch():
    mapping = build_mapping(SPEC, ElasticsearchConfig())
    assert mapping["properties"][META_TERMS_FIELD] == {"type": "keyword"}
    old = {**mapping, "properties": {k: v for k, v in mapping["properties"].items() if k != META_TERMS_FIELD}}
    (diff,) = mapping_differences(mapping, old)
    assert "re-create the index" in diff and META_TERMS_FIELD in diff
    assert spec_from_mapping(mapping) == SPEC
    with pytest.raises(CollectionMismatchError, match="older vecbridge.*re-create the index"):
        spec_from_mapping(old)
    with pytest.raises(ConfigurationError, match="reserved"):
        build_mapping(CollectionSpec(name="c", sparse_fields=(META_TERMS_FIELD,)), ElasticsearchConfig())
