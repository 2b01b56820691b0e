"""``aftersale playbook validate|schema`` in-process: exit codes, problem lines, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_models_cli import cli

DATA = Path(__file__).resolve().parents[1] / "playbooks" / "data"


def test_valid_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "playbook", "validate", str(DATA / "valid.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout and "2 plays" in result.stdout


def test_bad_file_lists_every_problem_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "valid.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("orders = 1", "ordrs = 1").replace("priority: 40", "priority: x"))
    result = cli(capsys, "playbook", "validate", str(bad), "--json", cwd=tmp_path)
    assert result.returncode == 3
    report = json.loads(result.stdout)
    fields = [p["field"] for p in report[0]["problems"]]
    assert fields == ["plays.0.audience.where", "plays.1.priority"]
    assert report[0]["problems"][0]["line"] == 12
    assert report[0]["problems"][0]["play"] == "welcome"
    assert "2 problem(s)" in result.stderr


def test_schema_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schema.json"
    assert cli(capsys, "playbook", "schema", "--out", str(out), cwd=tmp_path).returncode == 0
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert schema["title"] == "aftersale playbook"
    assert {"Play", "SendStep", "EventTrigger"} <= set(schema["$defs"])
