import numpy as np
import pytest

from encoders import encode_in_batches, encode_rows_in_batches, length_sorted_batches, resolve_model_path
from schemas import Embeddings, ModelNotFoundError


def test_length_sorted_batches_cover_every_row_longest_first():
    lengths = [3, 9, 1, 9, 5]
    batches = list(length_sorted_batches(lengths, 2))
    assert batches == [[1, 3], [4, 0], [2]]
    with pytest.raises(ValueError, match="batch_size"):
        list(length_sorted_batches(lengths, 0))


def test_encode_in_batches_restores_input_order():
    texts = ["ccc", "a", "bbbbb", "dd"]
    seen = []

    def encode(batch):
        seen.append(batch)
        return Embeddings(dense=np.array([[len(t), 0.0] for t in batch]))

    out = encode_in_batches(texts, [len(t) for t in texts], 2, encode)
    assert seen == [["bbbbb", "ccc"], ["dd", "a"]]
    assert out.dense[:, 0].tolist() == [3, 1, 5, 2]
    with pytest.raises(TypeError, match="not a single string"):
        encode_in_batches("abc", [3], 2, encode)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        encode_in_batches(["a", 3], [1, 1], 2, encode)


def test_missing_model_folder_error_names_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model_path(str(missing))


def test_offline_hub_id_error_is_clear(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="local folder"):
        resolve_model_path("no-such-org/no-such-model-xyz")


def test_encode_rows_in_batches_passes_row_indices_and_restores_order():
    lengths = [3, 1, 5, 2]
    seen = []

    def encode(rows):
        seen.append(rows)
        return Embeddings(dense=np.array([[lengths[i], 0.0] for i in rows]))

    out = encode_rows_in_batches(lengths, 2, encode)
    assert seen == [[2, 0], [3, 1]]
    assert out.dense[:, 0].tolist() == lengths
    assert len(encode_rows_in_batches([], 2, encode)) == 0


def test_pad_rows_equals_the_tokenizers_own_right_padding(bgem3_dir):
    from encoders._hf import load_tokenizer, pad_rows

    tokenizer = load_tokenizer(bgem3_dir)
    texts = ["a much longer text than the others, with words", "short", "", "向量 database"]
    padded = tokenizer(texts, truncation=True, max_length=8, padding=True, return_tensors="np")
    ids = tokenizer(texts, truncation=True, max_length=8)["input_ids"]
    input_ids, attention_mask = pad_rows(ids, tokenizer.pad_token_id)
    assert input_ids.dtype == attention_mask.dtype == np.int64
    np.testing.assert_array_equal(input_ids, padded["input_ids"])
    np.testing.assert_array_equal(attention_mask, padded["attention_mask"])
