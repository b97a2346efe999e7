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


def count_tokenizer_calls(encoder) -> list[int]:
    """Wraps ``encoder.tokenizer``; the returned list gets each call's number of texts."""
    calls: list[int] = []
    tokenizer = encoder.tokenizer

    class Counting:
        def __getattr__(self, name):
            return getattr(tokenizer, name)

        def __call__(self, texts, **kwargs):
            calls.append(len(texts))
            return tokenizer(texts, **kwargs)

    encoder.tokenizer = Counting()
    return calls
