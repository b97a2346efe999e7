"""Several processes share one Milvus Lite database through Milvus Lite's server (the documented
way: a Lite *file* is locked to one process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import CollectionSpec, ScalarType

SPEC = CollectionSpec(name="shared", dense_dim=8, filterable={"writer": ScalarType.INT})
WRITER = """
import sys
import numpy as np
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import Document, IndexBatch, SparseVector

uri, writer, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(writer)
with MilvusConnector(uri) as connector:
    for first in range(start, stop, 100):
        ids = range(first, min(stop, first + 100))
        batch = IndexBatch(
            documents=[Document(id=f"p{writer}-{i}", text=str(i), metadata={"writer": writer}) for i in ids],
            dense=rng.random((len(ids), 8)),
            sparse={"sparse": [SparseVector(indices=[i % 50], values=[1.0]) for i in ids]},
        )
        assert connector.upsert("shared", batch) == len(ids)
print("ok")
"""


def test_two_processes_ingest_into_one_lite_server(milvus_server_factory):
    server = milvus_server_factory()
    with MilvusConnector(server.uri) as connector:
        connector.ensure_collection(SPEC)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        ranges = {1: (0, 1500), 2: (1500, 2700)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, server.uri, str(w), str(a), str(b)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w, (a, b) in ranges.items()
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0 and out.strip().endswith("ok"), err[-2000:]
        assert connector.count("shared") == 1500 + 1200
        from vecbridge.schemas.filters import eq

        assert connector.count("shared", eq("writer", 1)) == 1500
        assert connector.count("shared", eq("writer", 2)) == 1200
        ids = [f"p{w}-{i}" for w, (a, b) in ranges.items() for i in range(a, b)]
        assert len(connector.get("shared", ids)) == len(ids)
