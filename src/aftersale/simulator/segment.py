"""Segment-spec JSON building blocks: escaped pools, property bodies and line assembly."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from aftersale.simulator.geo import COUNTRIES
from aftersale.simulator.spec import SimulationSpec
from aftersale.simulator.timefmt import format_segment
from aftersale.simulator.world import Customers

__all__ = ["Collector", "EventLines", "esc", "num", "props", "take"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class EventLines:
    """Rendered JSON lines (each ending in a newline), sorted by customer then time."""

    lines: pa.Array
    event: npt.NDArray[np.str_]
    cust: IntArray


def esc(values: Sequence[str]) -> pa.Array:
    """JSON string literals (quotes included) for a pool of texts."""
    return pa.array([json.dumps(v, ensure_ascii=False) for v in values], pa.string())


def take(pool: pa.Array, idx: npt.NDArray[np.integer]) -> pa.Array:
    """Rows of ``pool`` at ``idx``."""
    return pool.take(pa.array(np.asarray(idx, dtype=np.int64)))


def props(*parts: pa.Array | str) -> pa.Array:
    """Join literal JSON fragments and columns into ``,"properties":{...}`` bodies."""
    return pc.binary_join_element_wise(',"properties":{', *parts, "}", "")


def num(values: npt.NDArray[np.integer]) -> pa.Array:
    """Integers as JSON number text."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


class Collector:
    """Accumulates (customer, millisecond, event name, body) parts before sorting."""

    def __init__(self, rng: np.random.Generator, end: int) -> None:
        """Collect with ``rng`` for milliseconds; rows at or after ``end`` seconds are dropped."""
        self.rng = rng
        self.end = end
        self.parts: list[tuple[IntArray, IntArray, str, pa.Array]] = []

    def add(self, name: str, cust: npt.ArrayLike, t: npt.ArrayLike, body: pa.Array) -> None:
        """Add rows of one event name; ``t`` in seconds after start."""
        seconds = np.asarray(t, np.int64)
        ms = seconds * 1000 + self.rng.integers(0, 1000, len(seconds))
        inside = (seconds >= 0) & (seconds < self.end)
        if not inside.all():
            body = body.filter(pa.array(inside))
            seconds, ms, cust = seconds[inside], ms[inside], np.asarray(cust)[inside]
        self.parts.append((np.asarray(cust, np.int64), ms, name, body))

    def assemble(self, spec: SimulationSpec, people: Customers, first_message: int) -> EventLines:
        """Sort everything by customer and time and render complete JSON lines."""
        cust = np.concatenate([p[0] for p in self.parts])
        ms = np.concatenate([p[1] for p in self.parts])
        codes = np.concatenate(
            [np.full(len(p[0]), k, dtype=np.int64) for k, p in enumerate(self.parts)]
        )
        bodies = pa.concat_arrays([p[3].cast(pa.string()) for p in self.parts])
        order = np.lexsort((ms, cust))
        cust, ms, codes = cust[order], ms[order], codes[order]
        bodies = bodies.take(pa.array(order))
        kinds = [p[2] for p in self.parts]
        head_pool = pa.array(
            [
                ('{"type":"track","event":' + json.dumps(e)) if e else '{"type":"identify"'
                for e in kinds
            ],
            pa.string(),
        )
        heads = take(head_pool, codes)
        mid = pc.utf8_lpad(num(first_message + np.arange(len(cust))), 10, "0")
        ctx = take(_ctx_pool(), people.zone[cust])
        lines = pc.binary_join_element_wise(
            heads,
            ',"messageId":"sim-',
            str(spec.seed),
            "-",
            mid,
            '","userId":"',
            pa.array(people.customer_id[cust]),
            '","timestamp":"',
            format_segment(spec.start_epoch * 1000 + ms),
            '"',
            bodies,
            ',"context":',
            ctx,
            "}\n",
            "",
        )
        names = np.asarray([p[2] or "identify" for p in self.parts], dtype=str)[codes]
        return EventLines(lines=lines, event=names, cust=cust)


def _ctx_pool() -> pa.Array:
    """Segment ``context`` object per zone, with the locale of the zone's country."""
    out = []
    for c in COUNTRIES:
        for z, _ in c.zones:
            ctx = {"locale": c.locale, "timezone": z}
            out.append(json.dumps(ctx, ensure_ascii=False, separators=(",", ":")))
    return pa.array(out, pa.string())
