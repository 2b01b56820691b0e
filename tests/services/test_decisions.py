"""Decision passes end to end on a simulated store: storage, idempotency, batch = incremental,
point-in-time backtests, and golden explanations per slice × grade."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pydantic import SecretStr

from aftersale.config import Settings, StateSettings
from aftersale.errors import InvalidInputError
from aftersale.services.decisions import (
    DecisionPass,
    Engine,
    backtest,
    load_policy,
    project_playbook,
    run_decisions,
    why,
)
from aftersale.services.demo import DEMO_LOADS
from aftersale.services.segments import snapshot
from aftersale.simulator import SimulationSpec
from aftersale.store.decision_log import DecisionLog
from aftersale.store.state import StateStore
from tests.factories import load_simulated

END = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = [END - timedelta(days=2), END - timedelta(days=1), END]
GOLDEN = Path(__file__).parent / "golden" / "why"
REGENERATE = os.environ.get("AFTERSALE_REGENERATE_GOLDEN") == "1"


@dataclass
class Project:
    root: Path
    settings: Settings
    passes: list[DecisionPass]


def _with_state(settings: Settings, path: Path) -> Settings:
    return settings.model_copy(update={"state": StateSettings(url=SecretStr(f"sqlite:///{path}"))})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("decisions")
    spec = SimulationSpec(customers=1500, days=365, seed=3, formats=frozenset({"csv", "jsonl"}))
    settings, _ = load_simulated(root, spec, DEMO_LOADS)
    for day in DAYS:
        snapshot(settings, day)
    # a pristine copy of the state (consents, no decisions) for the incremental run
    state_file = Path(settings.state.url.get_secret_value().removeprefix("sqlite:///"))
    shutil.copy(state_file, root / "pristine.sqlite")
    passes = [run_decisions(settings, day) for day in DAYS]
    return Project(root, settings, passes)


def _log(settings: Settings) -> tuple[StateStore, DecisionLog]:
    state = StateStore.from_settings(settings)
    return state, DecisionLog(state)


def test_passes_store_decisions_with_their_outbox_rows(project: Project) -> None:
    totals = [p.counts["send"] + p.counts["defer"] + p.counts["suppress"] for p in project.passes]
    assert all(t > 0 for t in totals), totals
    assert project.passes[0].since is None
    assert project.passes[1].since == DAYS[0] and project.passes[2].since == DAYS[1]
    state, log = _log(project.settings)
    with state:
        decided = [d for p in log.passes() for d in [p]]
        assert [p.as_of for p in decided] == DAYS
        outbox = {r["idempotency_key"]: r for r in log.outbox_rows()}
        going = pl.concat([p.decisions for p in project.passes]).filter(
            pl.col("outcome") != "suppress"
        )
        assert set(going["idempotency_key"]) == set(outbox)  # every send/defer has its row
        for row in going.to_dicts():
            box = outbox[row["idempotency_key"]]
            assert (box["channel"], box["due_at"]) == (row["channel"], row["send_at"])
    # the cadence moved on: some journey went past a wait into a later send
    later = pl.concat(project.passes[1:] and [p.decisions for p in project.passes[1:]])
    assert later.filter(pl.col("explanation").str.contains("path: .* > ")).height > 0


def test_rerunning_the_latest_pass_changes_nothing(project: Project) -> None:
    state, _ = _log(project.settings)
    with state:
        before = state.table_counts()
    again = run_decisions(project.settings, END)
    assert again.new_decisions == 0 and again.decisions.is_empty()
    with state:
        after = state.table_counts()
    assert {k: v for k, v in after.items() if k != "decision_passes"} == {
        k: v for k, v in before.items() if k != "decision_passes"
    }


def test_passes_move_forward_in_time(project: Project) -> None:
    with pytest.raises(InvalidInputError, match="passes move forward"):
        run_decisions(project.settings, DAYS[0])


def test_incremental_passes_decide_exactly_what_the_batch_decided(project: Project) -> None:
    batch = pl.concat([p.decisions for p in project.passes])
    chosen = [*sorted(set(batch["customer_id"]))[:14], "C0000001", "C0000002"]
    settings = _with_state(project.settings, project.root / "incremental.sqlite")
    shutil.copy(project.root / "pristine.sqlite", project.root / "incremental.sqlite")
    engine = Engine(project_playbook(settings).playbook, load_policy(settings))
    mine: list[pl.DataFrame] = []
    for day in DAYS:
        for customer in chosen:  # one customer at a time, as the real-time path does
            got = run_decisions(settings, day, customer_ids=[customer], engine=engine)
            mine.append(got.decisions)
    columns = ["idempotency_key", "customer_id", "play_id", "step_id", "outcome", "gate",
               "reason", "channel", "variant", "send_at", "explanation"]  # fmt: skip
    expected = batch.filter(pl.col("customer_id").is_in(chosen)).select(columns)
    got = pl.concat(mine).select(columns)
    assert expected.height > 14
    assert got.sort("idempotency_key").equals(expected.sort("idempotency_key"))


def _truncate(root: Path, cutoff: datetime) -> None:
    """Remove everything stamped at or after ``cutoff`` (as if it had not been loaded yet)."""
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    at = cutoff.isoformat()
    later = f"ordered_at >= TIMESTAMPTZ '{at}'"
    con.execute(
        f"DELETE FROM order_lines WHERE order_id IN (SELECT order_id FROM orders WHERE {later})"
    )
    con.execute(f"DELETE FROM orders WHERE ordered_at >= TIMESTAMPTZ '{at}'")
    con.execute(f"DELETE FROM events WHERE occurred_at >= TIMESTAMPTZ '{at}'")
    for table in (
        "feature_snapshots",
        "segment_snapshots",
        "category_snapshots",
        "need_snapshots",
        "cross_sell_snapshots",
        "health_changes",
        "snapshot_runs",
    ):
        con.execute(f"DELETE FROM {table}")  # fmt: skip
    con.close()
    import sqlite3

    lite = sqlite3.connect(root / "state.sqlite")
    lite.execute("DELETE FROM consent_ledger WHERE recorded_at >= ?", (at[:19].replace("T", " "),))
    lite.commit()
    lite.close()


def test_backtest_decisions_do_not_depend_on_later_data(project: Project) -> None:
    start, stop = END - timedelta(days=30), END - timedelta(days=28)
    full = backtest(project.settings, start, stop)
    copy = project.root / "truncated"
    shutil.copytree(project.root / "project", copy)
    shutil.copy(project.root / "pristine.sqlite", copy / "state.sqlite")
    _truncate(copy, stop + timedelta(seconds=1))
    settings = project.settings.model_copy(
        update={
            "warehouse": project.settings.warehouse.model_copy(
                update={"path": copy / "warehouse.duckdb"}
            )
        }
    )
    settings = _with_state(settings, copy / "state.sqlite")
    cut = backtest(settings, start, stop)
    assert full.decisions.height > 0
    assert cut.decisions.sort("idempotency_key").equals(full.decisions.sort("idempotency_key"))
    summary = full.to_dict()
    assert summary["days"] == 3 and summary["by_outcome"]
    assert (
        sum(r["messages"] for r in summary["per_customer_week"])
        == full.decisions.filter(pl.col("outcome") != "suppress").height
    )
    assert summary["busiest"]["max_per_week"] <= 7 * 2  # one marketing a day + transactional


def _representatives(project: Project) -> dict[str, str]:
    """The first customer (by id) with a journey, per slice × grade at END."""
    state, log = _log(project.settings)
    with state:
        from aftersale.decisions.journeys import JOURNEY_SCHEMA

        journeys = log.journeys(schema=JOURNEY_SCHEMA)
    con = duckdb.connect(str(project.root / "project" / "warehouse.duckdb"), read_only=True)
    segments = pl.from_arrow(
        con.execute(
            "SELECT customer_id, slice, health_grade FROM segment_snapshots WHERE as_of = ?",
            [END],
        ).arrow()
    )
    con.close()
    assert isinstance(segments, pl.DataFrame)
    having = segments.join(journeys.select("customer_id").unique(), on="customer_id")
    firsts = having.sort("customer_id").unique(["slice", "health_grade"], keep="first")
    return {f"{r['slice']}_{r['health_grade']}": r["customer_id"] for r in firsts.to_dicts()}


def test_explanations_match_the_golden_files(project: Project) -> None:
    chosen = _representatives(project)
    assert len(chosen) >= 12  # most slice × grade cells are represented
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for cell, customer in sorted(chosen.items()):
        text = why(customer, END, project.settings).text()
        path = GOLDEN / f"{cell}.txt"
        if REGENERATE or not path.exists():
            if not REGENERATE and os.environ.get("CI"):
                pytest.fail(f"golden file {path.name} is missing; regenerate on purpose")
            path.write_text(text, encoding="utf-8")
        assert text == path.read_text(encoding="utf-8"), (
            f"explanation of {customer} ({cell}) changed; if on purpose, rerun with "
            "AFTERSALE_REGENERATE_GOLDEN=1 and review the diff"
        )
    stale = {p.stem for p in GOLDEN.glob("*.txt")} - set(chosen)
    assert not stale, f"golden files without a representative: {sorted(stale)}"


def test_why_names_the_near_misses(project: Project) -> None:
    chosen = _representatives(project)
    yellow = next(c for cell, c in sorted(chosen.items()) if cell.endswith("_yellow"))
    report = why(yellow, END, project.settings)
    text = report.text()
    assert "health is yellow; audience needs green" in text
    data = report.to_dict()
    assert {p["play_id"] for p in data["plays"]} >= {"referral_first_win", "onboarding"}
    with pytest.raises(InvalidInputError, match="not in the snapshot"):
        why("nobody", END, project.settings)
