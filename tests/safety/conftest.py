"""The stand-in BGE-M3 / reranker checkpoints of tests/encoders, shared with the thread-safety tests."""

from tests.encoders.conftest import bgem3_dir, reranker_dir, xlmr_tokenizer_dir  # noqa: F401
