"""Hidden per-slice behaviour: the numbers that make each buyer slice act like itself.

Rows of every matrix follow :data:`aftersale.simulator.spec.SLICES`
(pain_now, proof_seeker, time_poor, budget_starter, status_chaser).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHANNELS",
    "CHECKOUT_QUESTION_P",
    "EMAIL_OPT_IN_P",
    "EXTRA_LINE_P",
    "FIRST_WIN_P",
    "ONBOARDING",
    "ONBOARDING_P",
    "PRICE_SENSITIVITY_MEAN",
    "PRICING_VIEW_P",
    "REFERRAL_P",
    "REFUND_BUMP",
    "SALES_CHANNEL_P",
    "SLICE_CATEGORY_TILT",
    "SMS_OPT_IN_P",
    "TICKET_RATE",
    "TIER_NAMES",
    "TIER_P",
]

F = npt.NDArray[np.float64]

ONBOARDING: Final[tuple[str, ...]] = ("fast", "slow", "stuck", "never")
"""How a customer gets going after the first order."""

ONBOARDING_P: Final[F] = np.array(
    [
        [0.55, 0.25, 0.12, 0.08],
        [0.40, 0.35, 0.17, 0.08],
        [0.25, 0.35, 0.28, 0.12],
        [0.30, 0.32, 0.22, 0.16],
        [0.55, 0.28, 0.12, 0.05],
    ]
)

FIRST_WIN_P: Final[F] = np.array([0.97, 0.75, 0.0, 0.0])
"""Chance of reaching a first win, per onboarding class."""

PRICE_SENSITIVITY_MEAN: Final[F] = np.array([0.30, 0.45, 0.35, 0.78, 0.15])

EMAIL_OPT_IN_P: Final[F] = np.array([0.55, 0.70, 0.50, 0.68, 0.62])
SMS_OPT_IN_P: Final[F] = np.array([0.55, 0.20, 0.30, 0.22, 0.28])

TIER_NAMES: Final[tuple[str, ...]] = ("starter", "standard", "pro", "urgent")
TIER_P: Final[F] = np.array(
    [
        [0.08, 0.22, 0.10, 0.60],
        [0.15, 0.55, 0.22, 0.08],
        [0.20, 0.55, 0.10, 0.15],
        [0.70, 0.24, 0.03, 0.03],
        [0.03, 0.22, 0.70, 0.05],
    ]
)
"""Offer tier of the first order given the slice; later orders lean toward ``standard``."""

EXTRA_LINE_P: Final[F] = np.array([0.15, 0.22, 0.16, 0.12, 0.30])
"""Chance of each of three possible extra lines on an order (so 1 to 4 lines)."""

CHANNELS: Final[tuple[str, ...]] = ("web", "app", "pos", "marketplace")
SALES_CHANNEL_P: Final[F] = np.array(
    [
        [0.55, 0.30, 0.05, 0.10],
        [0.72, 0.15, 0.05, 0.08],
        [0.40, 0.45, 0.03, 0.12],
        [0.55, 0.12, 0.05, 0.28],
        [0.65, 0.20, 0.12, 0.03],
    ]
)

REFUND_BUMP: Final[F] = np.array([0.02, 0.015, 0.01, 0.05, 0.0])
"""Extra refund probability per order on top of the risk-driven base."""

CHECKOUT_QUESTION_P: Final[F] = np.array([0.45, 0.45, 0.25, 0.55, 0.30])
PRICING_VIEW_P: Final[F] = np.array([0.20, 0.50, 0.20, 0.70, 0.35])
REFERRAL_P: Final[F] = np.array([0.22, 0.18, 0.12, 0.10, 0.32])
"""Chance that a customer with a first win shares a referral."""

TICKET_RATE: Final[F] = np.array([0.9, 0.6, 0.4, 0.6, 0.5])
"""Baseline support tickets per customer over a lifetime, before onboarding trouble."""

SLICE_CATEGORY_TILT: Final[tuple[tuple[int, ...], ...]] = (
    (3, 4, 8),
    (2, 3, 9),
    (0, 1, 8),
    (0, 4, 7),
    (1, 5, 6, 9),
)
"""Categories each slice leans toward (indexes into the catalogue categories)."""
