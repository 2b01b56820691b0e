"""What to simulate (:class:`SimulationSpec`) and what came out (:class:`SimulationResult`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aftersale.errors import InvalidInputError
from aftersale.simulator.money import EXPONENTS

__all__ = [
    "FORMATS",
    "SHARD_SIZE",
    "SLICES",
    "Format",
    "SimulationResult",
    "SimulationSpec",
    "Slice",
]

Slice = Literal["pain_now", "proof_seeker", "time_poor", "budget_starter", "status_chaser"]
SLICES: Final[tuple[Slice, ...]] = (
    "pain_now",
    "proof_seeker",
    "time_poor",
    "budget_starter",
    "status_chaser",
)
"""The five buyer slices, in the fixed order every array index in the simulator uses."""

Format = Literal["csv", "parquet", "jsonl", "shopify", "invoices"]
FORMATS: Final[frozenset[Format]] = frozenset({"csv", "parquet", "jsonl", "shopify", "invoices"})

SHARD_SIZE: Final[int] = 1_000
"""Customers per random-number shard; fixed so that ``block_size`` never changes the data."""

_DEFAULT_SLICE_WEIGHTS: Final[tuple[float, ...]] = (0.18, 0.22, 0.22, 0.23, 0.15)


def _parse_start(value: str | date | datetime) -> datetime:
    """Turn ``start`` into a tz-aware UTC datetime (naive values are read as UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(
                f"SimulationSpec.start {value!r} is not an ISO 8601 date or timestamp; "
                "use e.g. '2025-01-01'"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """Everything that determines a simulated store; the same spec always gives the same files.

    Purchase process (BG/NBD with heterogeneity): each customer buys at rate ``lambda ~
    Gamma(shape=r, rate=alpha)`` purchases per day while alive (``alpha`` is in days, so the
    mean rate is ``r / alpha`` per day), and after every repeat purchase drops out for good with
    probability ``p ~ Beta(a, b)``. Acquisition (the first order) is spread uniformly over the
    ``days`` of the period starting at ``start`` (UTC).
    """

    customers: int = 1_000
    days: int = 365
    seed: int = 0
    start: str | date | datetime = "2025-01-01"
    r: float = 0.55
    alpha: float = 5.0
    a: float = 1.1
    b: float = 10.0
    currencies: tuple[str, ...] = ("GBP",)
    products: int = 200
    categories: int = 10
    slice_weights: tuple[float, ...] = _DEFAULT_SLICE_WEIGHTS
    block_size: int = 50_000
    formats: AbstractSet[str] = field(default_factory=lambda: frozenset(FORMATS))
    export_share: float | None = None
    store_time_zone: str = "Europe/London"
    effect_jitter: float = 0.2

    def __post_init__(self) -> None:
        """Normalise ``start``/``formats``/``currencies`` and reject unusable values."""
        object.__setattr__(self, "start", _parse_start(self.start))
        object.__setattr__(self, "formats", frozenset(self.formats))
        object.__setattr__(self, "currencies", tuple(c.upper() for c in self.currencies))
        object.__setattr__(self, "slice_weights", tuple(float(w) for w in self.slice_weights))
        problems = list(self._problems())
        if problems:
            raise InvalidInputError("invalid SimulationSpec: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        """Collect every problem with the spec, each naming its field."""
        out: list[str] = []
        if self.customers < 1:
            out.append(f"customers must be at least 1, got {self.customers}")
        if self.days < 1:
            out.append(f"days must be at least 1, got {self.days}")
        if self.seed < 0:
            out.append(f"seed must be a non-negative integer, got {self.seed}")
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                out.append(f"{name} must be a positive number, got {value}")
        if not self.currencies:
            out.append("currencies must name at least one ISO 4217 code")
        unknown = [c for c in self.currencies if c not in EXPONENTS]
        if unknown:
            out.append(f"currencies {unknown} unknown; known: {', '.join(sorted(EXPONENTS))}")
        if len(set(self.currencies)) != len(self.currencies):
            out.append("currencies must not repeat a code")
        if not 1 <= self.categories <= 10:
            out.append(f"categories must be between 1 and 10, got {self.categories}")
        if self.products < 3 * max(self.categories, 1):
            out.append(
                f"products must be at least 3 per category ({3 * self.categories}), "
                f"got {self.products}"
            )
        w = self.slice_weights
        if len(w) != len(SLICES) or any(x < 0 or not math.isfinite(x) for x in w) or sum(w) <= 0:
            out.append(f"slice_weights must be {len(SLICES)} non-negative numbers, got {w}")
        if self.block_size < SHARD_SIZE or self.block_size % SHARD_SIZE:
            out.append(
                f"block_size must be a positive multiple of {SHARD_SIZE}, got {self.block_size}"
            )
        bad = sorted(set(self.formats) - FORMATS)
        if bad:
            out.append(f"formats {bad} unknown; known: {', '.join(sorted(FORMATS))}")
        if self.export_share is not None and not 0.0 <= self.export_share <= 1.0:
            out.append(f"export_share must be between 0 and 1, got {self.export_share}")
        if not 0.0 <= self.effect_jitter < 1.0:
            out.append(f"effect_jitter must be in [0, 1), got {self.effect_jitter}")
        try:
            ZoneInfo(self.store_time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            out.append(f"store_time_zone {self.store_time_zone!r} is not an IANA time zone")
        return out

    @property
    def start_at(self) -> datetime:
        """Start of the period as a tz-aware UTC datetime."""
        assert isinstance(self.start, datetime)
        return self.start

    @property
    def start_epoch(self) -> int:
        """Start of the period in Unix seconds."""
        return int(self.start_at.timestamp())

    @property
    def end_second(self) -> int:
        """End of the period in seconds after ``start`` (exclusive)."""
        return self.days * 86_400

    @property
    def main_currency(self) -> str:
        """The store's own currency: catalogue prices and the invoice export use it."""
        return self.currencies[0]

    @property
    def export_customers(self) -> int:
        """How many leading customers the Shopify and invoice exports cover."""
        share = self.export_share
        if share is None:
            share = 1.0 if self.customers <= 20_000 else 0.2
        return math.ceil(share * self.customers)

    @property
    def mean_lambda(self) -> float:
        """Mean purchase rate per day, ``r / alpha``."""
        return self.r / self.alpha

    @property
    def mean_p(self) -> float:
        """Mean drop-out probability after a repeat purchase, ``a / (a + b)``."""
        return self.a / (self.a + self.b)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready view of the spec (sorted formats, ISO start)."""
        raw = asdict(self)
        raw["start"] = self.start_at.isoformat()
        raw["formats"] = sorted(self.formats)
        raw["currencies"] = list(self.currencies)
        raw["slice_weights"] = list(self.slice_weights)
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SimulationSpec:
        """Rebuild a spec from :meth:`to_dict` output (e.g. ``truth/spec.json``)."""
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in raw.items() if k in known}
        for key in ("currencies", "slice_weights"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        if "formats" in kwargs:
            kwargs["formats"] = frozenset(kwargs["formats"])
        return cls(**kwargs)

    @classmethod
    def from_json(cls, path: Path) -> SimulationSpec:
        """Read the spec written to ``truth/spec.json`` by :func:`simulate_store`."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls.from_dict(raw.get("spec", raw))


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What :func:`simulate_store` wrote: file paths and row counts keyed by relative path."""

    spec: SimulationSpec
    out_dir: Path
    paths: dict[str, Path]
    row_counts: dict[str, int]

    def path(self, name: str) -> Path:
        """Absolute path of the written file ``name`` (e.g. ``"orders.csv"``)."""
        try:
            return self.paths[name]
        except KeyError:
            raise KeyError(f"{name!r} was not written; written: {', '.join(self.paths)}") from None
