"""The playbook format: plays with an audience, a trigger, steps, channels, templates and rules.

Pydantic models with ``extra="forbid"`` (a misspelt key is an error, not a silent default) and
discriminated unions on ``kind`` for triggers, steps and re-entry rules, so editors can
autocomplete from the exported JSON Schema (``aftersale playbook schema``). Checks that need
the feature registry (conditions, trigger timestamps) live in :mod:`aftersale.playbooks.load`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aftersale.domain.slices import GRADES, SLICES

__all__ = [
    "CHANNELS",
    "EXIT_SHORTCUTS",
    "BranchStep",
    "ChangeTrigger",
    "EmailMessage",
    "EventTrigger",
    "ExitStep",
    "Message",
    "Play",
    "Playbook",
    "SendStep",
    "TimeTrigger",
    "Variant",
    "WaitStep",
    "WaitUntilStep",
    "parse_duration",
]

Channel = Literal["email", "sms", "push", "in_app", "webhook"]
CHANNELS: tuple[str, ...] = ("email", "sms", "push", "in_app", "webhook")
Goal = Literal[
    "activation",
    "first_win",
    "repeat_purchase",
    "order_value",
    "retention",
    "winback",
    "referral",
    "satisfaction",
]
EXIT_SHORTCUTS: dict[str, str] = {
    "bought_again": "a purchase after the play started",
    "refunded": "a refund or refund request after the play started",
    "unsubscribed": "an opt-out from the play's channel and purpose",
    "grade_red": "the health grade turned Red",
    "grade_not_green": "the health grade is no longer Green",
}
"""Named exit conditions; any other exit condition is a SQL test over features."""

_DURATION = re.compile(r"^(-)?(\d+)\s*(m|h|d|w)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ID = r"^[a-z][a-z0-9_]{0,63}$"
_Strict = ConfigDict(extra="forbid", frozen=True)


def parse_duration(text: str, *, allow_negative: bool = False) -> timedelta:
    """``"15m"``, ``"36h"``, ``"1d"``, ``"2w"`` (and ``"-3d"`` where allowed) as a timedelta."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30m, 36h, 1d or 2w")
    sign, amount, unit = match.groups()
    if sign and not allow_negative:
        raise ValueError(f"{text!r}: a negative duration is not allowed here")
    value = timedelta(**{_UNITS[unit]: int(amount)})
    return -value if sign else value


Duration = Annotated[str, Field(description="30m, 36h, 1d, 2w")]


# -- messages ------------------------------------------------------------------------------
class EmailMessage(BaseModel):
    """An email: subject, HTML body and plain-text body (Jinja2, rendered sandboxed)."""

    model_config = _Strict

    subject: str = Field(min_length=1, max_length=200)
    html: str = Field(min_length=1)
    text: str = Field(min_length=1)


class SmsMessage(BaseModel):
    """An SMS text (at most three segments)."""

    model_config = _Strict

    text: str = Field(min_length=1, max_length=480)


class PushMessage(BaseModel):
    """A push or in-app message: title and body."""

    model_config = _Strict

    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=1000)


class WebhookMessage(BaseModel):
    """A webhook call: the event name sent and extra JSON fields (values may be templates)."""

    model_config = _Strict

    event: str = Field(min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)


class Message(BaseModel):
    """The message of one send step, per channel."""

    model_config = _Strict

    email: EmailMessage | None = None
    sms: SmsMessage | None = None
    push: PushMessage | None = None
    in_app: PushMessage | None = None
    webhook: WebhookMessage | None = None

    def channels(self) -> list[str]:
        """Channels this message has a template for."""
        return [c for c in CHANNELS if getattr(self, c) is not None]


# -- triggers --------------------------------------------------------------------------------
class EventTrigger(BaseModel):
    """Enter when an event arrives (optionally with property values)."""

    model_config = _Strict

    kind: Literal["event"]
    event: str = Field(min_length=1)
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)
    within: Duration | None = Field(
        default=None, description="Only events at most this old when the engine runs."
    )

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class TimeTrigger(BaseModel):
    """Enter at a moment relative to a timestamp feature (first order, next-need date...)."""

    model_config = _Strict

    kind: Literal["time"]
    after: str = Field(min_length=1, description="A timestamp feature, e.g. first_order_at.")
    offset: Duration = "0d"

    @field_validator("offset")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value, allow_negative=True)
        return value


ChangeOf = Literal["health_grade", "lifecycle", "slice", "rfm_cell", "value_tier", "persona"]


class ChangeTrigger(BaseModel):
    """Enter when a segment value changes between two snapshots."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal["change"]
    of: ChangeOf
    to: list[str] = Field(min_length=1)
    from_: list[str] = Field(default_factory=list, alias="from")

    @model_validator(mode="after")
    def _values(self) -> ChangeTrigger:
        allowed = {"health_grade": GRADES, "slice": (*SLICES, "unknown")}.get(self.of)
        if allowed is not None:
            bad = [v for v in (*self.to, *self.from_) if v not in allowed]
            if bad:
                raise ValueError(f"{self.of} has no value {bad[0]!r}; use {', '.join(allowed)}")
        return self


Trigger = Annotated[EventTrigger | TimeTrigger | ChangeTrigger, Field(discriminator="kind")]


# -- steps -----------------------------------------------------------------------------------
class SendStep(BaseModel):
    """Send the step's message on the first allowed channel of the play."""

    model_config = _Strict

    kind: Literal["send"]
    id: str = Field(pattern=_ID)
    message: Message


