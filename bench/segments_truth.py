"""How right are buyer slices and health grades? Measured against the simulator's hidden truth.

Simulates a store, loads it, snapshots it at several moments and compares: the slice confusion
matrix, accuracy and coverage (overall and on customers with two or more signals), calibration
of the slice confidence in bins, and for health, of the customers who are truly gone within 30
days after ``as_of`` the share graded Red or Yellow beforehand (recall) and the share of Red
who truly are (precision), at several lead times. The default weights were set on seed 11; run
other seeds for out-of-sample figures (the default seed is 5).

    uv run python bench/segments_truth.py --customers 20000 --seed 5 [--append]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aftersale.config import IngestSettings, Settings, StateSettings, WarehouseSettings
from aftersale.domain.slices import SLICES
from aftersale.services.demo import DEMO_LOADS
from aftersale.services.ingest import ingest
from aftersale.services.segments import snapshot
from aftersale.simulator import SimulationSpec, simulate_store
from aftersale.store.snapshots import SEGMENTS, SnapshotStore
from aftersale.store.warehouse import Warehouse
from bench.harness import append_results, machine_info

LEADS = (0, 30, 60, 90)
"""Days between ``as_of`` and the end of the simulated period minus the 30-day outcome window."""


def _settings(root: Path) -> Settings:
    from pydantic import SecretStr

    return Settings(
        warehouse=WarehouseSettings(path=root / "warehouse.duckdb"),
        state=StateSettings(url=SecretStr(f"sqlite:///{root / 'state.sqlite'}")),
        ingest=IngestSettings(),
    )


def slice_figures(seg: pd.DataFrame, truth: pd.DataFrame) -> dict[str, object]:
    """Confusion matrix, accuracy, coverage and calibration bins of the slice."""
    merged = seg.merge(
        truth[["customer_id", "slice"]].rename(columns={"slice": "true_slice"}), on="customer_id"
    )
    merged["true_slice"] = merged["true_slice"].astype(str)
    known = merged[merged["slice"] != "unknown"]
    two = known[known["slice_signals"] >= 2]
    right = (known["slice"] == known["true_slice"]).astype(float)
    bins = np.minimum((known["slice_confidence"] * 10).astype(int), 9) / 10
    calibration = (
        pd.DataFrame({"bin": bins, "right": right, "conf": known["slice_confidence"]})
        .groupby("bin")
        .agg(customers=("right", "size"), accuracy=("right", "mean"), confidence=("conf", "mean"))
    )
    ece = float(
        (
            calibration["customers"] * (calibration["accuracy"] - calibration["confidence"]).abs()
        ).sum()
        / calibration["customers"].sum()
    )
    confusion = pd.crosstab(merged["true_slice"], merged["slice"]).reindex(
        index=list(SLICES), columns=[*SLICES, "unknown"], fill_value=0
    )
    return {
        "customers": len(merged),
        "coverage": len(known) / len(merged),
        "accuracy": float(right.mean()),
        "two_plus_share": len(two) / len(merged),
        "two_plus_accuracy": float((two["slice"] == two["true_slice"]).mean()),
        "ece": ece,
        "calibration": calibration,
        "confusion": confusion,
    }


def health_figures(seg: pd.DataFrame, truth: pd.DataFrame, as_of: datetime) -> dict[str, float]:
    """Recall of Red-or-Yellow and precision of Red for churn within 30 days of ``as_of``."""
    merged = seg.merge(truth[["customer_id", "dropout_at"]], on="customer_id")
    dropout = pd.to_datetime(merged["dropout_at"], utc=True)
    horizon = pd.Timestamp(as_of + timedelta(days=30))
    churned = dropout.notna() & (dropout < horizon)
    fresh = churned & (dropout >= pd.Timestamp(as_of))
    red = merged["health_grade"] == "red"
    warned = merged["health_grade"].isin(["red", "yellow"])
    return {
        "customers": float(len(merged)),
        "churned": float(churned.sum()),
        "recall": float((warned & churned).sum() / max(churned.sum(), 1)),
        "precision": float((red & churned).sum() / max(red.sum(), 1)),
        "red_share": float(red.mean()),
        "fresh_churners": float(fresh.sum()),
        "fresh_recall": float((warned & fresh).sum() / max(fresh.sum(), 1)),
    }


def render(slices: dict[str, object], health: list[tuple[int, dict[str, float]]]) -> str:
    """Markdown for bench/RESULTS.md."""
    out = [
        f"- slice coverage {slices['coverage']:.1%}, accuracy on known {slices['accuracy']:.1%}; "
        f"customers with ≥ 2 signals: {slices['two_plus_share']:.1%} of all, accuracy "
        f"**{slices['two_plus_accuracy']:.1%}** (target ≥ 85 %); expected calibration error "
        f"{slices['ece']:.3f}",
        "",
        "Slice confusion matrix (rows: true slice, columns: assigned):",
        "",
    ]
    confusion = slices["confusion"]
    assert isinstance(confusion, pd.DataFrame)
    out.append("| true \\ assigned | " + " | ".join(confusion.columns) + " |")
    out.append("| --- |" + " ---: |" * len(confusion.columns))
    for name, row in confusion.iterrows():
        out.append(f"| {name} | " + " | ".join(f"{int(v):,}" for v in row) + " |")
    calibration = slices["calibration"]
    assert isinstance(calibration, pd.DataFrame)
    out += ["", "Slice confidence calibration:", "", "| bin | customers | confidence | right |"]
    out.append("| --- | ---: | ---: | ---: |")
    for b, row in calibration.iterrows():
        out.append(
            f"| {b:.1f}–{b + 0.1:.1f} | {int(row['customers']):,} | {row['confidence']:.2f} "
            f"| {row['accuracy']:.2f} |"
        )
    out += [
        "",
        "Health grades against churn within 30 days after as_of (lead = days before the last "
        "as_of whose outcome is known):",
        "",
        "| lead (days) | customers | churned | recall Red∪Yellow | precision Red | Red share "
        "| churning in window | recall on those |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lead, h in health:
        out.append(
            f"| {lead} | {int(h['customers']):,} | {int(h['churned']):,} | {h['recall']:.2f} "
            f"| {h['precision']:.2f} | {h['red_share']:.2f} | {int(h['fresh_churners']):,} "
            f"| {h['fresh_recall']:.2f} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print (and optionally append) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = SimulationSpec(
            customers=args.customers, days=365, seed=args.seed, formats=frozenset({"csv", "jsonl"})
        )
        store = simulate_store(spec, root / "store")
        settings = _settings(root / "project")
        for kind, name in DEMO_LOADS:
            ingest(kind, store.path(name), settings=settings)
        truth = pd.read_parquet(root / "store" / "truth" / "customers_truth.parquet")
        end = spec.start_at + timedelta(days=365)
        moments = sorted({end - timedelta(days=30 + lead) for lead in LEADS} | {end})
        for moment in moments:
            snapshot(settings, moment)
        with Warehouse(settings.warehouse) as wh:
            store_ = SnapshotStore(wh)
            frames = {m: store_.table_at(SEGMENTS, m).execute() for m in moments}
        slices = slice_figures(frames[end], truth)
        health = [
            (lead, health_figures(frames[end - timedelta(days=30 + lead)], truth,
                                  end - timedelta(days=30 + lead)))
            for lead in LEADS
        ]  # fmt: skip
    body = render(slices, health)
    command = "uv run python bench/segments_truth.py " + " ".join(argv or sys.argv[1:])
    header = [
        f"## Slices and health against the simulator's truth ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"Command: `{command.strip()}`",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in machine_info().items()),
        "",
        f"- store: {args.customers:,} simulated customers over 365 days, seed {args.seed} (the "
        "default weights were set on seed 11); slices judged at the end of the period",
    ]
    text = "\n".join(header) + "\n" + body + "\n"
    print(text)
    if args.append:
        append_results(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
