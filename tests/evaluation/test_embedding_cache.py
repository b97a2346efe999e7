"""Document embeddings are encoded once per model and corpus, across indexes of different retriever sets."""

from __future__ import annotations

import numpy as np

from tests.evaluation.helpers import mixed_loader
from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.embedding_cache import EmbeddingCache
from vecbridge.evaluation.encoders import EncoderConfig
from vecbridge.evaluation.runner import EvalOptions, run_eval


class CountingEncoder(BagOfWordsEncoder):
    """The bag-of-words fake, counting the documents it encodes."""

    documents = 0

    def encode_documents(self, texts):
        CountingEncoder.documents += len(texts)
        return super().encode_documents(texts)


def counting_loader(retriever, model, corpus, cache_dir):
    if model.startswith("count"):
        return CountingEncoder()
    return mixed_loader(retriever, model, corpus, cache_dir)


def test_cache_returns_the_encoder_output_and_encodes_each_text_once(tmp_path):
    encoder = BagOfWordsEncoder()
    texts = ["sparse retrieval", "dense vectors", "sparse retrieval", "bm25 scoring"]
    direct = encoder.encode_documents(texts)
    cache = EmbeddingCache(tmp_path)
    first = cache.encode(encoder, texts)
    assert (cache.hits, cache.misses) == (1, 3)
    again = EmbeddingCache(tmp_path).encode(encoder, list(reversed(texts)))
    np.testing.assert_allclose(first.dense, direct.dense)
    for a, b in zip(first.sparse, direct.sparse, strict=True):
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.values, b.values)
    np.testing.assert_allclose(again.dense, direct.dense[::-1])
    reloaded = EmbeddingCache(tmp_path)
    reloaded.encode(encoder, texts)
    assert (reloaded.hits, reloaded.misses) == (4, 0)


def test_second_index_with_other_retrievers_reuses_the_encodings(scifact_dir, tmp_path):
    dataset = load_beir(scifact_dir, "test", limit_queries=5, max_docs=120)
    options = EvalOptions(modes="all", latency_queries=0)
    connector = InMemoryConnector()
    CountingEncoder.documents = 0
    one = run_eval(
        dataset,
        [EncoderConfig("a", {"dense": "count-dense"})],
        lambda: connector,
        tmp_path,
        options,
        loader=counting_loader,
    )
    assert CountingEncoder.documents == 120
    connector = InMemoryConnector()
    two = run_eval(
        dataset,
        [EncoderConfig("b", {"bm25": "bm25", "dense": "count-dense"})],
        lambda: connector,
        tmp_path,
        options,
        loader=counting_loader,
    )
    assert CountingEncoder.documents == 120  # the new collection was built from cached vectors
    assert one["configs"][0]["collection"] != two["configs"][0]["collection"]
    rows = {r["name"]: r["metrics"] for r in two["configs"][0]["modes"]}
    assert rows["dense"] == {r["name"]: r["metrics"] for r in one["configs"][0]["modes"]}["dense"]


def test_quantized_graphs_of_different_recipes_get_different_cache_keys():
    from pathlib import Path

    from vecbridge.evaluation.embedding_cache import model_fingerprint
    from vecbridge.evaluation.encoders import identity

    old, new, fp32 = BagOfWordsEncoder(), BagOfWordsEncoder(), BagOfWordsEncoder()
    old.quantize = new.quantize = "int8"
    old.onnx_path = Path("/m/onnx/dense-v1-abc/model.int8.onnx")
    new.onnx_path = Path("/m/onnx/dense-v1-abc/model.int8-v2.onnx")
    fp32.onnx_path = Path("/m/onnx/dense-v1-abc/model.onnx")
    keys = {model_fingerprint(identity(e, "all-MiniLM-L6-v2")) for e in (old, new)}
    assert len(keys) == 2
    assert identity(new, "m")["onnx_graph"] == "dense-v1-abc/model.int8-v2.onnx"
    assert "onnx_graph" not in identity(fp32, "m")  # fp32 equals torch (1e-4): one cache for both


def test_int8_fed_per_text_and_fed_in_batches_get_different_cache_keys():
    from pathlib import Path
    from types import SimpleNamespace

    from vecbridge.evaluation.embedding_cache import model_fingerprint
    from vecbridge.evaluation.encoders import identity

    per_text, batched = BagOfWordsEncoder(), BagOfWordsEncoder()
    for encoder, flag in ((per_text, True), (batched, False)):
        encoder.quantize, encoder.onnx_path = "int8", Path("/m/onnx/dense-v1-abc/model.int8-v2.onnx")
        encoder.model = SimpleNamespace(per_text=flag)
    assert identity(per_text, "m")["per_text"] is True
    assert model_fingerprint(identity(per_text, "m")) != model_fingerprint(identity(batched, "m"))
    bgem3 = BagOfWordsEncoder()  # the BGE-M3 ONNX encoder keeps the flag itself (it has no ``model``)
    bgem3.quantize, bgem3.onnx_path, bgem3.per_text = "int8", Path("/m/onnx/bgem3-v1-abc/model.int8-v2.onnx"), True
    assert identity(bgem3, "m")["per_text"] is True
