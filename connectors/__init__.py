"""Connectors: vector stores behind one protocol (sync ``Connector``, ``AsyncConnector``). Imports ``schemas`` only."""

from connectors.adapters import BlockingConnector, ThreadedConnector
from connectors.base import AsyncConnector, Connector

__all__ = ["AsyncConnector", "BlockingConnector", "Connector", "ThreadedConnector"]
