"""``translate_filter``: LangChain-style (Mongo-like) filters -> vecbridge filter trees. Pure function,
checked node by node and, on a small corpus, against vecbridge's reference evaluator
(``vecbridge.schemas.filters.matches``) next to a plain-Python reading of the LangChain filter."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")

from vecbridge.integrations.langchain_filters import is_vecbridge_filter, translate_filter  # noqa: E402
from vecbridge.schemas import FilterError, parse_filter  # noqa: E402
from vecbridge.schemas.filters import Condition, eq, matches  # noqa: E402


@pytest.mark.parametrize(
    ("lc", "expected"),
    [
        ({"lang": "en"}, {"key": "lang", "op": "==", "value": "en"}),
        ({"lang": {"$eq": "en"}}, {"key": "lang", "op": "==", "value": "en"}),
        ({"lang": {"$ne": "en"}}, {"key": "lang", "op": "!=", "value": "en"}),
        ({"year": {"$gt": 1}}, {"key": "year", "op": ">", "value": 1}),
        ({"year": {"$gte": 1}}, {"key": "year", "op": ">=", "value": 1}),
        ({"year": {"$lt": 1}}, {"key": "year", "op": "<", "value": 1}),
        ({"year": {"$lte": 1.5}}, {"key": "year", "op": "<=", "value": 1.5}),
        ({"lang": {"$in": ["en", "de"]}}, {"key": "lang", "op": "in", "value": ["en", "de"]}),
        ({"lang": {"$nin": ["en"]}}, {"key": "lang", "op": "not in", "value": ["en"]}),
        ({"lang": {"$exists": True}}, {"key": "lang", "op": "!=", "value": None}),
        ({"lang": {"$exists": False}}, {"key": "lang", "op": "==", "value": None}),
        ({"lang": None}, {"key": "lang", "op": "==", "value": None}),
        ({"source.file": "a.txt"}, {"key": "source.file", "op": "==", "value": "a.txt"}),
        (
            {"year": {"$between": [2019, 2021]}},
            {"all": [{"key": "year", "op": ">=", "value": 2019}, {"key": "year", "op": "<=", "value": 2021}]},
        ),
        (
            {"year": {"$gte": 2019, "$lt": 2021}},
            {"all": [{"key": "year", "op": ">=", "value": 2019}, {"key": "year", "op": "<", "value": 2021}]},
        ),
        (
            {"lang": "en", "year": 2021},
            {"all": [{"key": "lang", "op": "==", "value": "en"}, {"key": "year", "op": "==", "value": 2021}]},
        ),
        (
            {"$and": [{"lang": "en"}, {"year": 2021}]},
            {"all": [{"key": "lang", "op": "==", "value": "en"}, {"key": "year", "op": "==", "value": 2021}]},
        ),
        (
            {"$or": [{"lang": "en"}, {"$not": {"year": {"$in": [1, 2]}}}]},
            {
                "any": [
                    {"key": "lang", "op": "==", "value": "en"},
                    {"not": {"key": "year", "op": "in", "value": [1, 2]}},
                ]
            },
        ),
        (
            {"lang": "en", "$or": [{"year": 1}, {"year": 2}]},
            {
                "all": [
                    {"key": "lang", "op": "==", "value": "en"},
                    {"any": [{"key": "year", "op": "==", "value": 1}, {"key": "year", "op": "==", "value": 2}]},
                ]
            },
        ),
    ],
)
def test_translation(lc, expected):
    assert translate_filter(lc) == expected


def test_no_filter():
    assert translate_filter(None) is None
    assert translate_filter({}) is None


def test_vecbridge_filters_pass_through_unchanged():
    tree = eq("lang", "en")
    assert translate_filter(tree) is tree
    for json_form in (
        {"key": "lang", "op": "==", "value": "en"},
        {"all": [{"key": "a", "op": "==", "value": 1}]},
        {"any": [{"key": "a", "op": "==", "value": 1}]},
        {"not": {"key": "a", "op": "==", "value": 1}},
    ):
        assert is_vecbridge_filter(json_form)
        assert translate_filter(json_form) is json_form
    assert not is_vecbridge_filter({"lang": "en"})


@pytest.mark.parametrize(
    ("lc", "message"),
    [
        ({"lang": {"$like": "e%"}}, "filter.lang.$like: unsupported operator '$like'"),
        ({"lang": {"$in": ("en", "de")}}, "filter.lang.$in needs a JSON list"),
        ({"lang": {"$nin": "en"}}, "filter.lang.$nin needs a JSON list"),
        ({"lang": ["en", "de"]}, "filter.lang: a list value is ambiguous"),
        ({"lang": {"$exists": 1}}, "filter.lang.$exists needs true or false"),
        ({"year": {"$between": [1]}}, "filter.year.$between needs a list [low, high]"),
        ({"meta": {"a": 1}}, "for nested metadata use a dotted key"),
        ({"$nor": [{"a": 1}]}, "filter.$nor: unknown logical operator '$nor'"),
        ({"$and": []}, "filter.$and must be a non-empty list"),
        ({"$or": [{"a": 1}, "b"]}, "filter.$or[1] must be a non-empty object"),
        ({"$and": [{"a": {"$gt": 1, "$regex": "x"}}]}, "filter.$and[0].a.$regex: unsupported operator"),
        ("lang == 'en'", "filter must be a non-empty object"),
    ],
)
def test_untranslatable_filters_name_path_and_value(lc, message):
    with pytest.raises(FilterError) as info:
        translate_filter(lc)
    assert message in str(info.value)


CORPUS = [
    {"lang": "en", "year": 2019},
    {"lang": "de", "year": 2021},
    {"lang": "en", "year": 2023},
    {"lang": "fr", "year": 2020},
    {"lang": "en", "year": 2021},
]


def _lc_reading(f, meta):
    """What a LangChain user means by the filter, read in plain Python (every key present here)."""
    out = True
    for key, spec in f.items():
        if key == "$and":
            out &= all(_lc_reading(c, meta) for c in spec)
        elif key == "$or":
            out &= any(_lc_reading(c, meta) for c in spec)
        elif key == "$not":
            out &= not _lc_reading(spec, meta)
        elif not isinstance(spec, dict):
            out &= meta[key] == spec
        else:
            v = meta[key]
            ops = {
                "$eq": v.__eq__,
                "$ne": v.__ne__,
                "$gt": v.__gt__,
                "$gte": v.__ge__,
                "$lt": v.__lt__,
                "$lte": v.__le__,
                "$in": lambda xs, v=v: v in xs,
                "$nin": lambda xs, v=v: v not in xs,
                "$between": lambda lh, v=v: lh[0] <= v <= lh[1],
            }
            out &= all(ops[op](arg) for op, arg in spec.items())
    return out


@pytest.mark.parametrize(
    "lc",
    [
        {"lang": "en"},
        {"lang": {"$ne": "en"}},
        {"year": {"$gte": 2020, "$lt": 2023}},
        {"lang": {"$in": ["de", "fr"]}},
        {"lang": {"$nin": ["de", "fr"]}},
        {"lang": "en", "year": {"$gt": 2019}},
        {"$or": [{"lang": "de"}, {"year": {"$between": [2022, 2030]}}]},
        {"$and": [{"lang": "en"}, {"$not": {"year": 2021}}]},
    ],
)
def test_translated_filters_select_what_the_langchain_filter_means(lc):
    tree = parse_filter(translate_filter(lc))
    selected = [i for i, meta in enumerate(CORPUS) if matches(tree, meta)]
    assert selected == [i for i, meta in enumerate(CORPUS) if _lc_reading(lc, meta)]
    assert selected  # every case selects something (and, by the list above, not everything)
    assert len(selected) < len(CORPUS)
    assert isinstance(parse_filter(translate_filter({"lang": "en"})), Condition)
