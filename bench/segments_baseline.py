"""Baseline of ``bench_segments.py``: aftersale's features, segments, slices and health in pandas.

A plain pandas (and numpy) implementation of the same definitions as the library, written the
way a careful analyst would: read the needed columns of the canonical tables, filter, map the
customer ids to integer codes once, then groupby / bincount / vectorised column arithmetic, no
Python loop over customers or rows. It implements, by hand:

* the point-in-time views of ``aftersale.features.sources`` (purchases, gaps, product lines,
  track events, customer texts joined to their classification);
* every feature of ``aftersale.features.definitions.standard_registry()`` (aggregates, then the
  derived ones), the category table of ``aftersale.features.categories`` and the store-level
  constants of ``aftersale.features.table``;
* RFM scores and cells, lifecycle, value tier, persona, buyer slice (softmax) and health grade
  and score of ``aftersale.segments``.

Rules are not re-typed: the lifecycle, RFM-cell, persona, slice-evidence and health rule objects
come from the loaded :class:`~aftersale.segments.config.SegmentationConfig` and their conditions
are evaluated on pandas columns here (:func:`condition_mask`), so both sides decide with the
same thresholds. Window lengths and the activation / first-win / key-action events come from
``cfg.signals``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aftersale.clock import ensure_utc
from aftersale.domain.events import ENGINE_SOURCE
from aftersale.domain.slices import SLICES, UNKNOWN_SLICE
from aftersale.features.config import EventMatch
from aftersale.features.definitions import EVIDENCE_KINDS, evidence_column, standard_registry
from aftersale.features.sources import PURCHASE_STATUSES, TEXT_KINDS
from aftersale.segments.assign import SEGMENT_COLUMNS
from aftersale.segments.config import SegmentationConfig
from aftersale.segments.lifecycle import lifecycle_rules
from aftersale.segments.rfm import cell_rules
from aftersale.segments.rules import Condition, Signal
from aftersale.segments.slices import slice_evidence

__all__ = [
    "CATEGORY_COLUMNS",
    "BaselineResult",
    "Inputs",
    "compute",
    "condition_mask",
    "read_inputs",
    "run_baseline",
]

DAY = 86_400.0
HOUR = 3_600.0
CATEGORY_COLUMNS = (
    "customer_id",
    "category",
    "lines",
    "value_minor",
    "unit_price_sum",
    "share",
    "smoothed_share",
    "price_ratio_sum",
    "rank",
)
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "ordered_at",
    "status",
    "total_minor",
    "refund_minor",
    "discount_minor",
    "discount_code",
    "offer_tier",
    "sales_channel",
    "cancelled_at",
    "updated_at",
)
_LINE_COLUMNS = (
    "order_id",
    "category",
    "quantity",
    "unit_price_minor",
    "line_total_minor",
    "discount_minor",
    "line_kind",
)
_EVENT_COLUMNS = ("customer_id", "type", "event", "occurred_at", "properties", "source")
_SIGNAL_COLUMNS = ("kind", "text", "slice", "tone", "sentiment")
_CATEGORICAL = frozenset(
    {"customer_id", "status", "offer_tier", "sales_channel", "category", "line_kind", "type"}
    | {"event", "source", "kind", "slice", "tone"}
)


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """The canonical tables' needed columns as pandas frames."""

    orders: pd.DataFrame
    lines: pd.DataFrame
    events: pd.DataFrame
    signals: pd.DataFrame


def _frame(table: pa.Table, arrow_text: Iterable[str] = ()) -> pd.DataFrame:
    """Arrow to pandas: low-cardinality text as categoricals, JSON text as Arrow strings."""
    keep_arrow = set(arrow_text)
    columns: dict[str, Any] = {}
    for name in table.column_names:
        column = table[name]
        if name in keep_arrow:
            columns[name] = pd.Series(pd.arrays.ArrowExtensionArray(column), name=name)
        elif name in _CATEGORICAL:
            columns[name] = column.dictionary_encode().to_pandas()
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns, copy=False)


