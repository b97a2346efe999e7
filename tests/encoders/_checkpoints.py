"""The stand-in checkpoint builders live in ``benchmarks/checkpoints.py`` (benchmarks use them too)."""

from benchmarks.checkpoints import (  # noqa: F401
    CHINESE_TEXTS,
    DATA_DIR,
    ENGLISH_TEXTS,
    build_bgem3_checkpoint,
    build_reranker_checkpoint,
    build_xlmr_tokenizer,
    copy_tokenizer,
)
