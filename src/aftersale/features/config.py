"""Which events mean what for this shop: activation, first win, key action, and the recent windows.

A course seller, a software seller and a shop of physical goods each name different events for
the same moments, so the features read these from configuration instead of hard-coding them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["EventMatch", "SignalEvents"]

_Strict = ConfigDict(extra="forbid", frozen=True)


class EventMatch(BaseModel):
    """Track events named ``event`` whose properties equal every value in ``where``."""

    model_config = _Strict

    event: str = Field(min_length=1, description="Segment track event name.")
    where: dict[str, str] = Field(
        default_factory=dict, description="Property values the event must carry (text equality)."
    )

    @field_validator("where")
    @classmethod
    def _plain_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name.replace("_", "").isalnum():
                raise ValueError(f"property name {name!r} must be letters, digits and _")
        return value

    def describe(self) -> str:
        """Plain words for reasons and docs."""
        if not self.where:
            return self.event
        filters = ", ".join(f"{k}={v}" for k, v in self.where.items())
        return f"{self.event} ({filters})"


class SignalEvents(BaseModel):
    """The events that count as activation, first win and key action, and feature windows."""

    model_config = _Strict

    activation: list[EventMatch] = Field(
        default_factory=lambda: [EventMatch(event="Onboarding Step Completed")],
        description="Any of these events means the customer has started.",
    )
    first_win: list[EventMatch] = Field(
        default_factory=lambda: [
            EventMatch(event="Milestone Reached", where={"milestone": "first_win"})
        ],
        description="The first of these events is the customer's first win.",
    )
    key_action: list[EventMatch] = Field(
        default_factory=lambda: [EventMatch(event="Key Action Performed")],
        description="The repeated action that shows the product is in use.",
    )
    counts: dict[str, EventMatch] = Field(
        default_factory=lambda: {
            "call_requests": EventMatch(event="Call Requested"),
            "quick_path_chosen": EventMatch(
                event="Onboarding Path Chosen", where={"path": "quick"}
            ),
            "results_cta_clicks": EventMatch(event="CTA Clicked", where={"cta": "see_results"}),
            "upgrade_cta_clicks": EventMatch(event="CTA Clicked", where={"cta": "upgrade"}),
        },
        description="Extra per-customer event counts, each a feature named by its key "
        "(calls to action used, onboarding paths chosen...).",
    )
    help_paths: list[str] = Field(
        default_factory=lambda: ["/help", "/faq", "/support"],
        description="Page calls whose path or URL contains one of these are help-page views.",
    )
    recent_days: int = Field(default=30, ge=1, le=365, description="Short recent window.")
    long_days: int = Field(default=90, ge=1, le=730, description="Long recent window.")
    usage_days: int = Field(default=7, ge=1, le=365, description="Window for 'still using it'.")

    @field_validator("counts")
    @classmethod
    def _names(cls, value: dict[str, EventMatch]) -> dict[str, EventMatch]:
        return _check_count_names(value)


def _check_count_names(counts: dict[str, EventMatch]) -> dict[str, EventMatch]:
    for name in counts:
        if not name.isidentifier() or name != name.lower():
            raise ValueError(f"count name {name!r} must be a lower-case identifier")
    return counts
