"""I/O adapters for aftersale's two stores: the state store (SQLAlchemy) and the warehouse."""

from __future__ import annotations

from aftersale.store.state import ConsentAppendResult, LoadedFile, LoadRun, StateStore

__all__ = ["ConsentAppendResult", "LoadRun", "LoadedFile", "StateStore"]
