"""The RFM summary every customer-base model starts from, point in time, from the orders table.

One row per customer with ``frequency`` (repeat purchase days), ``recency`` (age at the last
purchase), ``T`` (age at the end of the observation) and ``monetary_value`` (mean value of the
repeat purchase days), in a chosen time unit — the ``RfmFrame`` contract of lifetimes and
pymc-marketing, kept verbatim. Conventions (those of the published CDNOW analyses):

- only orders placed strictly before ``as_of`` count (point in time), and only purchases:
  cancelled and pending orders and guest orders are left out;
- purchases on the same calendar day (UTC) are one purchase;
- the first purchase day is the customer's birth and is not a repeat;
- ages are measured in whole days to the last complete day before ``as_of`` and converted to
  the time unit (a week is 7 days).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir

from aftersale.clock import ensure_utc

__all__ = ["TIME_UNITS", "Granularity", "TimeUnit", "calibration_holdout", "rfm_summary"]

TimeUnit = Literal["D", "W"]
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}
_PURCHASE_STATUSES = ("completed", "pending", "refunded", "partially_refunded", "returned")
Granularity = Literal["day", "exact"]


def _purchases(orders: ir.Table, until: datetime, since: datetime | None = None) -> ir.Table:
    """The buyers' purchases placed before ``until`` (and from ``since``)."""
    kept = orders.filter(
        orders.customer_id.notnull(),
        orders.status.isin(_PURCHASE_STATUSES),
        orders.ordered_at < ibis.literal(ensure_utc(until), type="timestamp('UTC')"),
    )
    if since is not None:
        kept = kept.filter(
            kept.ordered_at >= ibis.literal(ensure_utc(since), type="timestamp('UTC')")
        )
    return kept


def _purchase_days(orders: ir.Table, until: datetime, since: datetime | None = None) -> ir.Table:
    """One row per customer and purchase day before ``until`` (and from ``since``), with value."""
    kept = _purchases(orders, until, since)
    day = kept.ordered_at.date()
    return kept.group_by([kept.customer_id, day.name("day")]).aggregate(
        value=kept.total_minor.sum()
    )


def _last_day(as_of: datetime) -> ir.Value:
    """The last complete UTC day before ``as_of``."""
    moment = ensure_utc(as_of)
    end = ibis.literal(moment, type="timestamp('UTC')")
    return (end - ibis.interval(microseconds=1)).date()


def rfm_summary(
    orders: ir.Table, as_of: datetime, time_unit: TimeUnit = "D", granularity: Granularity = "day"
) -> ir.Table:
    """Return the RFM summary of every buyer known at ``as_of`` (see the module docstring).

    ``monetary_value`` is in the orders' minor units (mean over repeat days; 0 without repeats).
    ``granularity="exact"`` counts every order and measures ages from exact timestamps instead
    of merging same-day purchases (closer to the continuous-time models when buyers often buy
    twice a day; the published analyses use days).
    """
    if granularity == "exact":
        return _exact_summary(orders, as_of, time_unit)
    scale = TIME_UNITS[time_unit]
    days = _purchase_days(orders, as_of)
    first = days.group_by("customer_id").aggregate(first_day=days.day.min())
    joined = days.join(first, "customer_id")
    repeat = joined.day > joined.first_day
    per_customer = joined.group_by("customer_id").aggregate(
        first_day=joined.first_day.max(),
        last_day=joined.day.max(),
        frequency=repeat.cast("int64").sum(),
        repeat_value=joined.value.sum(where=repeat),
    )
    end = _last_day(as_of)
    return per_customer.select(
        "customer_id",
        frequency=per_customer.frequency,
        recency=per_customer.last_day.delta(per_customer.first_day, unit="day").cast("float64")
        / scale,
        T=end.delta(per_customer.first_day, unit="day").cast("float64") / scale,
        monetary_value=ibis.ifelse(
            per_customer.frequency > 0,
            per_customer.repeat_value.cast("float64") / per_customer.frequency,
            0.0,
        ),
        first_purchase_day=per_customer.first_day,
    )


def _exact_summary(orders: ir.Table, as_of: datetime, time_unit: TimeUnit) -> ir.Table:
    """Every order a transaction; ages in fractional days from exact timestamps."""
    scale = TIME_UNITS[time_unit] * 86_400.0
    kept = _purchases(orders, as_of)
    seconds = kept.ordered_at.epoch_seconds()
    per_customer = kept.group_by("customer_id").aggregate(
        first_s=seconds.min(),
        last_s=seconds.max(),
        n=kept.count(),
        total=kept.total_minor.sum(),
        first_value=kept.total_minor.argmin(seconds),
        first_purchase_day=kept.ordered_at.min().date(),
    )
    end = ensure_utc(as_of).timestamp()
    frequency = per_customer.n - 1
    return per_customer.select(
        "customer_id",
        frequency=frequency,
        recency=(per_customer.last_s - per_customer.first_s).cast("float64") / scale,
        T=(ibis.literal(end) - per_customer.first_s.cast("float64")) / scale,
        monetary_value=ibis.ifelse(
            frequency > 0,
            (per_customer.total - per_customer.first_value).cast("float64") / frequency,
            0.0,
        ),
        first_purchase_day=per_customer.first_purchase_day,
    )


def calibration_holdout(
    orders: ir.Table,
    calibration_end: datetime,
    observation_end: datetime,
    time_unit: TimeUnit = "D",
) -> ir.Table:
    """The calibration summary at ``calibration_end`` plus what each customer did afterwards.

    Adds ``frequency_holdout`` (purchase days in ``[calibration_end, observation_end)``),
    ``monetary_value_holdout`` and ``duration_holdout`` (in the time unit), so a model fitted on
    the calibration columns can be judged on the holdout ones.
    """
    if ensure_utc(observation_end) <= ensure_utc(calibration_end):
        raise ValueError("observation_end must be after calibration_end")
    calibration = rfm_summary(orders, calibration_end, time_unit)
    later = _purchase_days(orders, observation_end, since=calibration_end)
    holdout = later.group_by("customer_id").aggregate(
        frequency_holdout=later.count(), value_holdout=later.value.sum()
    )
    scale = TIME_UNITS[time_unit]
    duration = (
        _last_day(observation_end).delta(_last_day(calibration_end), unit="day").cast("float64")
    )
    joined = calibration.left_join(holdout, "customer_id")
    freq = joined.frequency_holdout.fill_null(0)
    return joined.select(
        *calibration.columns,
        frequency_holdout=freq,
        monetary_value_holdout=ibis.ifelse(
            freq > 0, joined.value_holdout.cast("float64") / freq, 0.0
        ),
        duration_holdout=duration / scale,
    )
