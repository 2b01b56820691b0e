"""``aftersale models fit|evaluate`` in-process: tables, JSON, files written, exit codes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from aftersale.cli.main import run
from aftersale.config import load_settings
from aftersale.services.ingest import ingest
from aftersale.services.project import init_project
from aftersale.simulator import SimulationSpec, simulate_store


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(capsys: pytest.CaptureFixture[str], *args: str, cwd: Path) -> Result:
    """Run the CLI in this process, as the console script would, from ``cwd``."""
    old_cwd, old_columns = Path.cwd(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"
    os.chdir(cwd)
    try:
        run(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        os.chdir(old_cwd)
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder (aftersale.toml + warehouse) holding a small simulated store's orders."""
    root = tmp_path_factory.mktemp("cli_models")
    spec = SimulationSpec(customers=600, days=300, seed=3, alpha=30.0, formats=frozenset({"csv"}))
    store = simulate_store(spec, root / "store")
    project = root / "project"
    init_project(project)
    ingest("orders", store.path("orders.csv"), settings=load_settings(project / "aftersale.toml"))
    return project


def test_models_is_listed_with_its_subcommands(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "models" in cli(capsys, "--help", cwd=project).stdout
    result = cli(capsys, "models", "--help", cwd=project)
    assert "fit" in result.stdout and "evaluate" in result.stdout


def test_fit_prints_parameters_and_paths(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "models", "fit", cwd=project)
    assert result.returncode == 0, result.stderr
    for text in ("BetaGeoModel", "GammaGammaModel", "std. error", "alpha", "bgnbd.json"):
        assert text in result.stdout
    assert (project / "models" / "bgnbd.json").exists()
    as_json = cli(
        capsys, "models", "fit", "--as-of", "2025-09-01", "--time-unit", "D", "--json", cwd=project
    )
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["window"]["as_of"] == "2025-09-01T00:00:00+00:00"
    assert data["window"]["time_unit"] == "D"
    assert [m["class"] for m in data["models"]] == ["BetaGeoModel", "GammaGammaModel"]


def test_evaluate_prints_buckets_errors_and_writes_png(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(capsys, "models", "evaluate", "--holdout-weeks", "12", cwd=project)
    assert result.returncode == 0, result.stderr
    for text in ("7+", "predicted mean", "naive baseline", "MAE", "RMSE", "evaluation.png"):
        assert text in result.stdout
    png = project / "models" / "evaluation.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    as_json = cli(capsys, "models", "evaluate", "--holdout-weeks", "12", "--json", cwd=project)
    data = json.loads(as_json.stdout)
    assert data["holdout_weeks"] == 12
    assert len(data["evaluation"]["buckets"]) == 8
    assert data["chart_path"] == str(png)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["models", "fit", "--time-unit", "M"], "--time-unit"),
        (["models", "fit", "--as-of", "yesterday"], "--as-of"),
        (["models", "evaluate", "--holdout-weeks", "0"], "--holdout-weeks"),
        (["models", "evaluate", "--holdout-weeks", "500"], "holdout_weeks"),
    ],
)
def test_bad_flags_exit_3_naming_the_flag(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    result = cli(capsys, *args, cwd=project)
    assert result.returncode == 3
    assert flag in result.stderr
    assert "Traceback" not in result.stderr
