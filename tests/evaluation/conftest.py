"""Fixtures: the shared data folders (tests skip with the reason when they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evaluation.helpers import SCIFACT, TOY


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    if not (SCIFACT / "corpus.jsonl").is_file():
        pytest.skip(f"BEIR SciFact not found at {SCIFACT} (expected ../shared/data/scifact from the repo root)")
    return SCIFACT


@pytest.fixture(scope="session")
def toy_dir() -> Path:
    if not TOY.is_dir():
        pytest.skip(f"FlagEmbedding examples not found at {TOY} (expected ../shared/data/flagembedding_toy)")
    return TOY
