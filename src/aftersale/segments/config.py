"""The segmentation rules as typed configuration: packaged defaults, overridden by a project file.

Loading collects every problem and names its key (``health.red.2.when.0.op``) and the file, so
a mistyped threshold is fixed in one go.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aftersale.domain.slices import SLICES, TONES
from aftersale.errors import ConfigError
from aftersale.features.config import SignalEvents
from aftersale.features.predictions import PredictionSettings
from aftersale.segments.rules import Signal

__all__ = [
    "AffinityConfig",
    "FeatureEvidence",
    "HealthConfig",
    "LifecycleConfig",
    "PersonaConfig",
    "SegmentationConfig",
    "SliceConfig",
    "TierWeight",
    "load_segmentation",
]

_Strict = ConfigDict(extra="forbid", frozen=True)


class LifecycleConfig(BaseModel):
    """Thresholds of the lifecycle stages (see docs/SEGMENTS.md for the order they apply in)."""

    model_config = _Strict

    new_days: float = Field(gt=0)
    onboarding_days: float = Field(gt=0)
    mid_tenure_days: float = Field(gt=0)
    loyal_orders: int = Field(ge=2)
    loyal_days: float = Field(gt=0)
    at_risk_lateness: float = Field(gt=0)
    lapsed_lateness: float = Field(gt=0)
    lapsed_min_days: float = Field(ge=0)
    won_back_gap_lateness: float = Field(gt=0)
    won_back_days: float = Field(gt=0)
    gap_prior_weight: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleConfig:
        if self.lapsed_lateness < self.at_risk_lateness:
            raise ValueError("lapsed_lateness must be at least at_risk_lateness")
        if self.onboarding_days < self.new_days:
            raise ValueError("onboarding_days must be at least new_days")
        return self


class ValueConfig(BaseModel):
    """Value tier cut points on the share of customers below (0.8 = top 20 % are high)."""

    model_config = _Strict

    basis: str = "monetary_minor"
    high: float = Field(gt=0, lt=1)
    medium: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> ValueConfig:
        if self.medium >= self.high:
            raise ValueError("medium must be below high")
        return self


class AffinityConfig(BaseModel):
    """Smoothing of category shares and how many top categories count as affinities."""

    model_config = _Strict

    alpha: float = Field(ge=0)
    top: int = Field(ge=1, le=20)


class PersonaConfig(BaseModel):
    """Signals for the price-sensitive and premium personas; the stronger side wins."""

    model_config = _Strict

    min_points: float = Field(gt=0)
    price_sensitive: list[Signal]
    premium: list[Signal]


class TierWeight(BaseModel):
    """An offer tier that points to a slice."""

    model_config = _Strict

    slice: str
    weight: float

    @model_validator(mode="after")
    def _known(self) -> TierWeight:
        if self.slice not in SLICES:
            raise ValueError(f"unknown slice {self.slice!r}; use one of {', '.join(SLICES)}")
        return self


class FeatureEvidence(BaseModel):
    """A count feature that points to a slice: ``weight`` × min(count, ``cap``)."""

    model_config = _Strict

    feature: str = Field(min_length=1)
    slice: str
    weight: float = Field(ge=0)
    cap: int = Field(default=1, ge=1)
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _known(self) -> FeatureEvidence:
        if self.slice not in SLICES:
            raise ValueError(f"unknown slice {self.slice!r}; use one of {', '.join(SLICES)}")
        return self


class SliceConfig(BaseModel):
    """Weights of each kind of evidence for the buyer slice, and the confidence floor."""

    model_config = _Strict

    temperature: float = Field(gt=0)
    min_confidence: float = Field(ge=0, lt=1)
    survey_weight: float = Field(ge=0)
    hit_cap: int = Field(ge=1)
    discount_weight: float = Field(ge=0)
    premium_price_weight: float = Field(ge=0)
    tier_weights: dict[str, TierWeight]
    kind_weights: dict[str, float]
    feature_evidence: list[FeatureEvidence] = Field(default_factory=list)


class Lexicons(BaseModel):
    """Words that point to each slice, and to each tone of customer text."""

    model_config = _Strict

    slices: dict[str, list[str]]
    tones: dict[str, list[str]]

    @model_validator(mode="after")
    def _known(self) -> Lexicons:
        unknown = set(self.slices) - set(SLICES)
        if unknown:
            raise ValueError(f"unknown slices {sorted(unknown)}; use {', '.join(SLICES)}")
        unknown = set(self.tones) - set(TONES)
        if unknown:
            raise ValueError(f"unknown tones {sorted(unknown)}; use {', '.join(TONES)}")
        return self


class ToneConfig(BaseModel):
    """Sentiment floor below which text counts as angry even without angry words."""

    model_config = _Strict

    anger_sentiment: float = Field(ge=-1, le=0)


class HealthConfig(BaseModel):
    """Red and Yellow signals (any one sets the grade), Green reasons, and score weights."""

    model_config = _Strict

    red: list[Signal]
    yellow: list[Signal]
    green: list[Signal]


class SegmentationConfig(BaseModel):
    """Every rule that turns features into segments, slices and health grades."""

    model_config = _Strict

    signals: SignalEvents
    lifecycle: LifecycleConfig
    value: ValueConfig
    affinity: AffinityConfig
    persona: PersonaConfig
    slices: SliceConfig
    lexicons: Lexicons
    tones: ToneConfig
    health: HealthConfig
    predictions: PredictionSettings = PredictionSettings()
    source: str = Field(default="defaults", exclude=True)

    def fingerprint(self) -> str:
        """A short hash of the rules; a snapshot made under other rules is not carried forward."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _defaults() -> dict[str, Any]:
    text = resources.files("aftersale.segments").joinpath("defaults.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_segmentation(path: Path | str | None = None) -> SegmentationConfig:
    """The packaged defaults, overridden by ``path`` when given; errors name file and key."""
    data = _defaults()
    where = "the packaged defaults"
    if path is not None:
        where = str(path)
        try:
            override = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"segmentation file {path} does not exist", key="segmentation.file"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}", key="segmentation.file") from exc
        data = _merge(data, override)
    try:
        return SegmentationConfig(**data, source=where)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        first = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ConfigError(
            f"invalid segmentation rules in {where}: " + "; ".join(problems), key=first
        ) from exc
