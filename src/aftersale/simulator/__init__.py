"""A synthetic store with hidden ground truth: the test bed and demo of aftersale.

:func:`simulate_store` writes customers, products, orders, order lines, consents, Segment
events and messy exports (Shopify, invoices) for a :class:`SimulationSpec`, plus ``truth/``
files with every hidden trait (buyer slice, purchase rate, drop-out, health) so models can be
checked against what really happened. :func:`simulate_forward` continues the world after
messages, with effects from the hidden :class:`ResponseModel`, for closed-loop evaluation.
"""

from __future__ import annotations

from aftersale.simulator.engine import Progress, Shard, iter_shards, simulate_store
from aftersale.simulator.forward import ForwardResult, WorldState, simulate_forward
from aftersale.simulator.response import (
    MESSAGE_KINDS,
    Effect,
    EffectArrays,
    MessageKind,
    ResponseModel,
    ResponseParams,
    SentMessage,
)
from aftersale.simulator.spec import FORMATS, SLICES, SimulationResult, SimulationSpec, Slice

__all__ = [
    "FORMATS",
    "MESSAGE_KINDS",
    "SLICES",
    "Effect",
    "EffectArrays",
    "ForwardResult",
    "MessageKind",
    "Progress",
    "ResponseModel",
    "ResponseParams",
    "SentMessage",
    "Shard",
    "SimulationResult",
    "SimulationSpec",
    "Slice",
    "WorldState",
    "iter_shards",
    "simulate_forward",
    "simulate_store",
]
