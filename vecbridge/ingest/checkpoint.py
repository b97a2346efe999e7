"""Resume checkpoints: which file (identity), how far it is acknowledged, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vecbridge.ingest.sources import Cursor, FileSource
from vecbridge.schemas import ConfigurationError, jsontext
from vecbridge.schemas.errors import describe_validation_error

VERSION: Literal[1] = 1
HEAD_BYTES = 1 << 20


def file_identity(path: Path) -> dict[str, Any]:
    """Size, modification time (ns) and SHA-256 of the first MiB: a changed, replaced, truncated or
    appended file differs in at least one, and computing it costs one small read."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(HEAD_BYTES)).hexdigest()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


def atomic_write(path: Path, text: str) -> None:
    """tmp file + fsync + rename (+ fsync of the folder): a reader sees the old or the new file, whole."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - folders cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SourceIdentity(_Strict):
    """``file_identity`` of the checkpointed file."""

    path: str
    size: int = Field(ge=0)
    mtime_ns: int
    head_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Totals(_Strict):
    read: int = Field(ge=0)
    written: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)

    @model_validator(mode="after")
    def _balanced(self) -> Totals:
        if self.read != self.written + self.failed + self.skipped:
            raise ValueError(
                f"totals: read {self.read} != written + failed + skipped "
                f"({self.written} + {self.failed} + {self.skipped})"
            )
        return self


class CheckpointFile(_Strict):
    """What a checkpoint file must hold, checked field by field when it is loaded."""

    source: SourceIdentity
    collection: str = Field(min_length=1)
    format: Literal["jsonl", "csv", "parquet"]
    chunking: Optional[dict[str, int]] = None
    line: int = Field(default=0, ge=0)
    offset: int = Field(default=0, ge=0)
    dead_letter: Optional[str] = None
    dead_letter_bytes: int = Field(default=0, ge=0)
    totals: Totals
    complete: bool = False
    version: Literal[1] = VERSION

    @model_validator(mode="after")
    def _within_the_file(self) -> CheckpointFile:
        if self.offset > self.source.size:
            raise ValueError(f"offset {self.offset} is past the end of the file ({self.source.size} bytes)")
        return self


@dataclass
class Checkpoint:
    """The state a resumed run needs. ``line``/``offset``: the source is acknowledged through
    there (every record before it written, failed or skipped, and dead-lettered);
    ``dead_letter_bytes``: the dead-letter file's length at that point; ``totals``: cumulative
    read/written/failed/skipped counts of all runs so far."""

    source: dict[str, Any]
    collection: str
    format: str
    chunking: Optional[dict[str, int]] = None
    line: int = 0
    offset: int = 0
    dead_letter: Optional[str] = None
    dead_letter_bytes: int = 0
    totals: dict[str, int] = field(default_factory=lambda: {"read": 0, "written": 0, "failed": 0, "skipped": 0})
    complete: bool = False
    version: int = VERSION

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.line, self.offset)

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(asdict(self), ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """The checkpoint in ``path``; ``ConfigurationError`` naming the file and the first bad field
        (a hand-edited or damaged file is refused, never half-trusted)."""
        try:
            data = jsontext.loads(path.read_text(encoding="utf-8"))
            return cls(**CheckpointFile.model_validate(data).model_dump())
        except FileNotFoundError:
            raise ConfigurationError(
                f"--resume: no checkpoint at {str(path)!r}; run without --resume to start"
            ) from None
        except ValidationError as exc:
            what = f"checkpoint {str(path)!r} is damaged (run without --resume to start over)"
            raise ConfigurationError(describe_validation_error(exc, what)) from None
        except (ValueError, OSError) as exc:
            raise ConfigurationError(f"checkpoint {str(path)!r} is not readable: {exc}") from None

    @classmethod
    def start(cls, source: FileSource, collection: str, chunking: Optional[dict[str, int]]) -> Checkpoint:
        return cls(
            source=file_identity(source.path), collection=collection, format=source.format.value, chunking=chunking
        )

    def check(self, source: FileSource, collection: str, chunking: Optional[dict[str, int]], path: Path) -> None:
        """Refuse to resume onto another file, collection or chunking, naming what differs."""
        now = file_identity(source.path)
        changed = [k for k in ("size", "mtime_ns", "head_sha256") if now[k] != self.source.get(k)]
        if changed:
            raise ConfigurationError(
                f"--resume: {str(source.path)!r} is not the file checkpointed in {str(path)!r} "
                f"({self.source.get('path')}; {', '.join(changed)} differ); run without --resume to start over"
            )
        for name, mine, theirs in (
            ("collection", self.collection, collection),
            ("format", self.format, source.format.value),
            ("chunking", self.chunking, chunking),
        ):
            if mine != theirs:
                raise ConfigurationError(
                    f"--resume: checkpoint {str(path)!r} has {name}={mine!r}, this run has {name}={theirs!r}"
                )
