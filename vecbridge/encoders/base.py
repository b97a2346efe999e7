"""The one Encoder protocol and the batching helpers every adapter shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from typing import Optional, Protocol, TypeVar, runtime_checkable

from vecbridge.schemas import Embeddings

T = TypeVar("T")


class OutputKind(str, Enum):
    DENSE = "dense"
    SPARSE = "sparse"
    COLBERT = "colbert"


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into vectors. One call may emit several outputs (BGE-M3: dense + sparse + ColBERT).

    Implementations batch length-sorted inputs internally and return rows in input order.

    Thread safety (contract): one encoder instance may be shared by threads; ``encode_documents`` /
    ``encode_queries`` may run concurrently and return what a single thread would. Parts that are not
    re-entrant are guarded inside the encoder (Hugging Face tokenizers: ``_hf.ThreadSafeTokenizer``),
    never the model forward pass. Methods that change the encoder (``BM25Encoder.fit``) must not run
    while it encodes.

    An encoder may also declare ``scripts``: the writing systems it covers (``vecbridge.encoders.scripts``;
    ``None`` or absent = every script). Language-aware fusion leaves out retrievers whose encoder
    does not cover a query's script. It is not part of the protocol, so older encoders still match.

    An encoder with dense output may declare ``normalize: bool``: whether its dense vectors are
    L2-normalized (``DenseEncoder`` from the model's ``modules.json``, BGE-M3 always). ``HybridIndex``
    then defaults to metric IP (else COSINE) and reports IP relevance scores.
    """

    # Read-only properties: an implementation may use plain attributes or properties.
    @property
    def name(self) -> str: ...

    @property
    def outputs(self) -> frozenset[OutputKind]: ...

    @property
    def dense_dim(self) -> Optional[int]: ...

    @property
    def sparse_vocab_size(self) -> Optional[int]: ...

    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        """Encode passages (document-side max length / instructions)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        """Encode queries (query-side max length / instructions)."""
        ...


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Row indices grouped into batches of similar length, longest first (padding waste is minimal)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def check_texts(texts: Sequence[str]) -> None:
    """``TypeError`` naming the first row that is not a ``str`` (or the whole argument if it is one string)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a single string")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be str, got {type(text).__name__}")


def encode_in_batches(
    texts: Sequence[str],
    lengths: Sequence[int],
    batch_size: int,
    encode_batch: Callable[[list[str]], Embeddings],
    progress: bool = False,
    description: str = "encoding",
) -> Embeddings:
    """Run ``encode_batch`` over length-sorted batches and return rows in the original order."""
    check_texts(texts)
    return encode_rows_in_batches(
        lengths, batch_size, lambda rows: encode_batch([texts[i] for i in rows]), progress, description
    )


def encode_rows_in_batches(
    lengths: Sequence[int],
    batch_size: int,
    encode_rows: Callable[[list[int]], Embeddings],
    progress: bool = False,
    description: str = "encoding",
    overlap: bool = False,
) -> Embeddings:
    """Run ``encode_rows`` (row indices -> their ``Embeddings``) over length-sorted batches of row indices and
    return the rows in index order; for encoders that tokenize every text once before batching.

    ``overlap``: the next batch starts while the current one finishes (two in flight), for encoders whose
    ``encode_rows`` spreads a batch over a fixed set of sessions (``TextLanes``): the sessions then never wait
    for a batch's last text or for its pooling in the calling thread. A failing batch raises as it would alone.
    """
    if not lengths:
        return Embeddings()
    if len(lengths) == 1 and not progress:  # a lone query: its batch is the result, nothing to reorder
        return encode_rows([0])
    batches = list(length_sorted_batches(lengths, batch_size))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(batches), desc=description, unit="batch")
    parts: list[Embeddings] = []
    try:
        for part in _in_order(batches, encode_rows, overlap and len(batches) > 1):
            parts.append(part)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    order = [row for rows in batches for row in rows]
    merged = Embeddings.concat(parts)
    inverse = [0] * len(order)
    for position, row in enumerate(order):
        inverse[row] = position
    return merged.select(inverse)


def _in_order(
    batches: Sequence[list[int]], encode_rows: Callable[[list[int]], Embeddings], overlap: bool
) -> Iterator[Embeddings]:
    """``encode_rows`` of each batch, in order; with ``overlap`` two batches run at once."""
    if not overlap:
        yield from map(encode_rows, batches)
        return
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    with ThreadPoolExecutor(2, thread_name_prefix="encode-batch") as pool:
        running: deque[Future[Embeddings]] = deque()
        try:
            for rows in batches:
                running.append(pool.submit(encode_rows, rows))
                if len(running) == 2:
                    yield running.popleft().result()
            while running:
                yield running.popleft().result()
        finally:
            for future in running:
                future.cancel()


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; anything else is checked and returned."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from vecbridge.schemas import ConfigurationError

        raise ConfigurationError(f"device={device!r} requested but CUDA is not available")
    return device
