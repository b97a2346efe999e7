"""Connectors: vector stores behind one protocol (sync ``Connector``, ``AsyncConnector``).

Imports ``vecbridge.schemas`` only."""

from vecbridge.connectors.adapters import BlockingConnector, ThreadedConnector
from vecbridge.connectors.base import AsyncConnector, Connector

__all__ = ["AsyncConnector", "BlockingConnector", "Connector", "ThreadedConnector"]
