"""Shared fixtures: the shared SciFact data (skipped when absent) and encoder loaders for tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.facade.fakes import BagOfWordsEncoder

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SCIFACT = DATA / "scifact"
TOY = DATA / "flagembedding_toy"


def real_bm25_available() -> bool:
    return importlib.util.find_spec("encoders.bm25") is not None


def fake_loader(retriever: str, model: str, corpus, cache_dir):
    """Hashed bag-of-words (dense 32-d / sparse term counts) for every model name."""
    return BagOfWordsEncoder()


def test_loader(retriever: str, model: str, corpus, cache_dir):
    """Real BM25 when the encoders package has it; the bag-of-words fake otherwise."""
    if model == "bm25" and real_bm25_available():
        from vecbridge.evaluation.encoders import default_loader

        return default_loader(retriever, model, corpus, cache_dir)
    return BagOfWordsEncoder()


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    if not (SCIFACT / "corpus.jsonl").is_file():
        pytest.skip(f"BEIR SciFact not found at {SCIFACT} (expected ../shared/data/scifact from the repo root)")
    return SCIFACT


@pytest.fixture(scope="session")
def toy_dir() -> Path:
    if not TOY.is_dir():
        pytest.skip(f"FlagEmbedding examples not found at {TOY}")
    return TOY
