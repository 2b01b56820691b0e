"""``aftersale decide``, ``why`` and ``backtest`` in-process: tables, JSON, CSV, errors."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aftersale.config import load_settings
from aftersale.services.project import init_project
from aftersale.services.segments import snapshot
from aftersale.simulator import SimulationSpec
from tests.cli.test_models_cli import cli
from tests.factories import load_simulated


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated store with a snapshot at the start of 2025-07-01."""
    root = tmp_path_factory.mktemp("cli_decide")
    spec = SimulationSpec(customers=500, days=200, seed=4, formats=frozenset({"csv", "jsonl"}))
    project = root / "project"
    init_project(project)
    settings = load_settings(project / "aftersale.toml")
    load_simulated(root, spec, settings=settings)
    snapshot(settings, datetime(2025, 7, 1, tzinfo=UTC))
    return project


def test_decide_prints_the_pass_and_a_rerun_adds_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = cli(capsys, "decide", "--json", cwd=project)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["as_of"] == "2025-07-01T00:00:00+00:00" and data["mode"] == "batch"
    made = data["counts"]["send"] + data["counts"]["defer"] + data["counts"]["suppress"]
    assert made == data["new_decisions"] > 0
    again = cli(capsys, "decide", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "(0 new)" in again.stdout and "decisions by play" in again.stdout
    earlier = cli(capsys, "decide", "--as-of", "2025-06-01", cwd=project)
    assert earlier.returncode == 3 and "passes move forward" in earlier.stderr


def test_why_explains_a_customer_in_text_and_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "decide", cwd=project)
    data = json.loads(cli(capsys, "decide", "--json", cwd=project).stdout)
    assert data["new_decisions"] == 0
    settings = load_settings(project / "aftersale.toml")
    from aftersale.store.decision_log import DecisionLog
    from aftersale.store.state import StateStore

    with StateStore.from_settings(settings) as state:
        customer = DecisionLog(state).outbox_rows()[0]["customer_id"]
    text = cli(capsys, "why", customer, cwd=project)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"Customer {customer} at 2025-07-01 00:00 UTC")
    assert "because: " in text.stdout and "Near misses" in text.stdout
    shown = json.loads(cli(capsys, "why", customer, "--json", cwd=project).stdout)
    assert shown["customer_id"] == customer and shown["decisions"]
    missing = cli(capsys, "why", "no-such-customer", cwd=project)
    assert missing.returncode == 3 and "not in the snapshot" in missing.stderr


def test_backtest_reports_and_writes_a_safe_csv(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "backtest.csv"
    args = ("backtest", "--from", "2025-06-20", "--to", "2025-06-22", "--out", str(out))
    result = cli(capsys, *args, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "messages per customer per week" in result.stdout and "by gate" in result.stdout
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {"customer_id", "play_id", "outcome", "as_of"} <= set(rows[0])
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values() if v)
    data = json.loads(cli(capsys, "backtest", "--from", "2025-06-20", "--to", "2025-06-21",
                          "--json", cwd=project).stdout)  # fmt: skip
    assert data["days"] == 2 and data["by_outcome"]
    bad = cli(capsys, "backtest", "--from", "2025-06-22", "--to", "2025-06-20", cwd=project)
    assert bad.returncode == 3 and "before --from" in bad.stderr
    step = cli(capsys, "backtest", "--from", "2025-06-20", "--to", "2025-06-21", "--step", "x",
               cwd=project)  # fmt: skip
    assert step.returncode == 3 and "--step" in step.stderr