def read_inputs(db_path: Path | str) -> Inputs:
    """Read the columns the definitions use from the warehouse file (read-only)."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:

        def fetch(table: str, columns: Sequence[str]) -> pa.Table:
            return con.sql(f"SELECT {', '.join(columns)} FROM {table}").to_arrow_table()

        return Inputs(
            orders=_frame(fetch("orders", _ORDER_COLUMNS)),
            lines=_frame(fetch("order_lines", _LINE_COLUMNS)),
            events=_frame(fetch("events", _EVENT_COLUMNS), arrow_text=("properties",)),
            signals=_frame(fetch("text_signals", _SIGNAL_COLUMNS)),
        )
    finally:
        con.close()


# -- small helpers ------------------------------------------------------------------------------


def _seconds(ts: Any) -> FloatArray:
    """Whole Unix seconds (float) of a UTC timestamp column, NaN where missing: the library
    measures every time in whole seconds (``aftersale.features.sources.seconds``)."""
    series = pd.Series(ts)
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True)
    ticks = series.array.asi8
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[series.dtype.unit]
    out = ticks.astype(np.float64) / scale
    out[series.isna().to_numpy()] = np.nan
    return np.floor(out)


def _codes(ids: pd.Series, population: pd.Index) -> IntArray:
    """Position of each id in ``population`` (-1 when absent or missing)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        per_category = population.get_indexer(ids.cat.categories)
        codes = ids.cat.codes.to_numpy()
        return np.where(codes >= 0, per_category[codes], -1).astype(np.int64)
    return population.get_indexer(ids).astype(np.int64)


def _bool(values: Any) -> BoolArray:
    """A boolean numpy array, missing values counted as False (SQL: null never matches)."""
    if isinstance(values, (pd.Series, pd.Index)):
        return values.fillna(False).to_numpy(dtype=bool)
    return np.asarray(values, dtype=bool)


def _count(codes: IntArray, mask: BoolArray, n: int) -> IntArray:
    """Rows per customer where ``mask`` holds."""
    return np.bincount(codes[mask], minlength=n).astype(np.int64)


def _sum(codes: IntArray, values: Any, n: int) -> Any:
    """Sum per customer (exact for integer money: float64 holds integers below 2**53)."""
    values = np.asarray(values)
    total = np.bincount(codes, weights=values.astype(np.float64), minlength=n)
    return total.astype(np.int64) if np.issubdtype(values.dtype, np.integer) else total


def _reduce(codes: IntArray, values: Any, how: str, n: int) -> pd.Series:
    """``how`` (min, max, mean, median, std, nunique, count) of ``values`` per customer."""
    series = pd.Series(values)
    grouped = series.groupby(codes, sort=False)
    result = grouped.agg(how)
    return result.reindex(range(n))


@dataclass(frozen=True)
class _Ends:
    """Rows holding each customer's earliest and latest moment (ties: the later row)."""

    customers: IntArray
    first: IntArray
    last: IntArray


def _ends(codes: IntArray, t: FloatArray) -> _Ends:
    """Each customer's earliest and latest row by ``t`` (one sort)."""
    order = np.lexsort((t, codes))
    c_sorted = codes[order]
    edge = np.flatnonzero(np.diff(c_sorted)) + 1
    first = order[np.r_[0, edge]] if len(order) else order
    last = order[np.r_[edge - 1, len(order) - 1]] if len(order) else order
    return _Ends(codes[last], first, last)


def _pick(ends: _Ends, values: Any, n: int, first: bool = False) -> pd.Series:
    """Value at each customer's earliest or latest row, nulls included (SQL ``FIRST``)."""
    series = pd.Series(values)
    out = series.iloc[ends.first if first else ends.last]
    out.index = ends.customers
    return out.reindex(range(n))


def _latest(codes: IntArray, t: FloatArray, values: Any, n: int) -> pd.Series:
    """Value at each customer's latest moment."""
    return _pick(_ends(codes, t), values, n)


def _extract(properties: pd.Series, pattern: str) -> pa.ChunkedArray:
    """First capture of ``pattern`` per row (RE2, as the engine; null without a match or when
    empty). pandas' own ``.str.extract`` loops in Python over Arrow strings, so the vectorised
    Arrow kernel underneath is called directly."""
    found = pc.struct_field(pc.extract_regex(pa.array(properties), pattern), [0])
    return pc.if_else(pc.equal(found, ""), pa.scalar(None, pa.string()), found)


def _json_text(properties: pd.Series, name: str) -> pd.Series:
    """A text property of JSON text (the library's pattern; empty text counts as missing)."""
    found = _extract(properties, rf'"{name}"\s*:\s*"(?P<v>(?:[^"\\]|\\.)*)"')
    return pd.Series(pd.arrays.ArrowExtensionArray(found), index=properties.index)


def _json_number(properties: pd.Series, name: str) -> pd.Series:
    """A numeric property of JSON text (null when absent)."""
    found = _extract(properties, rf'"{name}"\s*:\s*(?P<v>-?[0-9]+(?:\.[0-9]+)?)')
    values = pc.cast(found, pa.float64()).to_numpy(zero_copy_only=False)
    return pd.Series(values, index=properties.index, dtype="float64")


def _ratio(num: Any, den: Any) -> FloatArray:
    """``num / den`` with a zero (or missing) denominator giving NaN."""
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d == 0, np.nan, n / d)


