"""The buyer slices, health grades and tones the product assigns, with their plain-word labels."""

from __future__ import annotations

from typing import Final

__all__ = ["GRADES", "SLICES", "SLICE_LABELS", "TONES", "UNKNOWN_SLICE"]

SLICES: Final[tuple[str, ...]] = (
    "pain_now",
    "proof_seeker",
    "time_poor",
    "budget_starter",
    "status_chaser",
)
"""Why someone bought, right now: an urgent problem, needing proof, short of time, watching
the budget, or wanting to stand out."""

SLICE_LABELS: Final[dict[str, str]] = {
    "pain_now": "Pain-Now",
    "proof_seeker": "Proof-Seeker",
    "time_poor": "Time-Poor",
    "budget_starter": "Budget-Starter",
    "status_chaser": "Status-Chaser",
    "unknown": "unknown",
}

UNKNOWN_SLICE: Final[str] = "unknown"

GRADES: Final[tuple[str, ...]] = ("green", "yellow", "red")
"""Health grades from best to worst."""

TONES: Final[tuple[str, ...]] = ("normal", "confusion", "disappointment", "anger", "refund")
"""Tones of customer text, from harmless to most alarming."""
