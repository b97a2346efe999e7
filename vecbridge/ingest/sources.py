"""Input sources: a file (JSONL, CSV, Parquet) that can be re-opened at a cursor, or any iterable."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from vecbridge.ingest.records import (
    TEXT_FIELDS,
    Record,
    document_records,
    parquet_rows,
    read_csv_records,
    read_jsonl_records,
    read_parquet_records,
    valid_texts,
)
from vecbridge.schemas import ConfigurationError


class InputFormat(str, Enum):
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


SUFFIXES = {
    ".jsonl": InputFormat.JSONL,
    ".ndjson": InputFormat.JSONL,
    ".json": InputFormat.JSONL,
    ".csv": InputFormat.CSV,
    ".parquet": InputFormat.PARQUET,
    ".pq": InputFormat.PARQUET,
}


@dataclass(frozen=True)
class Cursor:
    """How far a source has been consumed: records/lines (``line``) and, for JSONL, bytes (``offset``)."""

    line: int = 0
    offset: int = 0

    @classmethod
    def after(cls, record: Record) -> Cursor:
        return cls(line=record.line, offset=record.end or 0)


def detect_format(path: Path, format: Optional[str | InputFormat] = None) -> InputFormat:
    if format is not None:
        try:
            return InputFormat(getattr(format, "value", format))
        except ValueError:
            raise ConfigurationError(f"format={format!r}: choose one of {[f.value for f in InputFormat]}") from None
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ConfigurationError(
            f"cannot tell the format of {str(path)!r} from its suffix {path.suffix!r}; "
            f"name it {sorted(SUFFIXES)} or pass format= / --format"
        ) from None


class FileSource:
    """A file read as a stream of records, restartable at a ``Cursor``."""

    def __init__(
        self, path: str | Path, format: Optional[str | InputFormat] = None, text_fields: tuple[str, ...] = TEXT_FIELDS
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigurationError(f"input file {str(self.path)!r} does not exist or is not a file")
        self.format = detect_format(self.path, format)
        self.text_fields = text_fields

    def records(self, cursor: Cursor = Cursor()) -> Iterator[Record]:
        if self.format is InputFormat.JSONL:
            return read_jsonl_records(self.path, self.text_fields, cursor.line, cursor.offset)
        if self.format is InputFormat.CSV:
            return read_csv_records(self.path, self.text_fields, cursor.line)
        return read_parquet_records(self.path, self.text_fields, cursor.line)

    def texts(self) -> Iterator[str]:
        """The text of every valid document (see ``valid_texts``)."""
        return valid_texts(self.records(), self.path)

    def progress(self) -> tuple[Optional[int], str]:
        """``(total, unit)`` for a progress bar: bytes for JSONL, rows for Parquet, rows (unknown) for CSV."""
        if self.format is InputFormat.JSONL:
            return self.path.stat().st_size, "B"
        if self.format is InputFormat.PARQUET:
            return parquet_rows(self.path), "doc"
        return None, "doc"

    def position(self, cursor: Cursor) -> int:
        """Where ``cursor`` is, in the progress bar's unit."""
        return cursor.offset if self.format is InputFormat.JSONL else cursor.line

    def __str__(self) -> str:
        return str(self.path)


class IterableSource:
    """Documents (or dicts) from memory; not restartable, so no checkpoint."""

    format = None
    path = None

    def __init__(
        self, items: Iterable[Any], total: Optional[int] = None, text_fields: tuple[str, ...] = TEXT_FIELDS
    ) -> None:
        self.items = items
        self.total = total
        self.text_fields = text_fields

    def records(self, cursor: Cursor = Cursor()) -> Iterator[Record]:
        if cursor.line:
            raise ConfigurationError("an iterable of documents cannot be resumed; pass a file path")
        return document_records(self.items, self.text_fields)

    def progress(self) -> tuple[Optional[int], str]:
        return self.total, "doc"

    def position(self, cursor: Cursor) -> int:
        return cursor.line

    def __str__(self) -> str:
        return "<documents>"


if TYPE_CHECKING:
    from vecbridge.ingest.files import FolderSource

Source = Union[FileSource, IterableSource, "FolderSource"]


def open_source(source: Any, format: Optional[str] = None, total: Optional[int] = None) -> Source:
    """A ``FileSource`` for a file's path, a ``FolderSource`` for a folder's, an ``IterableSource``
    for anything else iterable."""
    from vecbridge.ingest.files import FolderSource

    if isinstance(source, (FileSource, IterableSource, FolderSource)):
        return source
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        return FolderSource(source)
    if isinstance(source, (str, Path)):
        return FileSource(source, format)
    return IterableSource(source, total)
