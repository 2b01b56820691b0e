"""The CLI: every command listed, JSON output, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from aftersale.cli.main import run
from tests.factories import write_csv

ORDERS = ("order_id", "customer_id", "ordered_at", "currency", "total")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in this process (fast), as the console script would."""
    capture = _CAPTURE
    old_cwd = Path.cwd()
    patched = {**(env or {}), "COLUMNS": "200"}
    saved = {k: os.environ.get(k) for k in patched}
    os.environ.update(patched)
    os.chdir(cwd)
    try:
        run(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        os.chdir(old_cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out, err = capture.readouterr()
    return Result(code, out, err)


_CAPTURE: pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _capture(capsys: pytest.CaptureFixture[str]) -> None:
    global _CAPTURE
    _CAPTURE = capsys


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aftersale.cli.main", "status", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["initialised"] is False


def test_help_lists_every_command_with_a_purpose(tmp_path: Path) -> None:
    out = cli("--help", cwd=tmp_path).stdout
    for command in ("init", "simulate", "ingest", "status", "quarantine", "demo"):
        assert command in out
    assert "Load customers, products, orders" in out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    result = cli("init", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "aftersale.toml").is_file()
    return tmp_path


def test_ingest_json_report_and_status(project: Path) -> None:
    write_csv(
        project / "orders.csv",
        ORDERS,
        [
            ("A1", "c1", "2025-01-01T10:00:00Z", "EUR", "10.00"),
            ("A2", "c1", "bad date", "EUR", "1.00"),
        ],
    )
    result = cli("ingest", "orders", "orders.csv", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows_read"] == 2 and report["rows_loaded"] == 1
    assert report["quarantined"] == {"unparseable_timestamp": 1} and report["balanced"] is True
    status = json.loads(cli("status", "--json", cwd=project).stdout)
    assert (
        status["warehouse_counts"]["orders"] == 1 and status["warehouse_counts"]["quarantine"] == 1
    )
    assert status["recent_loads"][0]["rows_quarantined"] == 1
    strict = cli("ingest", "orders", "orders.csv", "--strict", cwd=project)
    assert strict.returncode == 6


def test_bad_input_is_one_line_with_exit_code_3(project: Path) -> None:
    write_csv(project / "orders.csv", ("order_id", "total"), [("A1", "1")])
    result = cli("ingest", "orders", "orders.csv", cwd=project)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert "'ordered_at'" in result.stderr and "columns found: order_id, total" in result.stderr
    assert cli("ingest", "orders", "nope.csv", cwd=project).returncode == 3
    assert cli("ingest", "orders", "orders.csv", "--map", "oops", cwd=project).returncode == 3


def test_config_errors_exit_4_and_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "aftersale.toml").write_text('[ingest]\nchunk_rows = "many"\n', encoding="utf-8")
    result = cli("status", cwd=tmp_path)
    assert result.returncode == 4 and "ingest.chunk_rows" in result.stderr
    assert cli("--config", "missing.toml", "status", cwd=tmp_path).returncode == 4
    env_error = cli("status", cwd=tmp_path, env={"AFTERSALE_CONFIG": str(tmp_path / "none.toml")})
    assert env_error.returncode == 4


def test_storage_errors_exit_5(project: Path) -> None:
    (project / "aftersale.duckdb").write_bytes(b"this is not a database")
    write_csv(project / "orders.csv", ORDERS, [("A1", "c1", "2025-01-01", "EUR", "1")])
    result = cli("ingest", "orders", "orders.csv", cwd=project)
    assert (
        result.returncode == 5 and "warehouse" in result.stderr and "Traceback" not in result.stderr
    )


def test_usage_errors_exit_2(project: Path) -> None:
    assert cli("ingest", "invoices", "x.csv", cwd=project).returncode == 2
    assert cli("frobnicate", cwd=project).returncode == 2


def test_quarantine_export_is_spreadsheet_safe(project: Path) -> None:
    write_csv(
        project / "c.csv", ("customer_id", "created_at"), [("=1+1", "never"), ("c2", "2025-01-01")]
    )
    assert cli("ingest", "customers", "c.csv", cwd=project).returncode == 0
    listing = cli("quarantine", cwd=project)
    assert "unparseable_timestamp" in listing.stdout
    assert cli("quarantine", "--export", "q.csv", cwd=project).returncode == 0
    import csv

    from aftersale.domain.spreadsheet import FORMULA_PREFIXES, restore

    with (project / "q.csv").open(encoding="utf-8", newline="") as fh:
        cells = [cell for row in csv.reader(fh) for cell in row]
    assert not any(cell.startswith(FORMULA_PREFIXES) for cell in cells)
    assert json.loads(restore(cells[cells.index("raw") + len(cells) // 2]))["customer_id"] == "=1+1"
