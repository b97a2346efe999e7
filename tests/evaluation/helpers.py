"""Paths of the shared data and encoder loaders for evaluation tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.facade.fakes import BagOfWordsEncoder

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SCIFACT = DATA / "scifact"
TOY = DATA / "flagembedding_toy"


def real_bm25_available() -> bool:
    return importlib.util.find_spec("vecbridge.encoders.bm25") is not None


def fake_loader(retriever: str, model: str, corpus, cache_dir):
    """Hashed bag-of-words (dense 32-d / sparse term counts) for every model name."""
    return BagOfWordsEncoder()


def mixed_loader(retriever: str, model: str, corpus, cache_dir):
    """Real BM25 when the encoders package has it; the bag-of-words fake otherwise."""
    if model == "bm25" and real_bm25_available():
        from vecbridge.evaluation.encoders import default_loader

        return default_loader(retriever, model, corpus, cache_dir)
    return BagOfWordsEncoder()


MIXED = Path(__file__).resolve().parent / "data" / "mixed_en_zh"


class EnglishOnlyEncoder(BagOfWordsEncoder):
    """A dense model that only understands ASCII words: Chinese text maps to the zero vector."""

    name = "english-only-bow"

    def _encode(self, texts):
        import re

        return super()._encode([" ".join(re.findall(r"[A-Za-z0-9]+", t)) for t in texts])

    encode_documents = _encode
    encode_queries = _encode


def english_only_loader(retriever: str, model: str, corpus, cache_dir):
    """Real BM25 (jieba-aware) if available, and an English-only dense model."""
    if retriever == "dense":
        return EnglishOnlyEncoder()
    return mixed_loader(retriever, model, corpus, cache_dir)


def named_loader(retriever: str, model: str, corpus, cache_dir):
    """``english-only`` -> EnglishOnlyEncoder; otherwise as ``mixed_loader``."""
    if model == "english-only":
        return EnglishOnlyEncoder()
    return mixed_loader(retriever, model, corpus, cache_dir)
