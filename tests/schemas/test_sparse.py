import numpy as np
import pytest
from pydantic import ValidationError
from scipy.sparse import csr_matrix

from vecbridge.schemas import SparseVector


def test_canonical_form_sorts_and_drops_zeros():
    v = SparseVector(indices=[7, 2, 5], values=[0.5, 1.5, 0.0])
    assert v.indices.tolist() == [2, 7] and v.indices.dtype == np.uint32
    assert v.values.tolist() == [1.5, 0.5] and v.values.dtype == np.float32
    assert len(v) == 2


@pytest.mark.parametrize(
    ("indices", "values", "message"),
    [
        ([1, 1], [0.1, 0.2], "unique"),
        ([1], [-0.5], ">= 0"),
        ([1], [float("nan")], "finite"),
        ([1, 2], [0.5], "differ in length"),
        ([-1], [0.5], r"\[0, 2\*\*32-1\]"),
        ([2**32], [0.5], r"\[0, 2\*\*32-1\]"),
        ([1.5], [0.5], "integers"),
    ],
)
def test_bad_vectors_name_the_problem(indices, values, message):
    with pytest.raises(ValidationError, match=message):
        SparseVector(indices=indices, values=values)


def test_flagembedding_dict_and_csr_round_trips():
    weights = {"2": 0.25, "10": 1.0, "3": 0.0}
    v = SparseVector.from_lexical_weights(weights)
    assert v.to_lexical_weights() == {"2": 0.25, "10": 1.0}
    assert SparseVector.from_dict({10: 1.0, 2: 0.25}) == v
    matrix = v.to_csr(dim=16)
    assert matrix.shape == (1, 16) and matrix[0, 10] == 1.0
    rows = csr_matrix(np.array([[0, 3.0, 0], [1.0, 0, 2.0]], dtype=np.float32))
    assert SparseVector.from_csr_row(rows, 1).to_dict() == {0: 1.0, 2: 2.0}
    with pytest.raises(ValueError, match="token ids"):
        SparseVector.from_dict({"cat": 1.0})
    with pytest.raises(ValueError, match="dim=5"):
        v.to_csr(dim=5)


def test_dot_is_the_sparse_inner_product():
    a = SparseVector.from_dict({1: 2.0, 3: 1.0, 9: 4.0})
    b = SparseVector.from_dict({3: 0.5, 9: 0.25, 11: 7.0})
    assert a.dot(b) == pytest.approx(1.0 * 0.5 + 4.0 * 0.25)
