"""Connectors: vector stores behind one protocol. Imports ``schemas`` only."""

from connectors.base import Connector

__all__ = ["Connector"]
