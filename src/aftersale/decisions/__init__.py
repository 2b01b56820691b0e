"""The decision engine's core: the contact policy and the pure ``decide`` over candidates."""

from aftersale.decisions.decide import decide, idempotency_key, unit_hash
from aftersale.decisions.policy import Caps, Policy, QuietHours

__all__ = ["Caps", "Policy", "QuietHours", "decide", "idempotency_key", "unit_hash"]
