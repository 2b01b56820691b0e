"""Typed settings: ``aftersale.toml`` (or ``--config`` / ``AFTERSALE_CONFIG``) overridden by
environment variables such as ``AFTERSALE_WAREHOUSE__PATH``; validated once, errors name the key.

Relative paths in the file are resolved against the file's folder so a project can be run
from anywhere.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from aftersale.clock import known_time_zone
from aftersale.errors import ConfigError

__all__ = [
    "CONFIG_ENV_VAR",
    "CONFIG_FILE_NAME",
    "DecisionSettings",
    "IngestSettings",
    "SegmentationSettings",
    "Settings",
    "StateSettings",
    "WarehouseSettings",
    "find_config_file",
    "load_settings",
]

CONFIG_FILE_NAME = "aftersale.toml"
CONFIG_ENV_VAR = "AFTERSALE_CONFIG"

_Strict = ConfigDict(extra="forbid")


class WarehouseSettings(BaseModel):
    """Where the analytical tables live. Only ``aftersale.store`` reads the backend name."""

    model_config = _Strict

    backend: Literal["duckdb"] = "duckdb"
    path: Path = Path("aftersale.duckdb")
    memory_limit: str = Field(
        default="2GB", description="Cap on the engine's working memory (DuckDB syntax)."
    )
    threads: int | None = Field(default=None, ge=1, description="Engine threads; default all.")


class StateSettings(BaseModel):
    """Where the operational tables live (consent ledger, load runs, later the outbox)."""

    model_config = _Strict

    url: SecretStr = Field(
        default=SecretStr("sqlite:///aftersale.sqlite"),
        description="SQLAlchemy URL: SQLite file by default, postgresql+psycopg://... for workers",
    )


class IngestSettings(BaseModel):
    """Defaults for reading exports; each can be overridden per file in a mapping."""

    model_config = _Strict

    chunk_rows: int = Field(default=200_000, ge=1_000, description="Rows read per chunk.")
    default_time_zone: str = Field(
        default="UTC", description="Zone for timestamps that carry no offset."
    )
    default_currency: str | None = Field(
        default=None, description="ISO 4217 code used when a row names none."
    )
    max_field_chars: int = Field(
        default=65_536, ge=64, description="Longer text fields are quarantined as enormous."
    )
    source: str = Field(default="default", description="Name of the source system for dedupe.")

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_time_zone(value)


class SegmentationSettings(BaseModel):
    """Where the project's own segmentation rules live (events, thresholds, weights, lexicons)."""

    model_config = _Strict

    file: Path | None = Field(
        default=None,
        description="TOML file whose values override the packaged segmentation defaults.",
    )


class DecisionSettings(BaseModel):
    """Which playbook the engine runs and the contact policy it obeys (docs/DECISIONS.md)."""

    model_config = _Strict

    playbook: Path | None = Field(
        default=None, description="Playbook YAML file; the packaged default playbook when unset."
    )
    policy: dict[str, Any] = Field(
        default_factory=dict,
        description="Contact policy overrides: caps, quiet_hours, global_holdout, salt, ...",
    )


class Settings(BaseSettings):
    """All settings of one aftersale project."""

    model_config = SettingsConfigDict(
        env_prefix="AFTERSALE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    warehouse: WarehouseSettings = WarehouseSettings()
    state: StateSettings = StateSettings()
    ingest: IngestSettings = IngestSettings()
    segmentation: SegmentationSettings = SegmentationSettings()
    decisions: DecisionSettings = DecisionSettings()
    config_path: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init values; the environment overrides it key by key.
        return (env_settings, init_settings)


def find_config_file(explicit: Path | str | None = None, cwd: Path | None = None) -> Path | None:
    """Return the config file to use: ``explicit``, then ``$AFTERSALE_CONFIG``, then
    ``./aftersale.toml``; ``None`` when there is none (defaults apply)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist", key="--config")
        return path
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(
                f"config file {path} named by {CONFIG_ENV_VAR} does not exist", key=CONFIG_ENV_VAR
            )
        return path
    candidate = (cwd or Path.cwd()) / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def load_settings(config: Path | str | None = None, cwd: Path | None = None) -> Settings:
    """Load, merge and validate settings; raise :class:`ConfigError` naming the bad key."""
    path = find_config_file(config, cwd)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}", key=None) from exc
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems = []
        first_key = None
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            first_key = first_key or key
            problems.append(f"{key}: {err['msg']}")
        where = f" in {path} or AFTERSALE_* environment" if path else " in AFTERSALE_* environment"
        raise ConfigError(f"invalid setting{where}: " + "; ".join(problems), key=first_key) from exc
    base = path.parent if path is not None else (cwd or Path.cwd())
    return _resolve_paths(settings, base, path)


def _resolve_paths(settings: Settings, base: Path, path: Path | None) -> Settings:
    warehouse = settings.warehouse
    if not warehouse.path.is_absolute():
        warehouse = warehouse.model_copy(update={"path": (base / warehouse.path)})
    state = settings.state
    url = state.url.get_secret_value()
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        state = state.model_copy(update={"url": SecretStr(prefix + str(base / url[len(prefix) :]))})
    segmentation = settings.segmentation
    if segmentation.file is not None and not segmentation.file.is_absolute():
        segmentation = segmentation.model_copy(update={"file": base / segmentation.file})
    decisions = settings.decisions
    if decisions.playbook is not None and not decisions.playbook.is_absolute():
        decisions = decisions.model_copy(update={"playbook": base / decisions.playbook})
    return settings.model_copy(
        update={
            "warehouse": warehouse,
            "state": state,
            "segmentation": segmentation,
            "decisions": decisions,
            "config_path": path,
        }
    )