# -- rule evaluation ----------------------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def condition_mask(frame: pd.DataFrame, condition: Condition) -> BoolArray:
    """A rule condition evaluated on a column (null never matches, as in the library)."""
    column = frame[condition.feature]
    present = column.notna().to_numpy()
    if condition.op == "is_null":
        return ~present
    if condition.op == "not_null":
        return present
    if condition.op == "in":
        assert isinstance(condition.value, list)
        return _bool(column.isin(condition.value)) & present
    return _bool(_OPS[condition.op](column, condition.value)) & present


def signal_mask(frame: pd.DataFrame, signal: Signal) -> BoolArray:
    """True where every condition of ``signal`` holds."""
    mask = condition_mask(frame, signal.when[0])
    for condition in signal.when[1:]:
        mask = mask & condition_mask(frame, condition)
    return mask


def _points(frame: pd.DataFrame, signals: Sequence[Signal]) -> FloatArray:
    """Sum of the weights of the signals that hold."""
    total = np.zeros(len(frame))
    for signal in signals:
        total = total + np.where(signal_mask(frame, signal), signal.weight, 0.0)
    return total


def _first_match(frame: pd.DataFrame, rules: Sequence[tuple[str, Signal]], default: str) -> Any:
    """Name of the first rule that holds per row, else ``default``."""
    conditions = [signal_mask(frame, rule) for _, rule in rules]
    return np.select(conditions, [name for name, _ in rules], default=default)


def _cume_dist(values: pd.Series, ascending: bool = True) -> FloatArray:
    """SQL ``cume_dist()``: share of rows ordered at or before each row (ties share)."""
    return values.rank(method="max", ascending=ascending, pct=True).to_numpy(dtype=np.float64)


def _score(values: pd.Series, higher_is_better: bool = True) -> IntArray:
    """RFM score 1-5 by quintile of the cumulative share (ties share a score)."""
    share = _cume_dist(values, ascending=higher_is_better)
    return np.minimum(np.ceil(share * 5), 5).astype(np.int64)


# -- the computation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineResult:
    """Features, the per-customer × category table and segments, one row per buyer."""

    features: pd.DataFrame
    categories: pd.DataFrame
    segments: pd.DataFrame


