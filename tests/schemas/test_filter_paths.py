"""Undeclared keys and dotted paths in ``vecbridge.schemas.filters``: validation (``PathCondition``,
errors naming the key), ``resolve`` / ``metadata_paths``, strict kinds in ``matches``, and agreement
with Haystack's evaluator on nested ``meta`` paths (where Haystack is strict too: no bools)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from tests.schemas.test_filter_semantics import to_vecbridge
from vecbridge.schemas import And, CollectionSpec, Condition, FilterError, ScalarType, matches, validate_filter
from vecbridge.schemas.filters import PathCondition, eq, is_in, metadata_paths, ne, not_in, resolve

SPEC = CollectionSpec(name="p", dense_dim=4, filterable={"year": ScalarType.INT})


def test_undeclared_keys_become_path_conditions_and_declared_keys_stay_typed():
    tree = validate_filter(And(all=[eq("year", 1), eq("colour", "red"), eq("a.b", 1)]), SPEC)
    kinds = [type(c) for c in tree.all]
    assert kinds == [Condition, PathCondition, PathCondition]


@pytest.mark.parametrize(
    "node, message",
    [
        (Condition(key="colour", op=">", value="red"), "undeclared key 'colour' needs a number"),
        (Condition(key="colour", op="<", value=False), "needs a number"),
        (Condition(key="when", op="==", value=date(2020, 1, 1)), "declared filterable as datetime"),
        (eq("k", float("nan")), "finite"),
        (is_in("k", [2**64]), "64-bit"),
        (eq("a.", 1), "empty path segment"),
        (eq("year.month", 1), "'year' is declared filterable"),
        (Condition(key="k", op="in", value="x"), "non-empty JSON list"),
        (Condition(key="k", op="==", value=[1]), "needs a scalar"),
    ],
)
def test_undeclared_errors_name_the_key(node, message):
    with pytest.raises(FilterError, match=message):
        validate_filter(node, SPEC)


def test_resolve_walks_objects_only():
    meta = {"a": {"b": {"c": 1}}, "l": [{"x": 1}], "s": "str", "a.b": 9}
    assert resolve(meta, "a.b.c") == 1 and resolve(meta, "a.b") == {"c": 1}
    assert resolve(meta, "l.0") is None and resolve(meta, "s.x") is None and resolve(meta, "nope.x") is None


def test_metadata_paths_skip_nulls_and_dotted_segments():
    assert sorted(p for p, _ in metadata_paths({"a": {"b": 1, "n": None, "c.d": 2}, "z": None})) == ["a", "a.b"]


@pytest.mark.parametrize(
    "node, meta, expected",
    [
        (eq("k", 1), {"k": 1.0}, True),
        (eq("k", 1), {"k": True}, False),
        (eq("k", 1), {"k": "1"}, False),
        (eq("k", True), {"k": 1}, False),
        (ne("k", 1), {}, True),
        (eq("k", None), {"k": None}, True),
        (eq("k", None), {"k": [1]}, False),
        (eq("k", 1), {"k": [1]}, False),
        (Condition(key="k", op=">", value=0), {"k": True}, False),
        (Condition(key="k", op=">", value=0), {"k": "5"}, False),
        (not_in("a.b", [1]), {"a": {"b": 2}}, True),
        (eq("a.b", 1), {"a.b": 1}, False),  # a dotted key is a path, never a literal dotted key
        (eq("k", 2**53 + 1), {"k": float(2**53)}, False),
    ],
)
def test_strict_kinds(node, meta, expected):
    assert matches(node, meta, SPEC) is expected


# ---- agreement with Haystack's evaluator on nested meta ----------------------------------
POOL: list[Any] = [0, 1, 2, -3, 2.5, "a", "b", "", None]
PATHS = ["x", "x.y", "x.y.z", "w"]


def _nested(rng: np.random.Generator) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.3:
        meta["x"] = POOL[int(rng.integers(len(POOL)))]
    elif roll < 0.6:
        meta["x"] = {"y": POOL[int(rng.integers(len(POOL)))]}
    elif roll < 0.85:
        meta["x"] = {"y": {"z": POOL[int(rng.integers(len(POOL)))]}}
    if rng.random() < 0.5:
        meta["w"] = POOL[int(rng.integers(len(POOL)))]
    return meta


def _haystack_filter(rng: np.random.Generator, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.35:
        op = str(rng.choice(["AND", "OR", "NOT"]))
        return {
            "operator": op,
            "conditions": [_haystack_filter(rng, depth + 1) for _ in range(int(rng.integers(1, 3)))],
        }
    op = str(rng.choice(["==", "!=", "in", "not in"]))
    if op in ("in", "not in"):
        value: Any = [POOL[j] for j in rng.choice(len(POOL), size=int(rng.integers(1, 4)), replace=False)]
    else:
        value = POOL[int(rng.integers(len(POOL)))]
    return {"field": f"meta.{rng.choice(PATHS)}", "operator": op, "value": value}


def test_nested_paths_agree_with_haystack():
    pytest.importorskip("haystack")
    from haystack import Document as HaystackDocument
    from haystack.utils.filters import document_matches_filter

    rng = np.random.default_rng(5)
    metas = [_nested(rng) for _ in range(60)]
    docs = [HaystackDocument(content="x", meta=m) for m in metas]
    for _ in range(300):
        flt = _haystack_filter(rng)
        node = validate_filter(to_vecbridge(flt), SPEC)
        assert [matches(node, m, SPEC) for m in metas] == [document_matches_filter(flt, d) for d in docs], flt
