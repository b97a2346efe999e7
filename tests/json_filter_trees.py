"""Random metadata with keys of mixed kinds and nested objects, and random filter trees over
undeclared keys and dotted paths: the inputs of the JSON-path congruence tests (every backend
against ``vecbridge.schemas.matches``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from vecbridge.schemas import And, Condition, Document, Filter, Not, Or

SCALARS: list[Any] = [
    1,
    "1",
    1.0,
    True,
    False,
    0,
    -2.5,
    7,
    2**53 + 1,
    float(2**53),
    2**60 + 1,
    "",
    "a",
    'q"\\x',
    "it's",
    None,
]
"""Values that must stay apart (``"1"`` / ``1`` / ``True``) or meet (``1`` / ``1.0``)."""
NUMBERS: list[Any] = [0, 1, 1.0, -2.5, 6.5, 7, 2**53, 2**53 + 1, float(2**60), 2**60 + 1, -1e300, 1e300, None]
KEYS = ["k", "m", "a.b", "a.b.c", "n.0", "a.x", "gone"]
"""Undeclared keys and paths; ``n.0`` meets arrays (``n: [1, 2]``), ``gone`` is never stored."""


def _pick(rng: np.random.Generator, pool: list[Any]) -> Any:
    return pool[int(rng.integers(len(pool)))]


def random_metadata(rng: np.random.Generator) -> dict[str, Any]:
    """Each key present or not, as a scalar, a list or a nested object; sometimes a literal
    ``"a.b"`` key (which a dotted filter key must not read)."""
    meta: dict[str, Any] = {}
    if rng.random() < 0.8:
        meta["k"] = _pick(rng, SCALARS + [[1, 2], {"x": 1}])
    if rng.random() < 0.6:
        meta["m"] = _pick(rng, SCALARS)
    roll = rng.random()
    if roll < 0.3:
        meta["a"] = {"b": _pick(rng, SCALARS), "x": _pick(rng, SCALARS)}
    elif roll < 0.5:
        meta["a"] = {"b": {"c": _pick(rng, SCALARS)}}
    elif roll < 0.6:
        meta["a"] = _pick(rng, SCALARS + [[{"b": 1}]])
    if rng.random() < 0.2:
        meta["a.b"] = _pick(rng, SCALARS)
    roll = rng.random()
    if roll < 0.3:
        meta["n"] = [1, 2]
    elif roll < 0.5:
        meta["n"] = {"0": _pick(rng, SCALARS)}
    return meta


def random_documents(n: int, seed: int, prefix: str = "j") -> list[Document]:
    rng = np.random.default_rng(seed)
    return [Document(id=f"{prefix}{i}", text=f"t{i}", metadata=random_metadata(rng)) for i in range(n)]


def random_path_filter(rng: np.random.Generator, depth: int = 0, keys: list[str] = KEYS) -> Filter:
    """A random tree over ``keys``: every operator, None values and None inside lists, mixed kinds."""
    if depth < 3 and rng.random() < 0.35:
        kind = str(rng.choice(["all", "any", "not"]))
        if kind == "not":
            return Not(operand=random_path_filter(rng, depth + 1, keys))
        children = [random_path_filter(rng, depth + 1, keys) for _ in range(int(rng.integers(1, 4)))]
        return And(all=children) if kind == "all" else Or(any=children)
    key = str(rng.choice(keys))
    op = str(rng.choice(["==", "!=", "in", "not in", "<", "<=", ">", ">="]))
    pool = NUMBERS if op in ("<", "<=", ">", ">=") else SCALARS
    if op in ("in", "not in"):
        value: Any = [pool[j] for j in rng.choice(len(pool), size=int(rng.integers(1, 5)), replace=False)]
    else:
        value = _pick(rng, pool)
    return Condition(key=key, op=op, value=value)


def path_filters(keys: list[str] = KEYS, declared: dict[str, list[Any]] | None = None) -> st.SearchStrategy[Filter]:
    """Hypothesis trees over ``keys`` (undeclared) and ``declared`` (key -> values of its type)."""
    key = st.sampled_from(keys)
    leaves = [
        st.builds(Condition, key=key, op=st.sampled_from(["==", "!="]), value=st.sampled_from(SCALARS)),
        st.builds(
            Condition,
            key=key,
            op=st.sampled_from(["in", "not in"]),
            value=st.lists(st.sampled_from(SCALARS), min_size=1, max_size=4),
        ),
        st.builds(Condition, key=key, op=st.sampled_from(["<", "<=", ">", ">="]), value=st.sampled_from(NUMBERS)),
    ]
    for name, values in (declared or {}).items():
        leaves.append(
            st.builds(
                Condition, key=st.just(name), op=st.sampled_from(["==", "!=", ">", "<="]), value=st.sampled_from(values)
            )
        )
    return st.recursive(
        st.one_of(leaves),
        lambda children: st.one_of(
            st.builds(And, all=st.lists(children, min_size=1, max_size=3)),
            st.builds(Or, any=st.lists(children, min_size=1, max_size=3)),
            st.builds(Not, operand=children),
        ),
        max_leaves=8,
    )
