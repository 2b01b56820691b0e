"""Features at ``as_of`` use only what was known before it: later orders, later events and later
changes to earlier orders (refunds, cancellations) leave an earlier snapshot unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import ibis
import pandas as pd
import pytest

from aftersale.features.config import SignalEvents
from aftersale.features.definitions import standard_registry
from aftersale.features.sources import FeatureContext, Sources
from aftersale.features.table import feature_tables
from aftersale.simulator import SimulationSpec
from aftersale.store.warehouse import Warehouse
from tests.factories import load_simulated


@dataclass
class World:
    tables: dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root: Path = tmp_path_factory.mktemp("pit")
    spec = SimulationSpec(customers=600, days=200, seed=3, formats=frozenset({"csv", "jsonl"}))
    settings, _ = load_simulated(root, spec)
    with Warehouse(settings.warehouse) as wh:
        tables = {
            n: wh.table(n).execute() for n in ("customers", "orders", "order_lines", "events")
        }
    return World(tables)


def _as_known_at(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The tables as they stood at ``as_of``: no later rows, later order changes undone."""
    orders = tables["orders"][tables["orders"]["ordered_at"] < as_of].copy()
    later = orders["updated_at"].notna() & (orders["updated_at"] >= as_of)
    undone = later & orders["status"].isin(["refunded", "partially_refunded", "returned"])
    orders.loc[undone, "status"] = "completed"
    orders.loc[later, "refund_minor"] = 0
    late_cancel = orders["cancelled_at"].notna() & (orders["cancelled_at"] >= as_of)
    orders.loc[late_cancel, "status"] = "completed"
    orders.loc[late_cancel, "cancelled_at"] = pd.NaT
    orders.loc[later, "updated_at"] = pd.NaT
    lines = tables["order_lines"][tables["order_lines"]["order_id"].isin(orders["order_id"])]
    events = tables["events"][tables["events"]["occurred_at"] < as_of]
    return {
        "customers": tables["customers"],
        "orders": orders,
        "order_lines": lines,
        "events": events,
    }


def _features(tables: dict[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    con = ibis.duckdb.connect()
    schema = {n: ibis.memtable(f) for n, f in tables.items()}
    sources = Sources(
        customers=schema["customers"],
        orders=schema["orders"],
        order_lines=schema["order_lines"],
        events=schema["events"],
    )
    ctx = FeatureContext(as_of, SignalEvents())
    result = feature_tables(sources, ctx, standard_registry())
    frame = con.execute(result.features)
    return frame.sort_values("customer_id").reset_index(drop=True)


@pytest.mark.parametrize("day", ["2025-03-01", "2025-05-15T12:00:00"])
def test_later_data_does_not_change_an_earlier_snapshot(world: World, day: str) -> None:
    as_of = datetime.fromisoformat(day).replace(tzinfo=UTC)
    everything = _features(world.tables, as_of)
    known_then = _features(_as_known_at(world.tables, pd.Timestamp(as_of)), as_of)
    assert len(everything) > 100
    later_orders = (world.tables["orders"]["ordered_at"] >= pd.Timestamp(as_of)).sum()
    assert later_orders > 100  # the check is meaningful: there is later data to ignore
    pd.testing.assert_frame_equal(everything, known_then, check_exact=False, rtol=1e-9)


def test_registry_documents_every_feature() -> None:
    registry = standard_registry()
    assert len(registry) >= 60
    for feature in registry:
        assert feature.description and feature.window and feature.dtype
    for name in (
        "recency_days", "frequency", "monetary_minor", "aov_minor", "tenure_days",
        "gap_median_days", "gap_cv", "discount_share", "coupon_orders", "full_price_share",
        "value_vs_category_median", "top_category", "top_category_share", "first_offer_tier",
        "first_sales_channel", "refunded_orders", "refund_requests", "email_opens_recent",
        "email_clicks_recent", "last_clicked_topic", "searches", "checkout_questions",
        "onboarding_steps", "key_actions", "hours_to_first_win", "support_tickets",
        "last_ticket_tone", "pricing_views", "referrals_shared", "reviews", "survey_answer",
        "days_of_silence",
    ):  # fmt: skip
        assert name in registry, name


def test_features_doc_is_generated_from_the_registry() -> None:
    from scripts.features_doc import DOC, render

    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/FEATURES.md is stale; run: uv run python scripts/features_doc.py"
    )
