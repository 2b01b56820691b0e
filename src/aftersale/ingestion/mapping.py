"""Column mappings: ``--map target=source`` flags and mapping files (TOML).

A mapping file has a ``[columns]`` table (target field = source column) and an optional
``[options]`` table; every unknown key is an error naming the file and the key::

    [columns]
    order_id = "InvoiceNo"
    ordered_at = "InvoiceDate"

    [options]
    timestamp_format = "%m/%d/%Y %H:%M"
    time_zone = "Europe/London"
    currency = "GBP"
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aftersale.domain.money import is_known_currency
from aftersale.errors import InvalidInputError

__all__ = ["Mapping", "MappingOptions", "load_mapping", "parse_map_flags"]


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """Per-source reading options; ``None`` means "use the project default"."""

    timestamp_format: str | None = None
    time_zone: str | None = None
    dayfirst: bool = False
    decimal: str = "."
    currency: str | None = None
    encoding: str | None = None
    delimiter: str = ","
    cancellation_prefix: str | None = "C"
    region: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    """Target field -> source column, plus reading options."""

    columns: dict[str, str] = field(default_factory=dict)
    options: MappingOptions = MappingOptions()

    def merged(self, other: Mapping) -> Mapping:
        """Return this mapping with ``other``'s columns added (``other`` wins)."""
        return Mapping({**self.columns, **other.columns}, self.options)


_OPTION_TYPES: dict[str, type] = {
    "timestamp_format": str,
    "time_zone": str,
    "dayfirst": bool,
    "decimal": str,
    "currency": str,
    "encoding": str,
    "delimiter": str,
    "cancellation_prefix": str,
    "region": str,
    "source": str,
}


def parse_map_flags(flags: Sequence[str]) -> dict[str, str]:
    """Parse ``target=source`` strings; a malformed flag is an error that quotes it."""
    result: dict[str, str] = {}
    for flag in flags:
        target, sep, source = flag.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise InvalidInputError(
                f"--map {flag!r}: expected target=source, e.g. order_id=InvoiceNo"
            )
        result[target.strip()] = source.strip()
    return result


def load_mapping(path: Path | str) -> Mapping:
    """Read a TOML mapping file; errors name the file and the key."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError(f"mapping file {p} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"{p}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"columns", "options"}
    if unknown:
        raise InvalidInputError(
            f"{p}: unknown table(s) {', '.join(sorted(unknown))}; expected [columns] and [options]"
        )
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InvalidInputError(f"{p}: [columns] must map field names to column names (strings)")
    options = build_options(data.get("options", {}), where=str(p))
    return Mapping(dict(columns), options)


def build_options(
    raw: dict[str, Any], where: str, base: MappingOptions | None = None
) -> MappingOptions:
    """Validate an ``[options]`` table into :class:`MappingOptions`."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        expected = _OPTION_TYPES.get(key)
        if expected is None:
            raise InvalidInputError(
                f"{where}: unknown option {key!r}; known: {', '.join(sorted(_OPTION_TYPES))}"
            )
        if not isinstance(value, expected):
            raise InvalidInputError(
                f"{where}: option {key} must be a {expected.__name__}, got {value!r}"
            )
        values[key] = value
    options = replace(base or MappingOptions(), **values)
    if options.time_zone:
        try:
            ZoneInfo(options.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError(
                f"{where}: option time_zone {options.time_zone!r} is not an IANA zone"
            ) from None
    if options.currency and not is_known_currency(options.currency):
        raise InvalidInputError(
            f"{where}: option currency {options.currency!r} is not an ISO 4217 code"
        )
    if options.decimal not in (".", ","):
        raise InvalidInputError(f'{where}: option decimal must be "." or ","')
    if len(options.delimiter) != 1:
        raise InvalidInputError(f"{where}: option delimiter must be one character")
    return options
