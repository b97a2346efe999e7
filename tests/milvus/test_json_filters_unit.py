"""compile_filter on undeclared keys and dotted paths: expected Milvus JSON-path expressions (pure, no engine).

What the engine does with them is pinned in test_json_filters_engine.py."""

from __future__ import annotations

import pytest

from vecbridge.connectors.milvus.filters import compile_filter
from vecbridge.connectors.milvus.json_filters import ANY_TAG, type_map
from vecbridge.schemas import CollectionSpec, Condition, FilterError, Not, Or, ScalarType
from vecbridge.schemas.filters import eq, is_in, ne, not_in

SPEC = CollectionSpec(name="c", dense_dim=4, filterable={"year": ScalarType.INT})
T = '_meta_types["k"]'


@pytest.mark.parametrize(
    "node, expected",
    [
        (eq("k", 1), 'metadata["k"] == 1'),
        (eq("k", 1.0), 'metadata["k"] == 1'),  # integral float literal as an integer: exact against big ints
        (eq("k", 2.5), 'metadata["k"] == 2.5'),
        (eq("k", "1"), 'metadata["k"] == "1"'),
        (eq("k", True), 'metadata["k"] == true'),
        (ne("k", 1), 'metadata["k"] != 1'),
        (eq("k", None), f"{T} not in {ANY_TAG}"),
        (ne("k", None), f"{T} in {ANY_TAG}"),
        (eq("a.b", 'say "hi"'), r'metadata["a"]["b"] == "say \"hi\""'),
        (eq('q"k', 1), r'metadata["q\"k"] == 1'),
        (Condition(key="k", op=">", value=1), 'metadata["k"] > 1'),
        (Condition(key="k", op="<", value=None), 'id == ""'),
        (Not(operand=Condition(key="k", op=">", value=1)), f'({T} not in ["f", "i"] or metadata["k"] <= 1)'),
        (eq("k", 2**53 + 1), 'metadata["k"] in [9007199254740993]'),  # no double equals it: "==" would match 2.0**53
        (ne("k", 2**53 + 1), 'metadata["k"] not in [9007199254740993]'),
        (
            Condition(key="k", op="<", value=2**53 + 1),
            f'(({T} == "i" and metadata["k"] < 9007199254740993)'
            f' or ({T} == "f" and metadata["k"] <= 9007199254740992))',
        ),
        (
            Condition(key="k", op=">", value=2**53 + 1),
            f'(({T} == "i" and metadata["k"] > 9007199254740993)'
            f' or ({T} == "f" and metadata["k"] >= 9007199254740994))',
        ),
        (Condition(key="k", op="<", value=-1e300), f'({T} == "f" and metadata["k"] < -1e+300)'),
        (Condition(key="k", op=">", value=-1e300), f'({T} == "i" or ({T} == "f" and metadata["k"] > -1e+300))'),
        (Not(operand=Condition(key="k", op=">=", value=None)), 'id != ""'),
        (
            is_in("k", [1, "1", True, 2.5, 1.0]),
            '(metadata["k"] in [1] or metadata["k"] in ["1"] or metadata["k"] in [true] or metadata["k"] in [2.5])',
        ),
        (is_in("k", [None, 1]), f'({T} not in {ANY_TAG} or metadata["k"] in [1])'),
        (not_in("k", [None, "a"]), f'({T} in {ANY_TAG} and metadata["k"] not in ["a"])'),
        (not_in("k", [1, False]), '(metadata["k"] not in [1] and metadata["k"] not in [false])'),
        (
            Or(any=[eq("k", 1), eq("k", "x"), eq("year", 2)]),
            '((metadata["k"] in [1] or metadata["k"] in ["x"]) or year == 2)',
        ),
        (eq("n.0", 1), f'(_meta_types["n.0"] in {ANY_TAG} and metadata["n"]["0"] == 1)'),  # "0" also indexes arrays
        (ne("n.0", 1), f'(_meta_types["n.0"] not in {ANY_TAG} or metadata["n"]["0"] != 1)'),
    ],
    ids=repr,
)
def test_compile(node, expected):
    assert compile_filter(node, SPEC) == expected


@pytest.mark.parametrize(
    "node, message",
    [
        (eq("x/y", 1), "'/'"),
        (eq("a..b", 1), "empty path segment"),
        (eq(".".join("abcdefghi"), 1), "more than 8 path segments"),
        (eq("year.x", 1), "'year' is declared filterable"),
        (eq("k", "a\nb"), "cannot hold"),
        (Condition(key="k", op=">", value="2020-01-01"), "needs a number"),
        (Condition(key="k", op=">", value=True), "needs a number"),
        (eq("k", float("inf")), "finite"),
        (eq("k", 2**63), "64-bit"),
    ],
)
def test_rejects(node, message):
    with pytest.raises(FilterError, match=message):
        compile_filter(node, SPEC)


def test_type_map_walks_objects_only():
    meta = {
        "k": 1,
        "s": "x",
        "b": False,
        "l": [{"x": 1}],
        "o": {"p": 2.5, "q.r": 1, "z": None},
        "a.b": 1,
        "n": None,
        "x/y": 1,
        "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}},
    }
    assert type_map(meta) == {
        "k": "i",
        "s": "s",
        "b": "b",
        "l": "a",
        "o": "o",
        "o.p": "f",
        "deep": "o",
        "deep.a": "o",
        "deep.a.b": "o",
        "deep.a.b.c": "o",
        "deep.a.b.c.d": "o",
        "deep.a.b.c.d.e": "o",
        "deep.a.b.c.d.e.f": "o",
        "deep.a.b.c.d.e.f.g": "o",  # 8 segments at most
    }


def test_many_equalities_on_one_undeclared_key_stay_few_leaves():
    """Milvus Lite rejects more than ~50 ``or`` leaves: 500 equalities merge into one ``in`` per kind."""
    node = Or(any=[eq("k", i) for i in range(250)] + [eq("k", str(i)) for i in range(250)])
    assert compile_filter(node, SPEC).count(" in [") == 2