class WaitStep(BaseModel):
    """Wait a fixed time."""

    model_config = _Strict

    kind: Literal["wait"]
    id: str = Field(pattern=_ID)
    duration: Duration

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value


class WaitUntilStep(BaseModel):
    """Wait for an event (matching the triggering order or product if asked), or a timeout."""

    model_config = _Strict

    kind: Literal["wait_until"]
    id: str = Field(pattern=_ID)
    event: str = Field(min_length=1)
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)
    match: Literal["none", "order", "product"] = "none"
    timeout: Duration
    on_timeout: Literal["continue", "exit"] = "continue"

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value


class BranchStep(BaseModel):
    """Continue with ``then`` when the condition holds, else with ``otherwise``."""

    model_config = _Strict

    kind: Literal["branch"]
    id: str = Field(pattern=_ID)
    condition: str = Field(min_length=1, description="SQL test over features.")
    then: list[Step] = Field(min_length=1)
    otherwise: list[Step] = Field(default_factory=list)


class ExitStep(BaseModel):
    """Leave the play."""

    model_config = _Strict

    kind: Literal["exit"]
    id: str = Field(pattern=_ID)


Step = Annotated[
    SendStep | WaitStep | WaitUntilStep | BranchStep | ExitStep, Field(discriminator="kind")
]
BranchStep.model_rebuild()


# -- re-entry and variants -------------------------------------------------------------------
class OnceEver(BaseModel):
    """A customer enters the play at most once."""

    model_config = _Strict
    kind: Literal["once_ever"]


class OncePerOrder(BaseModel):
    """Once for each order (the triggering or latest order)."""

    model_config = _Strict
    kind: Literal["once_per_order"]


class EveryDays(BaseModel):
    """Again at most every ``days`` days."""

    model_config = _Strict
    kind: Literal["every"]
    days: int = Field(ge=1, le=3650)


Reentry = Annotated[OnceEver | OncePerOrder | EveryDays, Field(discriminator="kind")]


class Variant(BaseModel):
    """An A/B variant: a weight and the messages it replaces, by send-step id."""

    model_config = _Strict

    id: str = Field(pattern=_ID)
    weight: float = Field(gt=0)
    messages: dict[str, Message] = Field(default_factory=dict)


class Audience(BaseModel):
    """Who may enter: segment values (any listed value matches) and a SQL test over features."""

    model_config = _Strict

    lifecycle: list[str] = Field(default_factory=list)
    rfm_cells: list[str] = Field(default_factory=list)
    value_tiers: list[Literal["high", "medium", "low"]] = Field(default_factory=list)
    personas: list[Literal["price_sensitive", "premium", "neutral"]] = Field(default_factory=list)
    slices: list[str] = Field(default_factory=list)
    health: list[Literal["green", "yellow", "red"]] = Field(default_factory=list)
    where: str | None = Field(default=None, description="SQL test over features.")

    @field_validator("slices")
    @classmethod
    def _slices(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in (*SLICES, "unknown")]
        if bad:
            raise ValueError(f"unknown slice {bad[0]!r}; use {', '.join(SLICES)} or unknown")
        return value


# -- plays and playbooks ---------------------------------------------------------------------
class Play(BaseModel):
    """One play: who, when, what to send on which channel, and the rules around it."""

    model_config = _Strict

    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    purpose: Literal["transactional", "marketing"]
    priority: int = Field(ge=0, le=1000, description="Higher wins the slot.")
    goal: Goal
    audience: Audience = Audience()
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    reentry: Reentry = OnceEver(kind="once_ever")
    exit_when: list[str] = Field(default_factory=list)
    variants: list[Variant] = Field(default_factory=list)
    holdout: float = Field(default=0.0, ge=0.0, le=0.5)

    def walk_steps(self) -> list[Step]:
        """Every step, branches included, in document order."""
        out: list[Step] = []

        def visit(steps: list[Step]) -> None:
            for step in steps:
                out.append(step)
                if isinstance(step, BranchStep):
                    visit(step.then)
                    visit(step.otherwise)

        visit(self.steps)
        return out

    @model_validator(mode="after")
    def _consistent(self) -> Play:
        steps = self.walk_steps()
        ids = [s.id for s in steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"step ids must be unique within a play; repeated: {dupes[0]!r}")
        sends = [s for s in steps if isinstance(s, SendStep)]
        if not sends:
            raise ValueError("a play needs at least one send step")
        for step in sends:
            missing = [c for c in self.channels if getattr(step.message, c) is None]
            if missing:
                raise ValueError(
                    f"send step {step.id!r} has no {missing[0]} message but the play lists "
                    f"channel {missing[0]!r}"
                )
        send_ids = {s.id for s in sends}
        for variant in self.variants:
            unknown = sorted(set(variant.messages) - send_ids)
            if unknown:
                raise ValueError(
                    f"variant {variant.id!r} replaces {unknown[0]!r}, which is not a send step"
                )
        names = [v.id for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant ids must be unique within a play")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("a channel is listed twice")
        return self


class Playbook(BaseModel):
    """A versioned set of plays."""

    model_config = _Strict

    version: Literal[1] = 1
    name: str = Field(min_length=1)
    description: str = ""
    plays: list[Play] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Playbook:
        ids = [p.id for p in self.plays]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"play ids must be unique; repeated: {dupes[0]!r}")
        return self
