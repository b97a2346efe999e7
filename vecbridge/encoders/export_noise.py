"""Messages that libraries print during an ONNX export or an int8 quantization although the user did
nothing wrong, dropped only while those calls run (``quiet_export``); every other message passes.

- transformers: "`torch_dtype` is deprecated": optimum's ``main_export`` passes ``torch_dtype=`` itself.
- optimum: "Weight deduplication check ... requires accelerate": an optional size clean-up of tied weights.
- onnxruntime: "Please consider to run pre-processing before quantization", logged on the root logger;
  the int8 graph is checked against fp32 by the tests instead.
- torch: ``TracerWarning`` while tracing transformers' mask helpers; the exported graphs are checked
  against torch by the parity tests.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

KNOWN_LOG_MESSAGES: dict[str, tuple[str, ...]] = {
    "transformers.configuration_utils": ("`torch_dtype` is deprecated",),
    "transformers.modeling_utils": ("`torch_dtype` is deprecated",),
    "optimum.exporters.onnx.base": ("Weight deduplication check in the ONNX export requires accelerate",),
    "": ("Please consider to run pre-processing before quantization",),  # the root logger
}
"""Logger name -> starts of the messages dropped from it while ``quiet_export`` runs."""


class _DropKnown(logging.Filter):
    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


@contextmanager
def quiet_export() -> Iterator[None]:
    """Drop ``KNOWN_LOG_MESSAGES`` and torch's ``TracerWarning`` inside the block."""
    from torch.jit import TracerWarning

    with ExitStack() as stack:
        for name, starts in KNOWN_LOG_MESSAGES.items():
            logger, drop = logging.getLogger(name), _DropKnown(starts)
            logger.addFilter(drop)
            stack.callback(logger.removeFilter, drop)
        root = logging.getLogger()
        if not root.handlers:  # else logging.warning() would call basicConfig() and leave a handler behind
            guard = logging.NullHandler()
            root.addHandler(guard)
            stack.callback(root.removeHandler, guard)
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", TracerWarning)
        yield
