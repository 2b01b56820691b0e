"""Loading playbooks: a valid file loads; a bad one lists every problem with file, line,
column, play id and field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from aftersale.errors import PlaybookError
from aftersale.playbooks import json_schema, load_playbook, parse_duration, validate_playbook
from aftersale.playbooks.schema import BranchStep, ChangeTrigger, SendStep

DATA = Path(__file__).parent / "data"
SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "playbook.schema.json"


def test_a_valid_playbook_loads() -> None:
    loaded = load_playbook(DATA / "valid.yaml")
    plays = {p.id: p for p in loaded.playbook.plays}
    assert list(plays) == ["welcome", "second_purchase"]
    welcome = plays["welcome"]
    assert [s.id for s in welcome.walk_steps()] == [
        "day0",
        "first_win",
        "by_slice",
        "checklist",
        "done",
    ]
    assert isinstance(welcome.steps[2], BranchStep)
    assert isinstance(welcome.steps[0], SendStep) and welcome.steps[0].message.channels() == [
        "email",
        "sms",
    ]
    trigger = plays["second_purchase"].trigger
    assert isinstance(trigger, ChangeTrigger) and trigger.from_ == ["yellow"]
    assert [v.weight for v in plays["second_purchase"].variants] == [1, 1]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pb.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (DATA / "valid.yaml").read_text(encoding="utf-8")
    assert old in text
    return _write(tmp_path, text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "line", "play", "field", "message"),
    [
        ('where: "orders = 1"', 'where: "ordrs = 1"', 12, "welcome", "plays.0.audience.where",
         "did you mean 'orders'"),
        ("offset: 0d", "offset: soon", 13, "welcome", "plays.0.trigger.offset", "not a duration"),
        ("after: first_order_at", "after: orders", 13, "welcome", "plays.0.trigger.after",
         "not a timestamp feature"),
        ("timeout: 1d", "timeout: 0d", 32, "welcome", "plays.0.steps.1.timeout",
         "longer than zero"),
        ("condition: \"slice = 'time_poor'\"", "condition: \"slice = 'time_poor\"", 35, "welcome",
         "plays.0.steps.2.condition", "not valid SQL"),
        ("priority: 40", "priority: 4000", 48, "second_purchase", "plays.1.priority",
         "less than or equal to 1000"),
        ("holdout: 0.1", "holdout: 0.1\n    colour: blue", 56, "second_purchase", "plays.1.colour",
         "Extra inputs"),
        ("to: [green]", "to: [purple]", 51, "second_purchase", "plays.1.trigger",
         "no value 'purple'"),
        ('"days_of_silence > 60"', '"silence > 60"', 16, "welcome", "plays.0.exit_when.1",
         "shortcut"),
        ("{{ product.name }}</p>", "{{ product.name </p>", 23, "welcome",
         "plays.0.steps.0.message.email.html", "template error"),
        ("subject: \"A thank-you for coming back\"", "subject: \"{% if %}\"", 63,
         "second_purchase", "plays.1.variants.1.messages.offer.email.subject", "template error"),
    ],
)  # fmt: skip
def test_each_problem_names_line_play_and_field(
    tmp_path: Path, old: str, new: str, line: int, play: str, field: str, message: str
) -> None:
    playbook, problems = validate_playbook(_broken(tmp_path, old, new))
    assert playbook is None
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert (problem.line, problem.play_id, problem.pointer) == (line, play, field), str(problem)
    assert message in problem.message
    assert str(problem).startswith(f"{tmp_path / 'pb.yaml'}:{line}:")


def test_every_problem_is_collected_before_failing(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'where: "orders = 1"', 'where: "ordrs = 1"')
    text = path.read_text(encoding="utf-8").replace("priority: 40", "priority: -1")
    text = text.replace("name: small", "name: small\nowner: me")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    fields = sorted(p.pointer for p in info.value.problems)
    assert fields == ["owner", "plays.0.audience.where", "plays.1.priority"]
    assert "3 problem(s)" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plays: [\n  - id: x\n", "not valid YAML"),
        ("- just\n- a list\n", "YAML mapping"),
        ("name: a\nname: b\nplays: []\n", "duplicate key"),
        ("name: a\nplays: []\n", "at least 1 item"),
    ],
)
def test_broken_files(tmp_path: Path, text: str, message: str) -> None:
    _, problems = validate_playbook(_write(tmp_path, text))
    assert any(message in p.message for p in problems), [str(p) for p in problems]


def test_duplicate_play_ids_and_step_ids(tmp_path: Path) -> None:
    text = (DATA / "valid.yaml").read_text(encoding="utf-8")
    twice = text.replace("id: second_purchase", "id: welcome").replace("id: done", "id: day0")
    _, problems = validate_playbook(_write(tmp_path, twice))
    messages = " | ".join(p.message for p in problems)
    assert "already used by play 1" in messages
    assert "step ids must be unique" in messages


def test_missing_file() -> None:
    _, problems = validate_playbook(DATA / "nope.yaml")
    assert "cannot read" in problems[0].message


def test_durations() -> None:
    parsed = {text: parse_duration(text, allow_negative=True) for text in ("36h", "-3d")}
    assert parsed == {"36h": timedelta(hours=36), "-3d": timedelta(days=-3)}
    with pytest.raises(ValueError, match="negative"):
        parse_duration("-3d")


def test_json_schema_snapshot_is_current() -> None:
    current = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA_DOC.read_text(encoding="utf-8") == current, (
        "docs/playbook.schema.json is stale; run: uv run aftersale playbook schema "
        "--out docs/playbook.schema.json"
    )
