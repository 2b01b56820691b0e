"""Fixtures for the simulator tests: one medium store written once per session, small specs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from aftersale.simulator import SimulationResult, SimulationSpec, simulate_store

MEDIUM = SimulationSpec(customers=20_000, days=365, seed=11, start="2025-01-01", export_share=0.25)
EVENT_LINES = 150_000
"""Events are parsed for the leading customers only (the file is grouped by customer)."""


@dataclass(frozen=True)
class Store:
    """A written store and lazily useful frames of it."""

    result: SimulationResult
    root: Path

    def truth(self) -> pd.DataFrame:
        """Hidden customer truth."""
        return pq.read_table(self.root / "truth" / "customers_truth.parquet").to_pandas()

    def orders(self) -> pd.DataFrame:
        """Typed orders from parquet."""
        return pq.read_table(self.root / "orders.parquet").to_pandas()

    def lines(self) -> pd.DataFrame:
        """Typed order lines from parquet."""
        return pq.read_table(self.root / "order_lines.parquet").to_pandas()


@pytest.fixture(scope="session")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The one medium run (20,000 customers, a year, every format) shared by the tests."""
    root = tmp_path_factory.mktemp("medium-store")
    return Store(simulate_store(MEDIUM, root), root)


@pytest.fixture(scope="session")
def medium_truth(medium: Store) -> pd.DataFrame:
    """Customer truth of the medium store."""
    return medium.truth()


@pytest.fixture(scope="session")
def medium_orders(medium: Store) -> pd.DataFrame:
    """Orders of the medium store."""
    return medium.orders()


@pytest.fixture(scope="session")
def medium_events(medium: Store) -> pd.DataFrame:
    """Events of the leading customers of the medium store (every one of their lines)."""
    import json

    rows = []
    last = ""
    with (medium.root / "events.jsonl").open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            ev = json.loads(line)
            if n >= EVENT_LINES and ev["userId"] != last:
                break
            last = ev["userId"]
            rows.append(
                (
                    ev["type"],
                    ev.get("event", ""),
                    ev["messageId"],
                    ev["userId"],
                    ev["timestamp"],
                    ev.get("properties") or ev.get("traits"),
                    ev["context"],
                )
            )
    columns = ["type", "event", "message_id", "user_id", "timestamp", "props", "context"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["at"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%dT%H:%M:%S.%fZ", utc=True)
    return frame


@pytest.fixture(scope="session")
def events_truth(medium_truth: pd.DataFrame, medium_events: pd.DataFrame) -> pd.DataFrame:
    """Truth of exactly the customers whose events ``medium_events`` holds."""
    return medium_truth[medium_truth["customer_id"] <= medium_events["user_id"].max()]
