"""Date/time values of ``ScalarType.DATETIME`` keys: parsing and the millisecond epoch they compare by.

Accepted values: ``datetime`` / ``date`` objects and ISO-8601 strings of the form
``YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH:MM]`` (the subset Elasticsearch's
``strict_date_optional_time`` also parses). Naive values are UTC; a ``date`` is its midnight UTC.
Values compare by their UTC instant truncated to whole milliseconds (Elasticsearch's ``date``
resolution), so every backend and ``vecbridge.schemas.filters.matches`` agree.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_datetime(value: Any) -> Optional[datetime]:
    """``value`` as an aware UTC ``datetime`` (None: not a date/time value; bools and numbers are not)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    match = _ISO.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone.utc,
        )
    except ValueError:  # month 13, Feb 30, hour 24, ...
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        parsed -= sign * timedelta(hours=hours, minutes=minutes)
    return parsed


def is_datetime(value: Any) -> bool:
    """Whether ``value`` is a DATETIME value (see the module docstring)."""
    return parse_datetime(value) is not None


def epoch_millis(value: Any) -> int:
    """Milliseconds since 1970-01-01T00:00Z (floored), or ``ValueError`` naming the value."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(
            f"{value!r} is not an ISO-8601 date/time (YYYY-MM-DD[THH:MM[:SS[.f]]][Z|±HH:MM]) nor a datetime"
        )
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def iso_millis(value: Any) -> str:
    """The UTC instant of a DATETIME value as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (milliseconds, floored)."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"{value!r} is not an ISO-8601 date/time nor a datetime")
    return (
        f"{parsed.year:04d}-{parsed.month:02d}-{parsed.day:02d}T{parsed.hour:02d}:{parsed.minute:02d}:"
        f"{parsed.second:02d}.{parsed.microsecond // 1000:03d}Z"
    )
