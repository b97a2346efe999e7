"""The checks of public call arguments (ids, counts, numbers), shared by every layer and by the
pydantic models: one rule and one message each, so ``k=True`` or ``rrf_k=inf`` is refused the same
way whether it reaches a function argument or a model field.

- ``check_ids``: a list (any non-string iterable) of ``str`` ids; a bare ``str``/``bytes`` is refused,
  because iterating it would name one id per character.
- ``check_int``: an integer (``int`` or a numpy integer), never a ``bool``, within bounds.
- ``check_number``: a finite real number (``int``/``float``/numpy), never a ``bool``, ``nan`` or ``inf``.
- ``Count``, ``FiniteFloat``: the same two checks as pydantic types (bounds stay ``Field(gt=..)``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Annotated, Any, Optional

from pydantic import BeforeValidator

from vecbridge.schemas.errors import InvalidInputError, short_repr

INTEGER_RULE = "must be an integer (not a bool)"
NUMBER_RULE = "must be a finite number (not a bool, nan or inf)"
IDS_RULE = "must be a list of id strings (not one string)"


def _integer_problem(value: Any) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return INTEGER_RULE
    return None


def _number_problem(value: Any) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return NUMBER_RULE
    try:
        finite = math.isfinite(value)
    except (TypeError, ValueError, OverflowError):
        finite = False
    return None if finite else NUMBER_RULE


def _bounds(value: float, low: Optional[float], high: Optional[float], low_open: bool) -> Optional[str]:
    if low is not None and (value <= low if low_open else value < low):
        return f"must be {'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
    if high is not None and value > high:
        return f"must be <= {high:g}" + (f" and {'>' if low_open else '>='} {low:g}" if low is not None else "")
    return None


def check_int(value: Any, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """``value`` as an ``int`` in ``[low, high]``; ``InvalidInputError`` naming ``name`` and the value."""
    problem = _integer_problem(value) or _bounds(value, low, high, False)
    if problem:
        raise InvalidInputError(f"{name}={short_repr(value)}: {problem}")
    return int(value)


def check_number(
    value: Any, name: str, low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False
) -> float:
    """``value`` as a finite ``float`` (``> low`` if ``low_open`` else ``>= low``; ``<= high``)."""
    problem = _number_problem(value) or _bounds(value, low, high, low_open)
    if problem:
        raise InvalidInputError(f"{name}={short_repr(value)}: {problem}")
    return float(value)


def check_ids(ids: Any, name: str = "ids") -> list[str]:
    """``ids`` as a list of ``str``; a bare string, a non-iterable or any non-``str`` id is refused."""
    if isinstance(ids, (str, bytes, bytearray)) or not isinstance(ids, Iterable):
        raise InvalidInputError(f"{name}={short_repr(ids)}: {IDS_RULE}")
    ids = list(ids)
    for position, value in enumerate(ids):
        if not isinstance(value, str):
            raise InvalidInputError(f"{name}[{position}]={short_repr(value)}: every id must be a str")
    return ids


def _model_integer(value: Any) -> Any:
    problem = _integer_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _model_number(value: Any) -> Any:
    problem = _number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Count = Annotated[int, BeforeValidator(_model_integer)]
"""A model field holding an integer: ``bool``, ``float`` and ``str`` inputs are refused (``INTEGER_RULE``)."""
FiniteFloat = Annotated[float, BeforeValidator(_model_number)]
"""A model field holding a finite real number: ``bool``, ``str``, ``nan``, ``inf`` are refused (``NUMBER_RULE``)."""
