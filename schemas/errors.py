"""One small error tree shared by every layer (encoders and connectors raise these)."""

from __future__ import annotations


class VecbridgeError(Exception):
    """Base class of every error vecbridge raises on purpose."""


class ConfigurationError(VecbridgeError):
    """A setting or argument has a value that cannot work."""


class ModelNotFoundError(VecbridgeError):
    """A model folder is missing and the hub cannot be reached (or has no such model)."""


class FilterError(VecbridgeError):
    """A filter names an undeclared key, an unknown operator or a value of the wrong type."""


class ConnectorError(VecbridgeError):
    """A vector store call failed; the driver's exception is chained as ``__cause__``."""


class CollectionMismatchError(ConnectorError):
    """An existing collection/index does not match the requested ``CollectionSpec``."""


class CollectionNotFoundError(ConnectorError):
    """The collection/index does not exist."""


class UnsupportedOperationError(ConnectorError):
    """The backend (or its licence/version) cannot do this operation."""


class WriteError(ConnectorError):
    """Some documents of a write were not written.

    ``failed`` maps *exactly* the ids not written to a reason (rejected rows, rows of a failed
    chunk, rows never tried); ``written`` counts the rows the store acknowledged in the same call.
    """

    def __init__(self, message: str, failed: dict[str, str], written: int = 0):
        super().__init__(message)
        self.failed = failed
        self.written = written


class StoreUnavailableError(ConnectorError):
    """The store could not be reached (or kept failing) within the retry budget.

    Nothing of the call is known to be acknowledged beyond ``written`` rows; callers stop and
    keep their checkpoint so a later run can resume.
    """

    def __init__(self, message: str, written: int = 0):
        super().__init__(message)
        self.written = written
