"""Benchmark: ``BasketRules`` association rules against mlxtend's FP-growth on the same baskets.

Input: the order lines of a simulated store (``simulate_store``, 120,000 customers over a year
give about 1,000,000 orders and 1.5 million lines), one basket per ``order_id``, items are
``product_id`` (or ``category`` with ``--items category``).

Candidate: ``BasketRules(min_support, min_confidence, max_consequent_len=None).fit(lines)``.
Baseline: the usual mlxtend pipeline on the same frame: one-hot basket-by-item boolean frame,
``fpgrowth`` and ``association_rules``. Both must give the same rules (every consequent size,
support, confidence and lift to 1e-9); the check runs after the timings and is recorded.

Target: candidate rows/s >= the baseline's (speed ratio >= 1).

    uv run python bench/bench_basket.py --customers 120000 --min-support 0.0005
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    PairResult,
    Target,
    append_results,
    describe,
    measure,
    results_markdown,
    run_pair,
    source_digest,
)

__all__ = ["baseline_once", "candidate_once", "compare", "ensure_store", "main"]

OUT = Path(__file__).resolve().parent / "out"
TARGET = Target(min_speed=1.0)


def ensure_store(customers: int, seed: int) -> Path:
    """Order lines of a simulated store, generated once per (customers, seed) and reused."""
    folder = OUT / f"basket_store_c{customers}_s{seed}"
    path = folder / "order_lines.parquet"
    if not path.exists():
        from aftersale.simulator import SimulationSpec, simulate_store

        spec = SimulationSpec(customers=customers, days=365, seed=seed, formats={"parquet"})
        simulate_store(spec, folder)
    return path


def candidate_once(
    lines: pl.DataFrame, item: str, min_support: float, min_conf: float
) -> pd.DataFrame:
    """aftersale: exact itemsets by sparse products, every rule split (as mlxtend)."""
    from aftersale.models.basket import BasketRules

    model = BasketRules(min_support, min_conf, max_consequent_len=None)
    return model.fit(lines, basket_col="order_id", item_col=item).rules_


def one_hot(lines: pl.DataFrame, item: str) -> pd.DataFrame:
    """Dense boolean basket-by-item frame, the input mlxtend's miners take."""
    baskets, _ = pd.factorize(lines.get_column("order_id").to_numpy())
    items, labels = pd.factorize(lines.get_column(item).to_numpy(), sort=True)
    matrix = np.zeros((int(baskets.max()) + 1, len(labels)), dtype=bool)
    matrix[baskets, items] = True
    return pd.DataFrame(matrix, columns=labels)


def baseline_once(
    lines: pl.DataFrame, item: str, min_support: float, min_conf: float
) -> pd.DataFrame:
    """mlxtend: one-hot frame, ``fpgrowth``, ``association_rules`` on confidence."""
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    onehot = one_hot(lines, item)
    itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True)
    return association_rules(
        itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=min_conf
    )


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> str:
    """One line saying whether both rule sets and their numbers agree (to 1e-9)."""
    theirs = theirs.assign(
        antecedents=theirs["antecedents"].map(lambda s: tuple(sorted(s))),
        consequents=theirs["consequents"].map(lambda s: tuple(sorted(s))),
    ).set_index(["antecedents", "consequents"])
    ours = ours.set_index(["antecedents", "consequents"])
    if len(ours) != len(theirs) or not ours.index.sort_values().equals(theirs.index.sort_values()):
        return f"**rule sets differ**: aftersale {len(ours):,} rules, mlxtend {len(theirs):,}"
    theirs = theirs.loc[ours.index]
    diff = max(
        float(np.max(np.abs(ours[c].to_numpy() - theirs[c].to_numpy()), initial=0.0))
        for c in ("support", "confidence", "lift")
    )
    verdict = "same rules" if diff <= 1e-9 else "**numbers differ**"
    return f"{verdict}: {len(ours):,} rules, max |diff| of support/confidence/lift {diff:.1e}"


def main(argv: list[str] | None = None) -> PairResult[pd.DataFrame]:
    """Command line entry point; see ``--help``."""
    parser = argparse.ArgumentParser(description="BasketRules vs mlxtend FP-growth (ratios)")
    parser.add_argument("--customers", type=int, default=120_000, help="simulated customers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--items", choices=("product_id", "category"), default="product_id")
    parser.add_argument("--min-support", type=float, default=0.0005)
    parser.add_argument("--min-confidence", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3, help="measured runs of each side")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs of each side")
    parser.add_argument("--date", default=None, help="date for RESULTS.md (default: now, UTC)")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)
    date = args.date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    given = sys.argv[1:] if argv is None else argv
    command = "uv run python bench/bench_basket.py " + shlex.join(given)
    src = Path(__file__).resolve().parent.parent / "src" / "aftersale"
    digest_before = source_digest(src)

    path = ensure_store(args.customers, args.seed)
    lines = pl.read_parquet(path, columns=["order_id", args.items])
    orders = lines.get_column("order_id").n_unique()
    print(f"input: {path} ({lines.height:,} lines, {orders:,} orders)")
    settings = (args.items, args.min_support, args.min_confidence)
    pair = run_pair(
        f"association rules on {orders:,} simulated orders ({args.items}, support "
        f"{args.min_support:g}, confidence {args.min_confidence:g}): aftersale vs mlxtend",
        lambda: candidate_once(lines, *settings),
        lambda: baseline_once(lines, *settings),
        repeats=args.repeats,
        warmup=args.warmup,
        rows=lines.height,
        labels=("aftersale BasketRules", "mlxtend one-hot + fpgrowth + association_rules"),
        target=TARGET,
    )
    print(pair.summary())
    check = compare(pair.candidate_result, pair.baseline_result)  # type: ignore[arg-type]
    print("  " + check)

    from mlxtend.frequent_patterns import fpgrowth

    onehot = one_hot(lines, args.items)
    fp_only, _ = measure(lambda: fpgrowth(onehot, min_support=args.min_support))
    print(f"  mlxtend fpgrowth alone on a prepared one-hot frame: {describe(fp_only)}")
    digest_after = source_digest(src)
    notes = [
        f"aftersale source digest {digest_before}"
        + ("" if digest_after == digest_before else f" — **source changed** (now {digest_after})"),
        f"input: `simulate_store(SimulationSpec(customers={args.customers}, days=365, "
        f"seed={args.seed}))` order lines: {lines.height:,} lines, {orders:,} baskets, "
        f"{lines.get_column(args.items).n_unique():,} items ({args.items})",
        f"result check: {check}",
        "candidate: `BasketRules(min_support, min_confidence, max_consequent_len=None).fit`; "
        "baseline: dense boolean one-hot frame + mlxtend `fpgrowth` + `association_rules`",
        f"for reference, mlxtend `fpgrowth` alone on a prepared one-hot frame: "
        f"{fp_only.seconds:.2f} s",
    ]
    if not args.no_record:
        append_results(results_markdown(pair, date=date, command=command, notes=notes))
        print("appended to bench/RESULTS.md")
    return pair


if __name__ == "__main__":
    main()
