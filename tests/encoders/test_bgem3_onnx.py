"""ONNX (onnxruntime CPU) BGE-M3 vs the torch path on the random-weight stand-in checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vecbridge.encoders import Encoder
from vecbridge.encoders.bgem3 import BGEM3Encoder, load_bgem3
from vecbridge.encoders.bgem3_onnx import BGEM3OnnxEncoder
from vecbridge.encoders.onnx_export import INT8_FILE
from vecbridge.schemas import ConfigurationError
from vecbridge.testing.checkpoints import CHINESE_TEXTS, ENGLISH_TEXTS

TEXTS = ENGLISH_TEXTS + CHINESE_TEXTS + [" ".join(ENGLISH_TEXTS * 2)]
PASSAGE_MAX = 96


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bgem3_onnx")


@pytest.fixture(scope="module")
def torch_out(bgem3_dir: Path):
    return BGEM3Encoder(str(bgem3_dir), device="cpu", batch_size=4, passage_max_length=PASSAGE_MAX).encode_documents(
        TEXTS
    )


@pytest.fixture(scope="module")
def fp32(bgem3_dir: Path, onnx_dir: Path) -> BGEM3OnnxEncoder:
    encoder = load_bgem3(
        str(bgem3_dir), backend="onnx", onnx_dir=onnx_dir, num_threads=1, batch_size=4, passage_max_length=PASSAGE_MAX
    )
    assert isinstance(encoder, BGEM3OnnxEncoder)
    return encoder


@pytest.mark.parametrize("per_text", [True, False], ids=["one-text-per-run", "padded-batches"])
def test_fp32_matches_torch(bgem3_dir: Path, onnx_dir: Path, fp32: BGEM3OnnxEncoder, torch_out, per_text: bool) -> None:
    assert isinstance(fp32, Encoder) and fp32.dense_dim == 96 and fp32.per_text  # the default
    import onnx

    ops = [n.op_type for n in onnx.load(str(fp32.onnx_path)).graph.node]
    assert "SkipLayerNormalization" not in ops and "LayerNormalization" in ops and "Attention" in ops
    encoder = (
        fp32
        if per_text
        else BGEM3OnnxEncoder(
            str(bgem3_dir),
            onnx_dir=onnx_dir,
            num_threads=1,
            batch_size=4,
            passage_max_length=PASSAGE_MAX,
            per_text=False,
        )
    )
    assert encoder.per_text is per_text
    got = encoder.encode_documents(TEXTS)
    np.testing.assert_allclose(got.dense, torch_out.dense, atol=1e-4, rtol=0)
    for i, (a, b) in enumerate(zip(got.colbert, torch_out.colbert, strict=True)):
        assert a.shape == b.shape, f"row {i}"
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    for i, (a, b) in enumerate(zip(got.sparse, torch_out.sparse, strict=True)):
        # a weight within 1e-4 of zero could flip sides of the > 0 cut; the stand-in has none
        np.testing.assert_array_equal(a.indices, b.indices, err_msg=f"row {i}")
        np.testing.assert_allclose(a.values, b.values, atol=1e-4, rtol=0)


def test_export_is_reused_and_outputs_can_be_narrowed(bgem3_dir: Path, onnx_dir: Path, fp32, torch_out) -> None:
    stamp = fp32.onnx_path.stat().st_mtime_ns
    dense_only = BGEM3OnnxEncoder(str(bgem3_dir), onnx_dir=onnx_dir, outputs=["dense"], passage_max_length=PASSAGE_MAX)
    assert dense_only.onnx_path.stat().st_mtime_ns == stamp
    got = dense_only.encode_documents(TEXTS)
    assert got.sparse is None and got.colbert is None
    np.testing.assert_allclose(got.dense, torch_out.dense, atol=1e-4)


def test_int8_runs_and_stays_close(bgem3_dir: Path, onnx_dir: Path, fp32, torch_out) -> None:
    int8 = load_bgem3(
        str(bgem3_dir), backend="onnx", onnx_dir=onnx_dir, quantize="int8", passage_max_length=PASSAGE_MAX
    )
    assert int8.onnx_path.name == INT8_FILE
    got = int8.encode_documents(TEXTS)
    cosine = (got.dense * torch_out.dense).sum(axis=1)
    overlap = [
        len(set(a.indices) & set(b.indices)) / max(len(b), 1) for a, b in zip(got.sparse, torch_out.sparse, strict=True)
    ]
    print(f"int8 vs fp32: dense cosine min {cosine.min():.5f}, sparse id overlap min {min(overlap):.3f}")
    assert cosine.min() > 0.95
    assert min(overlap) > 0.8
    assert [c.shape for c in got.colbert] == [c.shape for c in torch_out.colbert]


def test_int8_runs_each_text_alone_so_outputs_do_not_depend_on_the_batch(bgem3_dir: Path, onnx_dir: Path, fp32) -> None:
    int8 = load_bgem3(
        str(bgem3_dir), backend="onnx", onnx_dir=onnx_dir, quantize="int8", batch_size=8, passage_max_length=PASSAGE_MAX
    )
    assert int8.per_text and fp32.per_text
    for encoder in (int8, fp32):  # fp32 runs each text alone too (no padded token computed)
        batched = encoder.encode_documents(TEXTS)  # one batch of texts of different lengths
        for i in (0, len(TEXTS) - 1):
            alone = encoder.encode_documents(TEXTS[i : i + 1])
            np.testing.assert_array_equal(alone.dense[0], batched.dense[i])
            np.testing.assert_array_equal(alone.sparse[0].indices, batched.sparse[i].indices)
            np.testing.assert_array_equal(alone.sparse[0].values, batched.sparse[i].values)
            np.testing.assert_array_equal(alone.colbert[0], batched.colbert[i])
    batched = int8.encode_documents(TEXTS)
    int8.per_text = False  # the same graph fed the padded batch: a short text's vector moves with its batch
    moved = int8.encode_documents(TEXTS).dense[0]
    assert np.abs(moved - batched.dense[0]).max() > 1e-5


def test_bad_options_fail_clearly(bgem3_dir: Path, onnx_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="quantize"):
        BGEM3OnnxEncoder(str(bgem3_dir), onnx_dir=onnx_dir, quantize="int4")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="per_text=False needs the fp32 graph"):
        BGEM3OnnxEncoder(str(bgem3_dir), onnx_dir=onnx_dir, quantize="int8", per_text=False)
    with pytest.raises(ConfigurationError, match="CPU only"):
        BGEM3OnnxEncoder(str(bgem3_dir), onnx_dir=onnx_dir, device="cuda")


def test_factory_auto_quantization_keeps_bgem3_fp32(bgem3_dir: Path, onnx_dir: Path, fp32) -> None:
    from vecbridge.encoders.factory import load_encoder

    auto = load_encoder(str(bgem3_dir), backend="onnx", quantize="auto", onnx_dir=onnx_dir, max_length=PASSAGE_MAX)
    assert auto.quantize is None and auto.onnx_path == fp32.onnx_path  # FlagEmbedding's outputs, not int8


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_lanes_run_texts_at_once_with_the_same_bits(bgem3_dir: Path, onnx_dir: Path, quantize) -> None:
    """``lanes=2``: a batch's texts run two at once on single-threaded sessions; outputs equal one lane's."""
    common = dict(
        backend="onnx",
        onnx_dir=onnx_dir,
        quantize=quantize,
        num_threads=1,
        batch_size=8,
        passage_max_length=PASSAGE_MAX,
    )
    one = load_bgem3(str(bgem3_dir), **common).encode_documents(TEXTS)
    laned = load_bgem3(str(bgem3_dir), lanes=2, **common)
    got = laned.encode_documents(TEXTS)
    assert laned.each_text.lanes == 2 and laned.each_text._idle is not None  # the lane sessions ran the batch
    np.testing.assert_array_equal(got.dense, one.dense)
    for a, b in zip(got.sparse, one.sparse, strict=True):
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.values, b.values)
    for a, b in zip(got.colbert, one.colbert, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigurationError, match="lanes must be a positive int"):
        load_bgem3(str(bgem3_dir), lanes=0, **common)
