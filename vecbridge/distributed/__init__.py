"""Distributed ingestion on Ray Data (``pip install 'vecbridge[ray]'``).

``ingest_ray(settings, "corpus.jsonl", options=RayOptions(workers=4, num_gpus=1))`` reads the file in
ranges with vecbridge's own readers (so every bad line gets the same dead-letter row as in-process),
encodes with ``map_batches`` over an actor pool (one model load per actor) and writes from the
actors through vecbridge's connectors (idempotent upserts by id). The driver creates the collection
and its state (models, spec, BM25 parameters) before any worker starts and ships that state to the
actors, which add the BM25 statistics of what they write to the collection's log; the
report keeps the in-process accounting, ``read == written + len(failed) + skipped``.

Layout: ``ranges`` (read plan and read tasks), ``worker`` (the encode-and-write actor), ``driver``
(``ingest_ray``). Ray is imported only when ``ingest_ray`` runs.
"""

from vecbridge.distributed.driver import RayOptions, ingest_ray

__all__ = ["RayOptions", "ingest_ray"]
