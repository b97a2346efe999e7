"""Session-scoped offline stand-in checkpoints (random weights, trained tokenizer) for BGE-M3 tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from vecbridge.testing.checkpoints import build_bgem3_checkpoint, build_reranker_checkpoint, build_xlmr_tokenizer


@pytest.fixture(scope="session")
def xlmr_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xlmr_tokenizer")
    build_xlmr_tokenizer(folder)
    return folder


@pytest.fixture(scope="session")
def bgem3_dir(tmp_path_factory: pytest.TempPathFactory, xlmr_tokenizer_dir: Path) -> Path:
    return build_bgem3_checkpoint(tmp_path_factory.mktemp("bgem3"), tokenizer_dir=xlmr_tokenizer_dir)


@pytest.fixture(scope="session")
def reranker_dir(tmp_path_factory: pytest.TempPathFactory, xlmr_tokenizer_dir: Path) -> Path:
    return build_reranker_checkpoint(tmp_path_factory.mktemp("reranker"), tokenizer_dir=xlmr_tokenizer_dir)
