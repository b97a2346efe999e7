"""Fusion: hand-computed values for the pinned RRF and the linear fusion."""

import pytest

from vecbridge.fusion import linear, minmax, rrf
from vecbridge.schemas import Hit


def hits(*ids_scores):
    return [Hit(id=i, score=s) for i, s in ids_scores]


def test_rrf_matches_hand_computed_scores():
    lists = {"dense": hits(("a", 0.9), ("b", 0.8), ("c", 0.7)), "sparse": hits(("c", 12.0), ("a", 3.0))}
    fused = rrf(lists, limit=10)
    expected = {"a": 1 / 61 + 1 / 62, "b": 1 / 62, "c": 1 / 63 + 1 / 61}
    assert [h.id for h in fused] == ["a", "c", "b"]
    for h in fused:
        assert h.score == pytest.approx(expected[h.id], abs=1e-15)
    assert fused[1].ranks == {"dense": 3, "sparse": 1}
    assert fused[1].scores == {"dense": 0.7, "sparse": 12.0}
    assert fused[2].ranks == {"dense": 2}


def test_rrf_weights_k_and_limit():
    lists = {"dense": hits(("a", 1), ("b", 1)), "sparse": hits(("b", 1), ("a", 1))}
    fused = rrf(lists, limit=1, k=1, weights={"dense": 3.0})
    # a: 3/2 + 1/3, b: 3/3 + 1/2
    assert [h.id for h in fused] == ["a"]
    assert fused[0].score == pytest.approx(3 / 2 + 1 / 3)


def test_rrf_ties_break_by_id_and_inputs_are_not_mutated():
    lists = {"dense": hits(("z", 0.5), ("y", 0.4)), "sparse": hits(("y", 2.0), ("z", 1.0))}
    before = [h.model_copy(deep=True) for h in lists["dense"]]
    fused = rrf(lists, limit=5)
    assert [h.id for h in fused] == ["y", "z"]  # equal scores -> ascending id
    assert lists["dense"] == before


def test_rrf_zero_weight_adds_nothing_and_bad_input_is_rejected():
    fused = rrf({"dense": hits(("a", 1)), "sparse": hits(("b", 1))}, limit=5, weights={"sparse": 0})
    assert [(h.id, h.score) for h in fused] == [("a", pytest.approx(1 / 61)), ("b", 0.0)]
    with pytest.raises(ValueError, match="rrf_k=0: must be > 0"):
        rrf({"dense": []}, limit=5, k=0)
    with pytest.raises(ValueError, match="no list"):
        rrf({"dense": []}, limit=5, weights={"bm25": 1})
    with pytest.raises(ValueError, match="twice"):
        rrf({"dense": hits(("a", 1), ("a", 0.5))}, limit=5)


def test_minmax_and_linear_fusion():
    assert minmax([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert minmax([2.0, 4.0], higher_is_better=False) == [1.0, 0.0]
    assert minmax([5.0, 5.0]) == [1.0, 1.0]
    lists = {"dense": hits(("a", 0.9), ("b", 0.5), ("c", 0.1)), "sparse": hits(("c", 10.0), ("b", 6.0))}
    fused = linear(lists, limit=3, weights={"dense": 0.5, "sparse": 1.0})
    # a: .5*1 ; b: .5*.5 + 0 ; c: 0 + 1
    assert [(h.id, round(h.score, 6)) for h in fused] == [("c", 1.0), ("a", 0.5), ("b", 0.25)]
