"""Load and validate playbook files, collecting every problem before failing.

Each problem names the file, line and column, the play id and the field, so a reviewer can fix
a playbook in one pass. Beyond the schema, conditions are parsed with SQLGlot against the known
features (with "did you mean"), time triggers must name a timestamp feature, exit conditions
are shortcuts or conditions, and every template must compile in the Jinja2 sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ValidationError

from aftersale.errors import PlaybookError, PlaybookProblem
from aftersale.features.definitions import standard_registry
from aftersale.features.registry import FeatureRegistry
from aftersale.playbooks.conditions import check_condition
from aftersale.playbooks.schema import (
    EXIT_SHORTCUTS,
    BranchStep,
    EmailMessage,
    Message,
    Play,
    Playbook,
    PushMessage,
    SendStep,
    SmsMessage,
    TimeTrigger,
    WebhookMessage,
)
from aftersale.segments.assign import SEGMENT_COLUMNS

__all__ = [
    "LoadedPlaybook",
    "default_playbook",
    "known_names",
    "load_playbook",
    "validate_playbook",
]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedPlaybook:
    """A valid playbook and the file it came from."""

    path: Path
    playbook: Playbook


def known_names(registry: FeatureRegistry | None = None) -> set[str]:
    """Names a condition may use: every feature and every segment column."""
    registry = registry or standard_registry()
    return set(registry.names()) | set(SEGMENT_COLUMNS)


def _timestamp_features(registry: FeatureRegistry) -> set[str]:
    return {f.name for f in registry if f.dtype == "timestamp"}


# -- YAML with positions ---------------------------------------------------------------------
class _Located:
    """Positions (1-based line, column) of every value in a YAML document, by path."""

    def __init__(self) -> None:
        self.marks: dict[Path_, tuple[int, int]] = {}
        self.duplicates: list[tuple[Path_, tuple[int, int]]] = []

    def visit(self, node: yaml.Node, path: Path_ = ()) -> None:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    self.duplicates.append(
                        ((*path, name), (key.start_mark.line + 1, key.start_mark.column + 1))
                    )
                seen.add(name)
                self.visit(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for index, value in enumerate(node.value):
                self.visit(value, (*path, index))

    def at(self, path: Path_) -> tuple[int | None, int | None]:
        for end in range(len(path), -1, -1):
            if path[:end] in self.marks:
                return self.marks[path[:end]]
        return None, None


def _resolve(loc: Iterable[str | int], data: Any) -> Path_:
    """Map a pydantic error location onto the document's keys (skipping union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part == "from_" and "from" in node:
            part = "from"
        in_map = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            path.append(part)
            node = node[part]
        # else: a union tag or a missing key: stay on the parent
    return tuple(path)


def _play_id(path: Path_, data: Any) -> str | None:
    if len(path) >= 2 and path[0] == "plays" and isinstance(path[1], int):
        plays = data.get("plays") if isinstance(data, dict) else None
        if isinstance(plays, list) and path[1] < len(plays) and isinstance(plays[path[1]], dict):
            value = plays[path[1]].get("id")
            return str(value) if value is not None else None
    return None


def _pointer(path: Path_) -> str:
    return ".".join(str(p) for p in path)


# -- semantic checks -------------------------------------------------------------------------
_ENV = SandboxedEnvironment(autoescape=True)


def _template_texts(message: Message) -> Iterator[tuple[str, str]]:
    for channel in ("email", "sms", "push", "in_app", "webhook"):
        part = getattr(message, channel)
        if isinstance(part, EmailMessage):
            yield f"{channel}.subject", part.subject
            yield f"{channel}.html", part.html
            yield f"{channel}.text", part.text
        elif isinstance(part, SmsMessage):
            yield f"{channel}.text", part.text
        elif isinstance(part, PushMessage):
            yield f"{channel}.title", part.title
            yield f"{channel}.body", part.body
        elif isinstance(part, WebhookMessage):
            for key, value in part.fields.items():
                yield f"{channel}.fields.{key}", value


def _step_paths(play: Play, base: Path_) -> Iterator[tuple[Any, Path_]]:
    def visit(steps: list[Any], at: Path_) -> Iterator[tuple[Any, Path_]]:
        for i, step in enumerate(steps):
            yield step, (*at, i)
            if isinstance(step, BranchStep):
                yield from visit(step.then, (*at, i, "then"))
                yield from visit(step.otherwise, (*at, i, "otherwise"))

    yield from visit(play.steps, (*base, "steps"))


