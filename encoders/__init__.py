"""Encoders: text -> dense / sparse / ColBERT vectors. Imports ``schemas`` only."""

from encoders.base import Encoder, OutputKind, encode_in_batches, length_sorted_batches, resolve_device
from encoders.loading import bundled_model_path, resolve_model_path

__all__ = [
    "Encoder", "OutputKind", "bundled_model_path", "encode_in_batches", "length_sorted_batches",
    "resolve_device", "resolve_model_path",
]
