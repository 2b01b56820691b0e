"""Number order lines and drop exact repeats while a file streams, when its orders are contiguous.

Exports almost always list an order's lines together. For such files each line's position in its
order, and whether it repeats a line already seen in that order, follow from the rows before it,
so they can be computed chunk by chunk with a carry of one order, with no sort over the whole
load. Whether the file really was contiguous is checked at the end: every run of equal order ids
must have a different order id. If not, the load falls back to the sort-based steps in
:mod:`aftersale.ingestion.assemble`, which give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = ["POSITION", "REPEAT", "RUN", "LineSequencer"]

POSITION = "_seq_pos"
REPEAT = "_seq_dup"
RUN = "_seq_run"


@dataclass(slots=True)
class LineSequencer:
    """Stateful: feed it every chunk of lines in file order (each with ``order_id`` and ``_h``).

    Adds the line's position in its order, a repeat flag and the global number of its run of
    equal order ids (1, 2, …; a run continued from the previous chunk keeps its number).
    """

    hash_column: str = "_h"
    runs: int = 0
    repeats: int = 0
    rows: int = 0
    _order: str | None = None
    _position: int = 0
    _hashes: set[int] = field(default_factory=set)

    def __call__(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Return ``lines`` with position, repeat flag and run number added (vectorised)."""
        if lines.height == 0:
            return lines.with_columns(
                pl.lit(None, dtype=pl.Int64).alias(POSITION),
                pl.lit(None, dtype=pl.Boolean).alias(REPEAT),
                pl.lit(None, dtype=pl.Int64).alias(RUN),
            )
        h = self.hash_column
        previous = pl.col("order_id").shift(1, fill_value=self._order)
        starts = (pl.col("order_id") != previous).fill_null(True)
        framed = lines.with_columns(starts.alias("_start")).with_columns(
            pl.col("_start").cum_sum().cast(pl.Int64).alias("_run")
        )
        # A repeat is a (run, hash) pair seen before in this chunk, or a hash of the carried
        # order seen in earlier chunks.
        repeat = ~pl.struct("_run", h).is_first_distinct()
        if self._hashes and not bool(framed["_start"][0]):
            repeat = repeat | ((pl.col("_run") == 0) & pl.col(h).is_in(list(self._hashes)))
        framed = framed.with_columns(repeat.alias(REPEAT))
        # Position: non-repeats counted from the start of the run (carried runs continue).
        kept = (~pl.col(REPEAT)).cast(pl.Int64)
        framed = framed.with_columns(kept.cum_sum().alias("_cs"))
        base = (
            pl.when(pl.col("_start"))
            .then(pl.col("_cs") - kept)
            .otherwise(None)
            .forward_fill()
            .fill_null(-self._position)
        )
        framed = framed.with_columns(
            (pl.col("_cs") - base).alias(POSITION),
            (pl.col("_run") + self.runs).alias(RUN),
        )
        last_run = int(framed["_run"][-1])
        tail = framed.filter(pl.col("_run") == last_run)
        tail_hashes = set(tail.filter(~pl.col(REPEAT))[h].to_list())
        self._hashes = (self._hashes | tail_hashes) if last_run == 0 else tail_hashes
        self._position = int(tail[POSITION][-1])
        self._order = str(tail["order_id"][-1])
        self.runs += last_run
        self.repeats += int(framed[REPEAT].sum())
        self.rows += lines.height
        return framed.drop("_start", "_run", "_cs")
