"""The decision engine: journeys through plays, the gates, and one pure ``decide`` per pass."""

from aftersale.decisions.engine import PassInputs, PassResult, PolicyState, decide, empty_state
from aftersale.decisions.gates import apply_gates, idempotency_key, unit_hash
from aftersale.decisions.policy import Caps, Policy, QuietHours

__all__ = [
    "Caps",
    "PassInputs",
    "PassResult",
    "Policy",
    "PolicyState",
    "QuietHours",
    "apply_gates",
    "decide",
    "empty_state",
    "idempotency_key",
    "unit_hash",
]
