"""Playbooks as code: the YAML format, its validation and its compilation to Ibis."""

from aftersale.playbooks.conditions import check_condition, parse_condition
from aftersale.playbooks.load import (
    LoadedPlaybook,
    default_playbook,
    load_playbook,
    validate_playbook,
)
from aftersale.playbooks.schema import Play, Playbook, parse_duration

__all__ = [
    "LoadedPlaybook",
    "Play",
    "Playbook",
    "check_condition",
    "default_playbook",
    "json_schema",
    "load_playbook",
    "parse_condition",
    "parse_duration",
    "validate_playbook",
]


def json_schema() -> dict[str, object]:
    """The JSON Schema of a playbook file (for editors' autocompletion)."""
    schema = Playbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "aftersale playbook"
    return schema
