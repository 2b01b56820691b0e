"""Independent, reproducible random streams: one per (seed, purpose, shard of customers)."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["Stream", "rng_for"]


class Stream(IntEnum):
    """Purpose of a random stream; separate streams keep optional outputs from shifting others."""

    CATALOG = 1
    WORLD = 2
    PURCHASES = 3
    BASKETS = 4
    BEHAVIOUR = 5
    EVENTS = 6
    EXPORTS = 7
    INVOICES = 8
    RESPONSE = 9
    FORWARD = 10


def rng_for(seed: int, stream: Stream, shard: int) -> np.random.Generator:
    """Generator for ``stream`` of ``shard`` under ``seed``; same arguments, same numbers."""
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(int(stream), shard))
    return np.random.Generator(np.random.PCG64(sequence))
