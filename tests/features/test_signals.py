"""What counts as activation, first win, key action, extra counts and help pages is the shop's
configuration; a tiny hand-made history shows the features follow it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import ibis
import pandas as pd
import pytest

from aftersale.errors import ConfigError
from aftersale.features.config import EventMatch, SignalEvents
from aftersale.features.definitions import standard_registry
from aftersale.features.sources import FeatureContext, Sources
from aftersale.features.table import feature_tables
from aftersale.segments.assign import check_features
from aftersale.segments.config import load_segmentation

T0 = pd.Timestamp("2025-03-01T10:00:00Z")
AS_OF = datetime(2025, 3, 20, tzinfo=UTC)


def _orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["O1"],
            "customer_id": ["C1"],
            "ordered_at": [T0],
            "status": ["completed"],
            "total_minor": [5000],
            "discount_minor": [0],
            "discount_code": [None],
            "refund_minor": [0],
            "offer_tier": ["starter"],
            "sales_channel": ["web"],
            "updated_at": pd.Series([pd.NaT], dtype="datetime64[us, UTC]"),
            "cancelled_at": pd.Series([pd.NaT], dtype="datetime64[us, UTC]"),
        }
    )


def _lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["O1"],
            "line_kind": ["product"],
            "quantity": [1],
            "category": ["Courses"],
            "unit_price_minor": [5000],
            "line_total_minor": [5000],
            "discount_minor": [0],
        }
    )


def _event(kind: str, name: str | None, hours: float, **props: str) -> dict[str, object]:
    return {
        "customer_id": "C1",
        "type": kind,
        "event": name,
        "occurred_at": T0 + pd.Timedelta(hours=hours),
        "properties": json.dumps(props),
        "source": "web",
    }


def _features(signals: SignalEvents) -> dict[str, object]:
    events = pd.DataFrame(
        [
            _event("track", "Course Started", 2),
            _event("track", "Lesson Completed", 30, lesson="welcome"),
            _event("track", "Lesson Completed", 50, lesson="two"),
            _event("track", "Call Requested", 1),
            _event("page", None, 60, path="/help/refunds"),
            _event("page", None, 61, url="https://shop.example/FAQ#x"),
            _event("page", None, 62, path="/courses/two"),
        ]
    )
    sources = Sources(
        customers=ibis.memtable(pd.DataFrame({"customer_id": ["C1"]})),
        orders=ibis.memtable(_orders()),
        order_lines=ibis.memtable(_lines()),
        events=ibis.memtable(events),
    )
    registry = standard_registry(signals)
    tables = feature_tables(sources, FeatureContext(AS_OF, signals), registry)
    frame = ibis.duckdb.connect().execute(tables.features)
    return frame.iloc[0].to_dict()


def test_defaults_see_no_course_events() -> None:
    row = _features(SignalEvents())
    assert pd.isna(row["first_win_at"]) and pd.isna(row["activated_at"])
    assert row["key_actions"] == 0
    assert row["call_requests"] == 1
    assert row["help_page_views_recent"] == 2


def test_a_course_seller_maps_its_own_events() -> None:
    signals = SignalEvents(
        activation=[EventMatch(event="Course Started")],
        first_win=[EventMatch(event="Lesson Completed", where={"lesson": "welcome"})],
        key_action=[EventMatch(event="Lesson Completed")],
        counts={"lesson_twos": EventMatch(event="Lesson Completed", where={"lesson": "two"})},
        help_paths=["/help"],
    )
    row = _features(signals)
    assert row["hours_to_activation"] == pytest.approx(2.0)
    assert row["hours_to_first_win"] == pytest.approx(30.0)
    assert row["key_actions"] == 2
    assert row["lesson_twos"] == 1
    assert "call_requests" not in row
    assert row["help_page_views_recent"] == 1


def test_a_count_may_not_shadow_a_standard_feature() -> None:
    signals = SignalEvents(counts={"orders": EventMatch(event="Order Completed")})
    with pytest.raises(ConfigError, match="defined twice"):
        standard_registry(signals)


def test_rules_naming_an_unknown_feature_get_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[health.yellow]]\nname = "silence"\n'
        'when = [{ feature = "days_of_silenc", op = ">=", value = 10 }]\nreason = "quiet"\n',
        encoding="utf-8",
    )
    cfg = load_segmentation(path)
    with pytest.raises(ConfigError, match="did you mean 'days_of_silence'") as info:
        check_features(cfg, standard_registry(cfg.signals).names())
    assert info.value.key == "health.yellow.silence"
