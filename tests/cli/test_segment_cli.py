"""``aftersale segment`` and ``aftersale profile`` in-process: tables, JSON, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aftersale.config import load_settings
from aftersale.services.project import init_project
from aftersale.simulator import SimulationSpec
from aftersale.store.warehouse import Warehouse
from tests.cli.test_models_cli import cli
from tests.factories import load_simulated


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding a small simulated store's orders, lines and events."""
    root = tmp_path_factory.mktemp("cli_segment")
    spec = SimulationSpec(customers=500, days=200, seed=4, formats=frozenset({"csv", "jsonl"}))
    project = root / "project"
    init_project(project)
    load_simulated(root, spec, settings=load_settings(project / "aftersale.toml"))
    return project


def _early_buyer(project: Path) -> str:
    with Warehouse(load_settings(project / "aftersale.toml").warehouse) as wh:
        orders = wh.table("orders")
        first = orders.order_by("ordered_at").limit(1).execute()
    return str(first["customer_id"].iloc[0])


def test_segment_prints_sizes_and_the_slice_health_grid(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(capsys, "segment", cwd=project)
    assert result.returncode == 0, result.stderr
    for title in ("lifecycle", "rfm cell", "persona", "slice × health", "health grade"):
        assert title in result.stdout
    assert "500 customers" in result.stdout or "customers" in result.stdout


def test_segment_json_and_profile_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "segment", "--as-of", "2025-06-01", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["as_of"] == "2025-06-01T00:00:00+00:00"
    assert sum(data["sizes"]["health_grade"].values()) == data["customers"] > 0
    grid_total = sum(sum(g.values()) for g in data["slice_by_health"].values())
    assert grid_total == data["customers"]
    early = _early_buyer(project)
    shown = cli(capsys, "profile", early, "--as-of", "2025-06-01", "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert profile["customer_id"] == early
    assert profile["reasons"]["health_grade"]
    assert profile["segments"]["slice_label"]


def test_profile_panel_shows_reasons(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "segment", cwd=project).returncode == 0
    shown = cli(capsys, "profile", _early_buyer(project), "--all", cwd=project)
    assert shown.returncode == 0, shown.stderr
    for word in ("health", "slice", "lifecycle", "RFM", "category affinity", "features"):
        assert word in shown.stdout


def test_bad_input_exits_with_a_message(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_date = cli(capsys, "segment", "--as-of", "someday", cwd=project)
    assert bad_date.returncode != 0
    assert "--as-of" in bad_date.stderr
    unknown = cli(capsys, "profile", "NOBODY", cwd=project)
    assert unknown.returncode != 0
    assert "NOBODY" in unknown.stderr
