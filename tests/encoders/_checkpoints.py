"""Test helper for encoders; the stand-in checkpoint builders are ``vecbridge.testing.checkpoints``."""


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