def _semantic_play(
    play: Play, base: Path_, known: set[str], stamps: set[str]
) -> list[tuple[Path_, str]]:
    """Checks of one schema-valid play that need the known features."""
    problems: list[tuple[Path_, str]] = []
    if play.audience.where:
        for message in check_condition(play.audience.where, known):
            problems.append(((*base, "audience", "where"), message))
    if isinstance(play.trigger, TimeTrigger) and play.trigger.after not in stamps:
        problems.append(
            (
                (*base, "trigger", "after"),
                f"{play.trigger.after!r} is not a timestamp feature; use one of "
                f"{', '.join(sorted(stamps))}",
            )
        )
    for j, rule in enumerate(play.exit_when):
        if rule in EXIT_SHORTCUTS:
            continue
        for message in check_condition(rule, known):
            hint = f" (or a shortcut: {', '.join(EXIT_SHORTCUTS)})"
            problems.append(((*base, "exit_when", j), message + hint))
    for step, at in _step_paths(play, base):
        if isinstance(step, BranchStep):
            for message in check_condition(step.condition, known):
                problems.append(((*at, "condition"), message))
        if isinstance(step, SendStep):
            problems += _template_problems(step.message, (*at, "message"))
    for v, variant in enumerate(play.variants):
        for step_id, replacement in variant.messages.items():
            where: Path_ = (*base, "variants", v, "messages", step_id)
            problems += _template_problems(replacement, where)
    return problems


def _template_problems(message: Message, at: Path_) -> list[tuple[Path_, str]]:
    problems = []
    for field, text in _template_texts(message):
        try:
            _ENV.parse(text)
        except TemplateSyntaxError as exc:
            where = (*at, *field.split("."))
            problems.append((where, f"template error on its line {exc.lineno}: {exc.message}"))
    return problems


# -- entry points ----------------------------------------------------------------------------
def validate_playbook(
    path: Path | str, registry: FeatureRegistry | None = None
) -> tuple[Playbook | None, list[PlaybookProblem]]:
    """Every problem in the file (empty list and the playbook when it is valid)."""
    file = Path(path)
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [PlaybookProblem(name, None, None, None, "", f"cannot read: {exc}")]
    located = _Located()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [PlaybookProblem(name, line, column, None, "", f"not valid YAML: {reason}")]
    if node is None or not isinstance(data, dict):
        return None, [PlaybookProblem(name, 1, 1, None, "", "a playbook is a YAML mapping")]
    located.visit(node)
    problems = [
        PlaybookProblem(name, line, col, _play_id(p, data), _pointer(p), "duplicate key")
        for p, (line, col) in located.duplicates
    ]
    registry = registry or standard_registry()
    known, stamps = known_names(registry), _timestamp_features(registry)

    def add(where: Path_, message: str) -> None:
        line, col = located.at(where)
        problems.append(
            PlaybookProblem(name, line, col, _play_id(where, data), _pointer(where), message)
        )

    def add_errors(exc: ValidationError, prefix: Path_ = ()) -> None:
        for err in exc.errors():
            if prefix == () and tuple(err["loc"]) == ("plays",) and raw_plays:
                continue  # the plays are checked one by one below
            add(
                _resolve((*prefix, *err["loc"]), data),
                str(err["msg"]).removeprefix("Value error, "),
            )

    listed = data.get("plays")
    raw_plays: list[Any] = listed if isinstance(listed, list) else []
    try:
        Playbook.model_validate({**data, "plays": []})
    except ValidationError as exc:
        add_errors(exc)
    plays: list[Play] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_plays):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(raw_id, str) and raw_id in seen:
            add(
                ("plays", index, "id"),
                f"play id {raw_id!r} is already used by play {seen[raw_id] + 1}",
            )
        elif isinstance(raw_id, str):
            seen[raw_id] = index
        try:
            play = Play.model_validate(raw)
        except ValidationError as exc:
            add_errors(exc, ("plays", index))
            continue
        plays.append(play)
        for where, message in _semantic_play(play, ("plays", index), known, stamps):
            add(where, message)
    playbook = None
    if not problems:
        playbook = Playbook.model_validate(data)
    return (None if problems else playbook), problems


def load_playbook(path: Path | str, registry: FeatureRegistry | None = None) -> LoadedPlaybook:
    """The valid playbook in ``path``, or a :class:`PlaybookError` listing every problem."""
    playbook, problems = validate_playbook(path, registry)
    if playbook is None:
        first = problems[0]
        listing = "\n".join(f"  {p}" for p in problems)
        raise PlaybookError(
            f"{len(problems)} problem(s) in playbook {path}:\n{listing}",
            path=str(path),
            line=first.line,
            pointer=first.pointer,
            problems=problems,
        )
    return LoadedPlaybook(Path(path), playbook)


def default_playbook(registry: FeatureRegistry | None = None) -> LoadedPlaybook:
    """The playbook aftersale ships with (package data ``default.yaml``), validated."""
    with as_file(files("aftersale.playbooks") / "default.yaml") as path:
        loaded = load_playbook(path, registry)
    return LoadedPlaybook(Path("default.yaml"), loaded.playbook)
