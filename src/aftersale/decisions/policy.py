"""The contact policy every decision obeys: caps, quiet hours, holdouts, suppressions.

One typed configuration, validated once; gates read it and nothing else. Defaults are
conservative: one marketing message per customer per day, three email and two SMS marketing
messages a week, no SMS or push between 21:00 and 08:00 in the customer's own time zone (the
TCPA window for SMS), a 5 % global control group that receives no marketing.
"""

from __future__ import annotations

from datetime import time, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aftersale.clock import known_time_zone

__all__ = ["Caps", "Policy", "QuietHours"]

_Strict = ConfigDict(extra="forbid", frozen=True)


class Caps(BaseModel):
    """Marketing messages allowed per customer on one channel, per day and per 7 days."""

    model_config = _Strict

    day: int = Field(ge=0)
    week: int = Field(ge=0)


class QuietHours(BaseModel):
    """Local times between which the listed channels are not used (deferred, never dropped)."""

    model_config = _Strict

    start: time = time(21, 0)
    end: time = time(8, 0)
    channels: list[str] = Field(default_factory=lambda: ["sms", "push"])
    default_time_zone: str = "UTC"

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_time_zone(value)


class Policy(BaseModel):
    """Everything the gates need; see docs/DECISIONS.md for the order they run in."""

    model_config = _Strict

    salt: str = Field(default="aftersale", min_length=1, description="Holdout hashing salt.")
    global_holdout: float = Field(default=0.05, ge=0, le=0.5)
    marketing_per_day: int = Field(default=1, ge=0)
    caps: dict[str, Caps] = Field(
        default_factory=lambda: {
            "email": Caps(day=1, week=3),
            "sms": Caps(day=1, week=2),
            "push": Caps(day=1, week=3),
            "in_app": Caps(day=2, week=7),
            "webhook": Caps(day=5, week=20),
        }
    )
    quiet_hours: QuietHours = QuietHours()
    promotion_blockers: dict[str, str] = Field(
        default_factory=lambda: {
            "refund_open": "refund_requests_recent > 0",
            "angry_ticket": "angry_texts_recent > 0",
        },
        description="Named SQL tests over features; a customer matching one gets no marketing.",
    )
    red_blocks_goals: list[str] = Field(
        default_factory=lambda: ["referral", "order_value"],
        description="Goals never pursued while the customer's health is Red.",
    )
    referral_needs_green: bool = True
    stale_after: timedelta = Field(
        default=timedelta(days=2),
        description="A send that fell due longer ago than this is suppressed, not sent late.",
    )