def _purchases(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Buyers' purchases known before ``cutoff`` (late refunds and cancellations ignored)."""
    o = orders
    late_cancel = (o["status"] == "cancelled") & o["cancelled_at"].notna()
    late_cancel &= _bool(o["cancelled_at"] >= cutoff)
    keep = (
        o["customer_id"].notna()
        & _bool(o["ordered_at"] < cutoff)
        & (_bool(o["status"].isin(PURCHASE_STATUSES)) | late_cancel)
    )
    p = o.loc[_bool(keep)]
    known = p["updated_at"].isna().to_numpy() | _bool(p["updated_at"] < cutoff)
    code = p["discount_code"].fillna("").str.strip(" \t\n")
    has_code = _bool(code != "")
    return pd.DataFrame(
        {
            "order_id": p["order_id"].to_numpy(),
            "customer_id": p["customer_id"],
            "at": p["ordered_at"],
            "t": _seconds(p["ordered_at"]),
            "total_minor": p["total_minor"].to_numpy(dtype=np.int64),
            "refund_minor": np.where(known, p["refund_minor"].fillna(0), 0).astype(np.int64),
            "discounted": (p["discount_minor"].fillna(0).to_numpy() > 0) | has_code,
            "coupon": has_code,
            "offer_tier": p["offer_tier"],
            "sales_channel": p["sales_channel"],
        }
    ).reset_index(drop=True)


def _order_features(p: pd.DataFrame, c: IntArray, n: int, ends: _Ends) -> dict[str, Any]:
    """The order features per customer."""
    return {
        "first_order_at": _reduce(c, p["at"], "min", n),
        "last_order_at": _reduce(c, p["at"], "max", n),
        "orders": _count(c, np.ones(len(c), bool), n),
        "monetary_minor": _sum(c, p["total_minor"].to_numpy(), n),
        "last_order_minor": _pick(ends, p["total_minor"], n),
        "discounted_orders": _count(c, p["discounted"].to_numpy(), n),
        "coupon_orders": _count(c, p["coupon"].to_numpy(), n),
        "refunded_orders": _count(c, p["refund_minor"].to_numpy() > 0, n),
        "refund_minor": _sum(c, p["refund_minor"].to_numpy(), n),
        "first_offer_tier": _pick(ends, p["offer_tier"], n, first=True),
        "first_sales_channel": _pick(ends, p["sales_channel"], n, first=True),
        "last_sales_channel": _pick(ends, p["sales_channel"], n),
    }


def _gap_features(c: IntArray, t: FloatArray, n: int) -> tuple[dict[str, Any], float]:
    """Gap features per customer and the store's median gap (over every buyer's gaps)."""
    order = np.lexsort((t, c))
    cs, ts = c[order], t[order]
    gap = np.empty(len(ts))
    gap[:1] = np.nan
    gap[1:] = (ts[1:] - ts[:-1]) / DAY
    edge = np.flatnonzero(cs[1:] != cs[:-1]) + 1
    gap[edge] = np.nan
    valid = ~np.isnan(gap)
    grouped = pd.Series(gap).groupby(cs, sort=False)
    stats = grouped.agg(["mean", "median", "std"]).reindex(range(n))
    store_median = float(np.median(gap[valid])) if valid.any() else 30.0
    last = np.r_[edge - 1, len(cs) - 1] if len(cs) else edge
    last_gap = pd.Series(gap[last], index=cs[last]).reindex(range(n))
    features = {
        "gap_count": _count(cs, valid, n),
        "gap_mean_days": stats["mean"].to_numpy(),
        "gap_median_days": stats["median"].to_numpy(),
        "gap_std_days": stats["std"].to_numpy(),
        "last_gap_days": last_gap.to_numpy(dtype=np.float64),
    }
    return features, store_median


def _product_lines(lines: pd.DataFrame, p: pd.DataFrame, c: IntArray) -> pd.DataFrame:
    """Product lines (quantity > 0) of the purchases, with the buyer's code."""
    keep = _bool(lines["line_kind"] == "product") & (lines["quantity"].to_numpy() > 0)
    product = lines.loc[keep, list(_LINE_COLUMNS[:-1])]
    buyers = pd.DataFrame({"order_id": p["order_id"], "c": c, "t": p["t"]})
    joined = product.merge(buyers, on="order_id", how="inner", sort=False)
    quantity = joined["quantity"].to_numpy(dtype=np.float64)
    fallback = joined["unit_price_minor"] * joined["quantity"]
    value = joined["line_total_minor"].fillna(fallback).to_numpy(dtype=np.float64)
    category = joined["category"]
    if isinstance(category.dtype, pd.CategoricalDtype) and "uncategorised" not in (
        category.cat.categories
    ):
        category = category.cat.add_categories(["uncategorised"])
    return pd.DataFrame(
        {
            "c": joined["c"].to_numpy(),
            "category": category.fillna("uncategorised"),
            "value_minor": value,
            "unit_price": value / quantity,
            "full_price": joined["discount_minor"].fillna(0).to_numpy() <= 0,
        }
    )


def _categories(
    pl: pd.DataFrame, population: pd.Index, alpha: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-customer × category table (ranked) and its per-customer summary."""
    stats = (
        pl.groupby(["c", "category"], observed=True, sort=False)
        .agg(
            lines=("value_minor", "size"),
            value_minor=("value_minor", "sum"),
            unit_price_sum=("unit_price", "sum"),
        )
        .reset_index()
    )
    store = pl.groupby("category", observed=True).agg(
        store_lines=("unit_price", "size"), median_unit_price=("unit_price", "median")
    )
    store["store_share"] = store["store_lines"] / store["store_lines"].sum()
    customer_lines = stats.groupby("c", sort=False)["lines"].transform("sum").to_numpy()
    lines = stats["lines"].to_numpy(dtype=np.int64)
    store_share = stats["category"].map(store["store_share"]).to_numpy(dtype=np.float64)
    median = stats["category"].map(store["median_unit_price"]).to_numpy(dtype=np.float64)
    stats["share"] = lines / customer_lines
    stats["smoothed_share"] = (lines + alpha * store_share) / (customer_lines + alpha)
    stats["price_ratio_sum"] = _ratio(stats["unit_price_sum"], median)
    stats["category"] = stats["category"].astype(str)
    stats = stats.sort_values(
        ["c", "smoothed_share", "category"], ascending=[True, False, True], ignore_index=True
    )
    stats["rank"] = stats.groupby("c", sort=False).cumcount().to_numpy(dtype=np.int64) + 1
    n = len(population)
    cs = stats["c"].to_numpy()
    top = stats.loc[stats["rank"].to_numpy() == 1].set_index("c")
    summary = pd.DataFrame(
        {
            "_categories": _count(cs, np.ones(len(cs), bool), n),
            "_price_ratio_sum": stats.groupby("c")["price_ratio_sum"]
            .sum(min_count=1)
            .reindex(range(n))
            .to_numpy(),
            "_product_lines": _sum(cs, stats["lines"].to_numpy(dtype=np.int64), n),
            "_top_category": top["category"].reindex(range(n)),
            "_top_category_share": top["share"].reindex(range(n)).to_numpy(),
        }
    )
    stats["value_minor"] = stats["value_minor"].round().astype(np.int64)
    stats.insert(0, "customer_id", population[cs])
    return stats.drop(columns="c")[list(CATEGORY_COLUMNS)], summary


def _event_mask(event_codes: IntArray, categories: pd.Index, name: str) -> BoolArray:
    """Rows whose event name is ``name``."""
    loc = categories.get_indexer([name])[0]
    return event_codes == loc if loc >= 0 else np.zeros(len(event_codes), bool)


def _matches(
    events: pd.DataFrame, codes: IntArray, names: pd.Index, rules: list[EventMatch]
) -> BoolArray:
    """Track events matching any of ``rules`` (name plus property values)."""
    result = np.zeros(len(codes), bool)
    track = events["track"].to_numpy()
    for rule in rules:
        mask = _event_mask(codes, names, rule.event) & track
        for prop, value in rule.where.items():
            rows = np.flatnonzero(mask)
            found = _json_text(events["properties"].iloc[rows], prop)
            mask[rows] = _bool(found == value)
        result |= mask
    return result


def _event_features(
    ev: pd.DataFrame, c: IntArray, n: int, as_of_s: float, cfg: SegmentationConfig
) -> dict[str, Any]:
    """The event features per customer, configured counts and help-page views included."""
    sig = cfg.signals
    counted: dict[str, Any] = {}
    t = ev["t"].to_numpy()
    names = ev["event"].cat.categories
    codes = ev["event"].cat.codes.to_numpy().astype(np.int64)

    def named(name: str) -> BoolArray:
        return _event_mask(codes, names, name)

    def recent(days: int) -> BoolArray:
        return t >= as_of_s - days * DAY

    activation = _matches(ev, codes, names, sig.activation)
    for name, rule in sig.counts.items():  # [signals.counts]: extra configured counts
        counted[name] = _count(c, _matches(ev, codes, names, [rule]), n)
    first_win = _matches(ev, codes, names, sig.first_win)
    key = _matches(ev, codes, names, sig.key_action)
    at = ev["at"]
    short, long = recent(sig.recent_days), recent(sig.long_days)
    review = named("Review Submitted")
    rating = _json_number(ev["properties"].iloc[np.flatnonzero(review)], "rating")
    out: dict[str, Any] = {
        "activated_at": _reduce(c[activation], at[activation], "min", n),
        "onboarding_steps": _count(c, activation, n),
        "first_win_at": _reduce(c[first_win], at[first_win], "min", n),
        "key_actions": _count(c, key, n),
        "key_actions_recent": _count(c, key & recent(sig.usage_days), n),
        "last_key_action_at": _reduce(c[key], at[key], "max", n),
    }
    for feature, event in (("email_opens", "Email Opened"), ("email_clicks", "Email Link Clicked")):
        mask = named(event)
        out[f"{feature}_recent"] = _count(c, mask & short, n)
        out[f"{feature}_long"] = _count(c, mask & long, n)
    searched = named("Products Searched")
    out["searches"] = _count(c, searched, n)
    out["searches_recent"] = _count(c, searched & short, n)
    out["checkout_questions"] = _count(c, named("Checkout Question Asked"), n)
    pricing = named("Pricing Viewed")
    out["pricing_views"] = _count(c, pricing, n)
    out["pricing_views_recent"] = _count(c, pricing & short, n)
    out["referrals_shared"] = _count(c, named("Referral Shared"), n)
    out["reviews"] = _count(c, review, n)
    out["review_rating_mean"] = _reduce(c[review], rating.to_numpy(), "mean", n).to_numpy()
    refund = named("Refund Requested")
    out["refund_requests"] = _count(c, refund, n)
    out["refund_requests_recent"] = _count(c, refund & short, n)
    tickets = named("Support Ticket Created")
    out["support_tickets"] = _count(c, tickets, n)
    out["support_tickets_recent"] = _count(c, tickets & short, n)
    out["unsubscribes"] = _count(c, named("Unsubscribed"), n)
    out["last_event_at"] = _reduce(c, at, "max", n)
    out.update(counted)
    help_pages = np.zeros(len(c), bool)
    if sig.help_paths:
        pages = np.flatnonzero(~ev["track"].to_numpy())
        alternatives = "|".join(re.escape(path.lower()) for path in sig.help_paths)
        pattern = rf'"(?:path|url)"\s*:\s*"[^"]*(?:{alternatives})'
        lowered = pc.utf8_lower(pa.array(ev["properties"].iloc[pages]))
        help_pages[pages] = pc.match_substring_regex(lowered, pattern).to_numpy(
            zero_copy_only=False
        )
    out["help_page_views_recent"] = _count(c, help_pages & short, n)
    return out


KINDS = tuple(TEXT_KINDS)


def _texts(ev: pd.DataFrame, c: IntArray, signals: pd.DataFrame) -> pd.DataFrame:
    """One row per piece of customer text with its classification (slice, tone, sentiment)."""
    names = ev["event"].cat.categories
    codes = ev["event"].cat.codes.to_numpy().astype(np.int64)
    t = ev["t"].to_numpy()
    parts = []
    for k, (kind, (event, prop)) in enumerate(TEXT_KINDS.items()):
        rows = np.flatnonzero(_event_mask(codes, names, event))
        text = _json_text(ev["properties"].iloc[rows], prop)
        found = text.notna().to_numpy()
        rows, text = rows[found], text[found].reset_index(drop=True)
        known = signals.loc[_bool(signals["kind"] == kind), ["text", "slice", "tone", "sentiment"]]
        lookup = known.drop_duplicates("text").set_index("text")
        got = lookup.reindex(pd.Index(text.astype(str)))
        parts.append(
            pd.DataFrame(
                {
                    "c": c[rows],
                    "t": t[rows],
                    "kind": np.full(len(rows), k, dtype=np.int64),
                    "text": text,
                    "slice": got["slice"].to_numpy(dtype=object),
                    "tone": got["tone"].to_numpy(dtype=object),
                    "sentiment": got["sentiment"].to_numpy(dtype=np.float64),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _text_features(tx: pd.DataFrame, n: int, as_of_s: float, recent_days: int) -> dict[str, Any]:
    """The text features per customer (evidence counts, survey, topics, tones)."""
    c = tx["c"].to_numpy()
    t = tx["t"].to_numpy()
    kind = tx["kind"].to_numpy()
    slice_ = tx["slice"].to_numpy()
    tone = tx["tone"].to_numpy()
    text = tx["text"]

    def of(name: str) -> BoolArray:
        return kind == KINDS.index(name)

    out: dict[str, Any] = {}
    for k in EVIDENCE_KINDS:
        is_kind = of(k)
        for s in SLICES:
            out[evidence_column(k, s)] = _count(c, is_kind & (slice_ == s), n)
    survey = of("survey")
    answers = _ends(c[survey], t[survey])
    out["survey_answer"] = _pick(answers, text[survey], n)
    out["survey_slice"] = _pick(answers, slice_[survey], n)
    topic = of("topic")
    out["last_clicked_topic"] = _latest(c[topic], t[topic], text[topic], n)
    clicked = pd.DataFrame({"c": c[topic], "text": text[topic].to_numpy()}).drop_duplicates()
    out["topics_clicked"] = _count(clicked["c"].to_numpy(), np.ones(len(clicked), bool), n)
    ticket = of("ticket")
    recent = t >= as_of_s - recent_days * DAY
    complaint = ticket | of("refund_reason") | of("review")
    out["tickets_confused"] = _count(c, ticket & (tone == "confusion"), n)
    out["tickets_angry"] = _count(c, ticket & (tone == "anger"), n)
    out["confused_texts_recent"] = _count(c, ticket & (tone == "confusion") & recent, n)
    out["angry_texts_recent"] = _count(c, complaint & (tone == "anger") & recent, n)
    out["disappointed_texts_recent"] = _count(c, complaint & (tone == "disappointment") & recent, n)
    out["refund_language_recent"] = _count(c, complaint & (tone == "refund") & recent, n)
    sentiment = tx["sentiment"].to_numpy()[ticket]
    out["ticket_sentiment_min"] = _reduce(c[ticket], sentiment, "min", n).to_numpy()
    out["last_ticket_tone"] = _latest(c[ticket], t[ticket], tone[ticket], n)
    return out


def _days_since(as_of_s: float, at: Any) -> FloatArray:
    """Days from a timestamp to ``as_of`` (whole seconds)."""
    return (as_of_s - _seconds(at)) / DAY


def _hours_between(start: Any, end: Any) -> FloatArray:
    """Hours from ``start`` to ``end`` (0 when negative, null stays null)."""
    hours = (_seconds(end) - _seconds(start)) / HOUR
    return np.where(hours < 0, 0.0, hours)


def _derived(f: pd.DataFrame, as_of_s: float, store_gap_median: float, weight: float) -> None:
    """Add the derived features to ``f`` in the registry's order (each may use earlier ones)."""
    f["recency_days"] = _days_since(as_of_s, f["last_order_at"])
    f["tenure_days"] = _days_since(as_of_s, f["first_order_at"])
    f["frequency"] = f["orders"] - 1
    f["aov_minor"] = _ratio(f["monetary_minor"], f["orders"])
    f["gap_cv"] = _ratio(f["gap_std_days"], f["gap_mean_days"])
    f["discount_share"] = np.nan_to_num(_ratio(f["discounted_orders"], f["orders"]), nan=0.0)
    f["full_price_share"] = _ratio(f["full_price_lines"], f["product_lines"])
    f["value_vs_category_median"] = _ratio(f["_price_ratio_sum"], f["_product_lines"])
    f["categories_bought"] = f["_categories"].fillna(0).astype(np.int64)
    f["top_category"] = f["_top_category"]
    f["top_category_share"] = f["_top_category_share"]
    f["refund_rate"] = np.nan_to_num(_ratio(f["refunded_orders"], f["orders"]), nan=0.0)
    f["hours_to_activation"] = _hours_between(f["first_order_at"], f["activated_at"])
    f["hours_to_first_win"] = _hours_between(f["first_order_at"], f["first_win_at"])
    f["hours_since_first_order"] = _days_since(as_of_s, f["first_order_at"]) * 24.0
    f["days_since_key_action"] = _days_since(as_of_s, f["last_key_action_at"])
    seen = (_seconds(f["last_order_at"]), _seconds(f["last_event_at"]))
    last_seen = np.fmax(*seen)
    f["days_of_silence"] = (as_of_s - last_seen) / DAY
    gaps = f["gap_count"].fillna(0).to_numpy(dtype=np.float64)
    median = f["gap_median_days"].fillna(0).to_numpy(dtype=np.float64)
    f["expected_gap_days"] = (gaps * median + weight * store_gap_median) / (gaps + weight)
    f["lateness"] = _ratio(f["recency_days"], f["expected_gap_days"])
    f["last_gap_lateness"] = _ratio(f["last_gap_days"], f["expected_gap_days"])
    for s in SLICES:
        f[f"{s}_evidence"] = sum(f[evidence_column(k, s)] for k in EVIDENCE_KINDS)


def _segments(f: pd.DataFrame, cfg: SegmentationConfig) -> pd.DataFrame:
    """Segments, slice and health per customer (the rules of ``cfg``)."""
    s = pd.DataFrame({"customer_id": f["customer_id"]})
    s["rfm_r"] = _score(f["recency_days"], higher_is_better=False)
    s["rfm_f"] = _score(f["frequency"])
    s["rfm_m"] = _score(f["monetary_minor"])
    value_share = _cume_dist(f[cfg.value.basis])
    ps = _points(f, cfg.persona.price_sensitive)
    pr = _points(f, cfg.persona.premium)
    floor = cfg.persona.min_points
    s["lifecycle"] = _first_match(f, lifecycle_rules(cfg.lifecycle), "active")
    s["rfm_cell"] = _first_match(s, cell_rules(), "hibernating")
    s["value_tier"] = np.select(
        [value_share >= cfg.value.high, value_share >= cfg.value.medium], ["high", "medium"], "low"
    )
    s["persona"] = np.select(
        [(ps >= floor) & (ps > pr), (pr >= floor) & (pr > ps)],
        ["price_sensitive", "premium"],
        "neutral",
    )
    s["price_sensitive_points"] = ps
    s["premium_points"] = pr
    s["top_category"] = f["top_category"]
    scores = {name: np.zeros(len(f)) for name in SLICES}
    signals = np.zeros(len(f))
    for e in slice_evidence(cfg):
        if e.count_feature is not None:
            count = np.minimum(f[e.count_feature].fillna(0).to_numpy(np.float64), e.cap)
        else:
            held = condition_mask(f, e.when[0])
            for condition in e.when[1:]:
                held = held & condition_mask(f, condition)
            count = np.where(held, 1.0, 0.0)
        scores[e.slice] = scores[e.slice] + e.weight * count
        signals = signals + count
    exps = {name: np.exp(scores[name] / cfg.slices.temperature) for name in SLICES}
    total = sum(exps.values(), np.zeros(len(f)))
    probs = {name: exps[name] / total for name in SLICES}
    best = probs[SLICES[0]]
    for name in SLICES[1:]:
        best = np.maximum(best, probs[name])
    winner = np.select([probs[name] >= best for name in SLICES], list(SLICES), UNKNOWN_SLICE)
    known = (signals > 0) & (best >= cfg.slices.min_confidence)
    s["slice"] = np.where(known, winner, UNKNOWN_SLICE)
    s["slice_confidence"] = best
    s["slice_signals"] = signals.astype(np.int64)
    red = [signal_mask(f, x) for x in cfg.health.red]
    yellow = [signal_mask(f, x) for x in cfg.health.yellow]
    any_red = np.logical_or.reduce(red) if red else np.zeros(len(f), bool)
    any_yellow = np.logical_or.reduce(yellow) if yellow else np.zeros(len(f), bool)
    s["health_grade"] = np.select([any_red, any_yellow], ["red", "yellow"], "green")
    penalty = _points(f, [*cfg.health.red, *cfg.health.yellow])
    s["health_score"] = np.maximum(100.0 - penalty, 0.0)
    return s[list(SEGMENT_COLUMNS)]


def _prediction_columns() -> frozenset[str]:
    """Feature names the customer-base models fill (none in versions without them)."""
    try:
        from aftersale.features.predictions import PREDICTION_COLUMNS
    except ImportError:
        return frozenset()
    return frozenset(PREDICTION_COLUMNS)


def _nulls(dtype: str, n: int, default: Any) -> Any:
    """A column of ``n`` missing values of a registry type (or its default)."""
    if default is not None:
        return np.full(n, default)
    if dtype == "timestamp":
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")
    if dtype == "string":
        return pd.Series(np.nan, index=range(n), dtype="str")
    if dtype in ("int64", "boolean"):
        return pd.array([pd.NA] * n, dtype="Int64" if dtype == "int64" else "boolean")
    return np.full(n, np.nan)


def _plain(value: Any) -> Any:
    """Categorical columns as plain text (missing stays missing)."""
    if isinstance(value, pd.Series) and isinstance(value.dtype, pd.CategoricalDtype):
        return value.astype(str)
    return value


def compute(inputs: Inputs, as_of: datetime, cfg: SegmentationConfig) -> BaselineResult:
    """Every standard feature, the category table and the segments at ``as_of``."""
    moment = ensure_utc(as_of)
    cutoff = pd.Timestamp(moment)
    as_of_s = float(int(moment.timestamp()))  # whole seconds, as FeatureContext
    p = _purchases(inputs.orders, cutoff)
    population = pd.Index(np.sort(np.asarray(p["customer_id"].dropna().unique(), dtype=str)))
    n = len(population)
    c = _codes(p["customer_id"], population)
    cols: dict[str, Any] = {"customer_id": population.to_numpy()}
    cols.update(_order_features(p, c, n, _ends(c, p["t"].to_numpy())))
    gaps, store_gap_median = _gap_features(c, p["t"].to_numpy(), n)
    cols.update(gaps)

    pl = _product_lines(inputs.lines, p, c)
    cols["product_lines"] = _count(pl["c"].to_numpy(), np.ones(len(pl), bool), n)
    cols["full_price_lines"] = _count(pl["c"].to_numpy(), pl["full_price"].to_numpy(), n)
    categories, summary = _categories(pl, population, cfg.affinity.alpha)
    del pl, p

    e = inputs.events
    ec = _codes(e["customer_id"], population)
    kept = (
        (ec >= 0)
        & _bool(e["type"].isin(("track", "page")))
        & _bool(e["occurred_at"] < cutoff)
        & _bool(e["source"] != ENGINE_SOURCE)
    )
    rows = np.flatnonzero(kept)
    ev = e.iloc[rows][["type", "event", "occurred_at", "properties"]].reset_index(drop=True)
    ev["track"] = _bool(ev.pop("type") == "track")
    ev = ev.rename(columns={"occurred_at": "at"})
    ev["properties"] = ev["properties"].fillna("{}")
    ev["t"] = _seconds(ev["at"])
    ec = ec[rows]
    cols.update(_event_features(ev, ec, n, as_of_s, cfg))
    texts = _texts(ev, ec, inputs.signals)
    del ev
    cols.update(_text_features(texts, n, as_of_s, cfg.signals.recent_days))
    del texts

    f = pd.DataFrame({k: _plain(v) for k, v in cols.items()})
    for name in summary.columns:
        f[name] = _plain(summary[name]).to_numpy()
    _derived(f, as_of_s, store_gap_median, cfg.lifecycle.gap_prior_weight)
    registry = standard_registry(cfg.signals)
    for feature in registry:  # model outputs: the benchmark skips the models, so all null
        if feature.name not in f.columns and feature.name in _prediction_columns():
            f[feature.name] = _nulls(feature.dtype, n, feature.default)
    features = f[["customer_id", *registry.names()]]
    segments = _segments(features, cfg)
    return BaselineResult(features, categories, segments)


def run_baseline(
    db_path: Path | str,
    as_of: datetime,
    cfg: SegmentationConfig,
    out_dir: Path | str,
) -> dict[str, int]:
    """Read, compute and write the three results to Parquet under ``out_dir``; return counts."""
    inputs = read_inputs(db_path)
    result = compute(inputs, as_of, cfg)
    del inputs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.features.to_parquet(out / "features.parquet", index=False)
    result.categories.to_parquet(out / "categories.parquet", index=False)
    result.segments.to_parquet(out / "segments.parquet", index=False)
    return {
        "customers": len(result.features),
        "category_rows": len(result.categories),
        "segments": len(result.segments),
    }
