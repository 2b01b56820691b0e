"""Normalisation: money, timestamps, enums and contacts parsed exactly, failures named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersale.ingestion.normalise import ParseOptions, normalise_chunk
from aftersale.ingestion.readers import ROW
from aftersale.ingestion.schema import fields_for


def run(kind: str, columns: dict[str, list[str | None]], **options: object):  # type: ignore[no-untyped-def]
    n = len(next(iter(columns.values())))
    raw = pl.DataFrame({**columns, ROW: list(range(1, n + 1))}, schema_overrides={ROW: pl.Int64})
    raw = raw.with_columns(pl.col(c).cast(pl.String) for c in columns)
    matched = {c: c for c in columns}
    return normalise_chunk(raw, matched, fields_for(kind), ParseOptions(**options))  # type: ignore[arg-type]


def _format(amount: int, exponent: int, style: str) -> str:
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exponent)
    grouped = f"{whole:,}"
    frac_text = f"{frac:0{exponent}d}" if exponent else ""
    if style == "plain":
        return f"{sign}{whole}" + (f".{frac_text}" if exponent else "")
    if style == "us":
        return f"{sign}{grouped}" + (f".{frac_text}" if exponent else "")
    if style == "eu":
        return f"{sign}{grouped.replace(',', '.')}" + (f",{frac_text}" if exponent else "")
    return f"{sign}$ {grouped}" + (f".{frac_text}" if exponent else "")


@given(
    amount=st.integers(-(10**11), 10**11),
    currency=st.sampled_from([("USD", 2), ("JPY", 0), ("KWD", 3), ("EUR", 2)]),
    style=st.sampled_from(["plain", "us", "eu", "symbol"]),
)
def test_money_parses_exactly_in_every_style(
    amount: int, currency: tuple[str, int], style: str
) -> None:
    code, exponent = currency
    text = _format(amount, exponent, style)
    if style == "eu" and exponent == 0 and abs(amount) >= 1000:
        text = text.replace(".", "")  # "1.234" without decimals is ambiguous; exports write 1234
    result = run(
        "products",
        {"product_id": ["p"], "price": [text], "currency": [code]},
        decimal="," if style == "eu" else ".",
    )
    assert result.bad.height == 0, (text, result.bad.to_dicts())
    assert result.good["price_minor"].item() == amount, text


def test_money_errors_are_named() -> None:
    result = run(
        "products",
        {
            "product_id": ["a", "b", "c", "d"],
            "price": ["12x", "1" * 20, "1.00", "2.00"],
            "currency": ["EUR", "EUR", "ZZZ", None],
        },
    )
    reasons = dict(zip(result.bad[ROW].to_list(), result.bad["reason"].to_list(), strict=True))
    assert reasons == {
        1: "not_a_number",
        2: "amount_out_of_range",
        3: "unknown_currency",
        4: "missing_currency",
    }
    assert "12x" in result.bad.filter(pl.col(ROW) == 1)["detail"].item()


@given(
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)
    ),
    offset_minutes=st.sampled_from([-600, -300, 0, 60, 330, 345, 840]),
    style=st.sampled_from(["iso", "space", "compact", "z"]),
)
def test_timestamps_with_any_offset_become_utc(
    moment: datetime, offset_minutes: int, style: str
) -> None:
    local = moment + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hh, mm = divmod(abs(offset_minutes), 60)
    if style == "iso":
        text = local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hh:02d}:{mm:02d}"
    elif style == "space":
        text = local.strftime("%Y-%m-%d %H:%M:%S") + f" {sign}{hh:02d}{mm:02d}"
    elif style == "compact":
        text = local.strftime("%Y-%m-%d %H:%M:%S") + f"{sign}{hh:02d}{mm:02d}"
    else:
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    result = run("customers", {"customer_id": ["c"], "created_at": [text]})
    assert result.good["created_at"].item() == moment


def test_naive_timestamps_use_the_zone_and_mixed_formats_in_one_column() -> None:
    values = [
        "2025-07-01 12:00:00",
        "07/01/2025 12:00",
        "2025-07-01",
        "1751371200",
        "1751371200000",
        "tomorrow",
    ]
    result = run(
        "customers", {"customer_id": ["c"] * 6, "created_at": values}, time_zone="Europe/Berlin"
    )
    got = result.good["created_at"].to_list()
    assert got[0] == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert got[1] == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert got[2] == datetime(2025, 6, 30, 22, 0, tzinfo=UTC)
    assert got[3] == got[4] == datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    assert result.bad["reason"].to_list() == ["unparseable_timestamp"]


def test_dayfirst_option() -> None:
    result = run(
        "customers", {"customer_id": ["c"], "created_at": ["02/01/2025 10:00"]}, dayfirst=True
    )
    assert result.good["created_at"].item() == datetime(2025, 1, 2, 10, 0, tzinfo=UTC)


def test_dst_gap_and_fold_are_handled() -> None:
    # 02:30 does not exist in Berlin on 2025-03-30; on 2025-10-26 it happens twice (earliest wins).
    result = run(
        "customers",
        {"customer_id": ["a", "b"], "created_at": ["2025-03-30 02:30", "2025-10-26 02:30"]},
        time_zone="Europe/Berlin",
    )
    assert result.bad["reason"].to_list() == ["unparseable_timestamp"]
    assert result.good["created_at"].item() == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given_status", "expected"),
    [
        ("paid", "completed"),
        ("Partially Refunded", "partially_refunded"),
        ("voided", "cancelled"),
        ("canceled", "cancelled"),
        ("REFUNDED", "refunded"),
    ],
)
def test_order_status_synonyms(given_status: str, expected: str) -> None:
    result = run(
        "orders",
        {
            "order_id": ["o"],
            "ordered_at": ["2025-01-01"],
            "status": [given_status],
            "total": ["1"],
            "currency": ["EUR"],
        },
    )
    assert result.good["status"].item() == expected


def test_unknown_enum_value_lists_the_choices() -> None:
    result = run(
        "consents",
        {
            "customer_id": ["c"],
            "channel": ["pigeon"],
            "status": ["opt_in"],
            "recorded_at": ["2025-01-01"],
        },
    )
    assert result.bad["reason"].item() == "invalid_value"
    assert "email, sms, push" in result.bad["detail"].item()


def test_missing_required_value_is_quarantined() -> None:
    result = run("customers", {"customer_id": ["  ", "c2"]})
    assert result.bad["reason"].to_list() == ["missing_value"] and result.good.height == 1


def test_a_chunk_without_matched_columns_sends_every_row_to_quarantine() -> None:
    raw = pl.DataFrame({ROW: [1, 2]}, schema={ROW: pl.Int64})
    result = normalise_chunk(raw, {}, fields_for("customers"), ParseOptions())
    assert result.good.height == 0
    assert result.bad.select(ROW, "field", "reason").rows() == [
        (1, "customer_id", "missing_value"),
        (2, "customer_id", "missing_value"),
    ]
