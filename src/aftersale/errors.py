"""The one exception tree of aftersale.

Expected business outcomes (no consent, capped, in holdout) are values, not exceptions.
Exceptions are for bad input, missing configuration, storage trouble and bugs::

    AftersaleError
     ├── InvalidInputError (ValueError)
     │    ├── SchemaError            a file or frame lacks a column, or a column has the wrong type
     │    ├── SourceReadError        a file cannot be opened, decoded or parsed at all
     │    └── PlaybookError          a playbook is invalid (carries path, line, pointer)
     ├── ConfigError                 aftersale.toml / environment values are wrong
     ├── StorageError                the warehouse or state store failed or is not initialised
     ├── NotFittedError (ValueError) a model was used before ``fit``
     └── DeliveryError
          ├── TransientDeliveryError retry later
          └── PermanentDeliveryError dead-letter now

Constructors take keyword-only context so callers can act on attributes, not on message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AftersaleError",
    "ConfigError",
    "DeliveryError",
    "InvalidInputError",
    "NotFittedError",
    "PermanentDeliveryError",
    "PlaybookError",
    "PlaybookProblem",
    "SchemaError",
    "SourceReadError",
    "StorageError",
    "TransientDeliveryError",
]


class AftersaleError(Exception):
    """Root of every error aftersale raises on purpose."""


class InvalidInputError(ValueError, AftersaleError):
    """Input that cannot be used as given; the message says what and where."""


class SchemaError(InvalidInputError):
    """A source lacks a required column (or names one twice); lists the columns it found."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        missing: Sequence[str] = (),
        found: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.missing = tuple(missing)
        self.found = tuple(found)


class SourceReadError(InvalidInputError):
    """A source file cannot be opened, decoded or parsed at all."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class PlaybookProblem:
    """One problem in a playbook file: where it is (file, line, column, play, field) and what."""

    path: str
    line: int | None
    column: int | None
    play_id: str | None
    pointer: str
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        play = f" play {self.play_id!r}" if self.play_id else ""
        field = f" {self.pointer}" if self.pointer else ""
        return f"{where}:{play}{field}: {self.message}"


class PlaybookError(InvalidInputError):
    """A playbook is invalid; carries every problem found, each with where it is."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        pointer: str | None = None,
        problems: Sequence[PlaybookProblem] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.pointer = pointer
        self.problems = list(problems)


class ConfigError(AftersaleError):
    """Configuration is missing or invalid; names the key and where it came from."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class StorageError(AftersaleError):
    """The warehouse or state store is unreachable, uninitialised or inconsistent."""


class NotFittedError(ValueError, AftersaleError):
    """A model method that needs learned parameters was called before ``fit``."""


class DeliveryError(AftersaleError):
    """A message could not be handed to its provider."""


class TransientDeliveryError(DeliveryError):
    """The provider may accept the message later; retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """The provider will never accept the message; dead-letter it."""
