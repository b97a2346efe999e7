"""``quiet_export`` drops only the known third-party messages, only inside the block, and leaves logging as it was."""

import logging
import warnings

import pytest

from vecbridge.encoders.export_noise import KNOWN_LOG_MESSAGES, quiet_export

torch = pytest.importorskip("torch")


def test_known_messages_are_dropped_inside_and_others_pass(caplog):
    transformers_log = logging.getLogger("transformers.modeling_utils")
    with caplog.at_level(logging.WARNING):
        with quiet_export(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)  # inside quiet_export: TracerWarning stays ignored
            transformers_log.warning("`torch_dtype` is deprecated! Use `dtype` instead!")
            logging.getLogger().warning("Please consider to run pre-processing before quantization. Refer to ...")
            warnings.warn("torch.tensor results are registered as constants", torch.jit.TracerWarning, stacklevel=1)
            transformers_log.warning("a real problem")
            warnings.warn("another warning", UserWarning, stacklevel=1)
        transformers_log.warning("`torch_dtype` is deprecated! Use `dtype` instead!")  # outside: passes
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["a real problem", "`torch_dtype` is deprecated! Use `dtype` instead!"]
    assert [str(w.message) for w in caught] == ["another warning"]


def test_logging_is_left_as_it_was():
    root = logging.getLogger()
    handlers = list(root.handlers)
    filters = {name: list(logging.getLogger(name).filters) for name in KNOWN_LOG_MESSAGES}
    with quiet_export():
        pass
    assert root.handlers == handlers
    assert {name: list(logging.getLogger(name).filters) for name in KNOWN_LOG_MESSAGES} == filters
