"""Number order lines and drop exact repeats while a file streams, when its orders are contiguous.

Exports almost always list an order's lines together. For such files each line's position in its
order, and whether it repeats a line already seen in that order, follow from the rows before it,
so they can be computed chunk by chunk with a carry of one order, with no sort over the whole
load. Whether the file really was contiguous is checked at the end: the number of runs of equal
order ids must equal the number of distinct order ids. If it is not, the load falls back to the
sort-based steps in :mod:`aftersale.ingestion.assemble`, which give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = ["POSITION", "REPEAT", "LineSequencer"]

POSITION = "_seq_pos"
REPEAT = "_seq_dup"


@dataclass(slots=True)
class LineSequencer:
    """Stateful: feed it every chunk of lines in file order (each with ``order_id`` and ``_h``)."""

    hash_column: str = "_h"
    runs: int = 0
    repeats: int = 0
    rows: int = 0
    _order: str | None = None
    _position: int = 0
    _hashes: set[int] = field(default_factory=set)

    def __call__(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Return ``lines`` with the line's position in its order and a repeat flag added."""
        if lines.height == 0:
            return lines.with_columns(
                pl.lit(None, dtype=pl.Int64).alias(POSITION),
                pl.lit(None, dtype=pl.Boolean).alias(REPEAT),
            )
        h = self.hash_column
        previous = pl.col("order_id").shift(1, fill_value=self._order)
        starts = (pl.col("order_id") != previous).fill_null(True)
        framed = lines.with_columns(starts.cum_sum().alias("_run"))
        continues = framed["_run"][0] == 0  # the first rows continue the carried order
        carried = list(self._hashes) if continues else []
        framed = framed.with_columns((~pl.col(h).is_first_distinct().over("_run")).alias(REPEAT))
        if carried:
            framed = framed.with_columns(
                (pl.col(REPEAT) | ((pl.col("_run") == 0) & pl.col(h).is_in(carried))).alias(REPEAT)
            )
        offset = pl.when(pl.col("_run") == 0).then(pl.lit(self._position)).otherwise(0)
        framed = framed.with_columns(
            ((~pl.col(REPEAT)).cast(pl.Int64).cum_sum().over("_run") + offset)
            .cast(pl.Int64)
            .alias(POSITION)
        )
        last_run = framed["_run"][-1]
        tail = framed.filter(pl.col("_run") == last_run)
        tail_hashes = set(tail.filter(~pl.col(REPEAT))[h].to_list())
        self._hashes = (self._hashes | tail_hashes) if last_run == 0 and continues else tail_hashes
        self._position = int(tail[POSITION][-1])
        self._order = str(tail["order_id"][-1])
        self.runs += int(last_run)
        self.repeats += int(framed[REPEAT].sum())
        self.rows += lines.height
        return framed.drop("_run")
