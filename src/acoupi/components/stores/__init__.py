"""Stores of deployments, recordings and model outputs."""

from acoupi.components.stores.sqlite import SqliteStore

__all__ = ["SqliteStore"]
