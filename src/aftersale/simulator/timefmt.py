"""Vectorised timestamp text: UTC ISO 8601, local offsets, Shopify, Segment and invoice styles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "format_invoice_date",
    "format_iso_local",
    "format_iso_utc",
    "format_segment",
    "format_shopify",
    "timestamp_array",
    "utc_offsets",
]

IntArray = npt.NDArray[np.int64]


def utc_offsets(
    epoch_sec: IntArray, zone_idx: npt.NDArray[np.integer], zones: Sequence[str]
) -> IntArray:
    """Seconds to add to UTC to get local wall time, per row, honouring daylight saving."""
    epoch_sec = np.asarray(epoch_sec, dtype=np.int64)
    zone_idx = np.asarray(zone_idx)
    out = np.zeros(len(epoch_sec), dtype=np.int64)
    for z in np.unique(zone_idx):
        mask = zone_idx == z
        ts = pa.array(epoch_sec[mask], pa.timestamp("s", tz=zones[int(z)]))
        local = pc.local_timestamp(ts).cast(pa.int64()).to_numpy()
        out[mask] = local - epoch_sec[mask]
    return out


_TWO_DIGITS = pa.array([f"{i:02d}" for i in range(60)], pa.string())


def _naive(seconds: IntArray, sep: str) -> pa.Array:
    """``YYYY-MM-DD<sep>HH:MM:SS`` for naive second timestamps (dates formatted once per day)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    day = np.floor_divide(seconds, 86_400)
    distinct, inverse = np.unique(day, return_inverse=True)
    dates = np.datetime_as_string(distinct.astype("datetime64[D]"), unit="D")
    date_text = pa.array(dates.tolist(), pa.string()).take(pa.array(inverse.astype(np.int64)))
    in_day = seconds - day * 86_400

    def two(values: IntArray) -> pa.Array:
        """Two-digit text for 0..59."""
        return _TWO_DIGITS.take(pa.array(values.astype(np.int64)))

    hours = pa.array((in_day // 3600).astype(np.int64)).cast(pa.string())
    hours = pc.utf8_lpad(hours, 2, "0")
    return pc.binary_join_element_wise(
        date_text, sep, hours, ":", two((in_day // 60) % 60), ":", two(in_day % 60), ""
    )


def _offset_text(offsets: IntArray, colon: bool) -> pa.Array:
    """``+01:00`` (or ``+0100``) per row from offsets in seconds."""
    distinct, inverse = np.unique(np.asarray(offsets, dtype=np.int64), return_inverse=True)
    labels = []
    for off in distinct.tolist():
        sign = "-" if off < 0 else "+"
        hours, minutes = divmod(abs(off) // 60, 60)
        labels.append(
            f"{sign}{hours:02d}:{minutes:02d}" if colon else f"{sign}{hours:02d}{minutes:02d}"
        )
    return pa.array(labels, pa.string()).take(pa.array(inverse.astype(np.int64)))


def format_iso_utc(epoch_sec: IntArray) -> pa.Array:
    """``2025-03-04T09:15:26+00:00`` for each Unix second."""
    return pc.binary_join_element_wise(_naive(epoch_sec, "T"), "+00:00", "")


def format_iso_local(epoch_sec: IntArray, offsets: IntArray) -> pa.Array:
    """ISO 8601 in local wall time with its offset, e.g. ``2025-03-04T10:15:26+01:00``."""
    local = np.asarray(epoch_sec, dtype=np.int64) + offsets
    return pc.binary_join_element_wise(_naive(local, "T"), _offset_text(offsets, colon=True), "")


def format_shopify(epoch_sec: IntArray, offsets: IntArray) -> pa.Array:
    """Shopify export style in local time, e.g. ``2025-10-07 09:50:26 +0200``."""
    local = np.asarray(epoch_sec, dtype=np.int64) + offsets
    return pc.binary_join_element_wise(_naive(local, " "), _offset_text(offsets, colon=False), " ")


def format_segment(epoch_ms: IntArray) -> pa.Array:
    """Segment spec timestamps in UTC with milliseconds, e.g. ``2025-01-01T08:00:00.123Z``."""
    ms = np.asarray(epoch_ms, dtype=np.int64)
    seconds = _naive(ms // 1000, "T")
    frac = pc.utf8_lpad(pa.array(ms % 1000).cast(pa.string()), 3, "0")
    return pc.binary_join_element_wise(seconds, ".", frac, "Z", "")


def format_invoice_date(local_sec: IntArray) -> pa.Array:
    """Spreadsheet-export style ``12/1/2010 8:26`` (month/day/year hour:minute, no padding)."""
    local = np.asarray(local_sec, dtype=np.int64)
    dt = local.astype("datetime64[s]")
    years = dt.astype("datetime64[Y]").astype(np.int64) + 1970
    months_since = dt.astype("datetime64[M]").astype(np.int64)
    months = months_since % 12 + 1
    month_start = months_since.astype("datetime64[M]").astype("datetime64[s]").astype(np.int64)
    days = (local - month_start) // 86_400 + 1
    in_day = local % 86_400
    hours, minutes = in_day // 3600, (in_day % 3600) // 60

    def text(values: IntArray) -> pa.Array:
        """Unpadded integer text."""
        return pa.array(values).cast(pa.string())

    return pc.binary_join_element_wise(
        text(months),
        "/",
        text(days),
        "/",
        text(years),
        " ",
        text(hours),
        ":",
        pc.utf8_lpad(text(minutes), 2, "0"),
        "",
    )


def timestamp_array(epoch_sec: IntArray) -> pa.Array:
    """UTC timestamps (microseconds) for parquet files."""
    us = np.asarray(epoch_sec, dtype=np.int64) * 1_000_000
    return pa.array(us, pa.timestamp("us", tz="UTC"))
