"""Benchmark: features + segments + slices + health for N customers, aftersale against pandas.

Input: a store simulated by ``aftersale.simulator.simulate_store`` (parquet + Segment JSON
lines; ``r`` raised from 0.55 to 0.71 so customers place about 10 orders each), loaded straight
into a DuckDB warehouse with the canonical schema (:func:`build_warehouse`: the tables are
created by ``Warehouse.initialise`` and filled with SQL that does what ``ingest`` does to these
files; :func:`compare_with_ingest` checks that on a small store). Smaller sizes are the first
N customers of the largest store (the simulator draws customers in independent shards of
1,000, so they equal a store simulated with N customers). Every distinct customer text is
classified once per warehouse with the library's lexicon classifier (``classify_texts``, as
``snapshot`` does) before anything is timed; both sides read that same ``text_signals`` table.

Candidate: ``feature_tables(...)`` (full run; the shared views stored once as temporary
tables where the version takes ``materialise``, as ``snapshot`` does) + ``segment_table(...)``
on the warehouse's own DuckDB connection (``Warehouse``, default ``memory_limit`` 2GB), the
results created as three tables in the warehouse (features, the customer × category table,
segments). The customer-base models (predicted CLV...) are left out: their features stay null
and the value tier uses spend (:func:`bench_rules`). Baseline: :mod:`bench.segments_baseline`,
plain pandas, reading the same tables from the same file and writing its three results to
Parquet.

Both outputs are compared after the timed runs: same customers, segment columns equal, numeric
features within 1e-6 relative. Targets (issue 4): candidate speed >= 4x the baseline's, peak
memory <= 0.5x, cost growing linearly (least-squares fit over the sizes).

    uv run python bench/bench_segments.py                   # 100k, 300k, 1M customers
    uv run python bench/bench_segments.py --sizes 20000 --repeats 1 --no-record
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    KEY_PACKAGES,
    PairResult,
    SideResult,
    Target,
    append_results,
    loaded_sources,
    machine_info,
    results_markdown,
    run_pair,
    source_digest,
)

if TYPE_CHECKING:
    from aftersale.segments import SegmentationConfig

__all__ = [
    "DEFAULT_DATA_DIR",
    "Agreement",
    "BenchResult",
    "StoreSpec",
    "baseline_once",
    "bench_rules",
    "build_warehouse",
    "candidate_once",
    "compare_outputs",
    "compare_with_ingest",
    "ensure_store",
    "ensure_warehouse",
    "main",
]

TARGET = Target(min_speed=4.0, max_memory=0.5)
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "aftersale-bench-segments"
OUT_TABLES = {
    "features": "bench_features",
    "categories": "bench_categories",
    "segments": "bench_segments",
}
SOURCE = "default"
RTOL = 1e-6
ATOL = 1e-9
SEGMENT_SHARE = 0.999
_JSON_COLUMNS = {
    "type": "VARCHAR",
    "event": "VARCHAR",
    "messageId": "VARCHAR",
    "userId": "VARCHAR",
    "anonymousId": "VARCHAR",
    "timestamp": "VARCHAR",
    "receivedAt": "VARCHAR",
    "properties": "JSON",
    "traits": "JSON",
    "context": "JSON",
}


# -- input data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreSpec:
    """The simulated store: customers, period, seed and purchase-rate shape ``r``."""

    customers: int
    seed: int = 42
    r: float = 0.71
    days: int = 365

    @property
    def name(self) -> str:
        """Folder name of the generated files."""
        return f"store-{self.customers}c-s{self.seed}-r{self.r:g}-d{self.days}"


def ensure_store(data_dir: Path, spec: StoreSpec) -> Path:
    """Simulate the store (parquet + events JSON lines) once; reuse it when complete."""
    from aftersale.simulator import SimulationSpec, simulate_store

    out = data_dir / spec.name
    if (out / "truth" / "spec.json").exists() and (out / "events.jsonl").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    print(f"simulating {spec.customers:,} customers into {out} ...", flush=True)
    started = time.perf_counter()
    simulate_store(
        SimulationSpec(
            customers=spec.customers,
            days=spec.days,
            seed=spec.seed,
            r=spec.r,
            formats=frozenset({"parquet", "jsonl"}),
        ),
        out,
    )
    print(f"  simulated in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def _sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _within(column: str, customers: int | None) -> str:
    """SQL filter keeping the first ``customers`` simulated customers (ids ``C0000001``...)."""
    if customers is None:
        return "TRUE"
    return f"({column} IS NOT NULL AND CAST(substr({column}, 2) AS BIGINT) <= {customers})"


def _minor(column: str, exponents: dict[str, int]) -> str:
    """Decimal major units to integer minor units by the row's currency exponent."""
    cases = " ".join(
        f"WHEN {_sql_text(code)} THEN CAST({column} * {10**exp} AS BIGINT)"
        for code, exp in sorted(exponents.items())
    )
    return f"CASE currency {cases} END"


def _load(con: Any, store: Path, customers: int | None, loaded_at: datetime) -> None:
    """Fill the canonical tables from the simulator's files with SQL (what ingest does)."""
    import polars as pl

    from aftersale.domain.events import normalise_event_name
    from aftersale.domain.money import currency_exponent
    from aftersale.ingestion.lines import LineRules, classify_lines

    stamp = f"TIMESTAMPTZ {_sql_text(loaded_at.isoformat())}"

    def lineage(name: str) -> str:
        return f"{_sql_text(SOURCE)}, {_sql_text(str(store / name))}, {stamp}"

    def sql(text: str) -> Any:
        return con.raw_sql(text)

    def parquet(name: str) -> str:
        return f"read_parquet({_sql_text(str(store / name))})"

    currencies = [
        row[0]
        for row in sql(
            f"SELECT DISTINCT currency FROM {parquet('orders.parquet')} "
            f"UNION SELECT DISTINCT currency FROM {parquet('order_lines.parquet')}"
        ).fetchall()
    ]
    exponents = {code: currency_exponent(code) for code in currencies if code is not None}
    sql(
        "INSERT INTO customers SELECT customer_id, email, phone, first_name, last_name, country, "
        f"time_zone, created_at, NULL, {lineage('customers.parquet')} "
        f"FROM {parquet('customers.parquet')} WHERE {_within('customer_id', customers)}"
    )
    money = {name: _minor(name, exponents) for name in ("subtotal", "discount", "shipping")}
    money |= {name: _minor(name, exponents) for name in ("tax", "total", "refund")}
    sql(
        "INSERT INTO orders SELECT order_id, customer_id, customer_id IS NULL, ordered_at, "
        f"status, currency, {money['subtotal']}, {money['discount']}, {money['shipping']}, "
        f"{money['tax']}, {money['total']}, {money['refund']}, NULLIF(discount_code, ''), "
        "NULLIF(offer_tier, ''), NULLIF(sales_channel, ''), item_count, NULL, updated_at, "
        f"{lineage('orders.parquet')} FROM {parquet('orders.parquet')} "
        f"WHERE {_within('customer_id', customers)}"
    )
    # Line kinds by the ingest's own rules, decided once per distinct product id / name / sign.
    distinct = sql(
        "SELECT DISTINCT product_id, product_name, unit_price < 0 AS negative "
        f"FROM {parquet('order_lines.parquet')}"
    ).pl()
    kinds = classify_lines(
        distinct.with_columns(
            unit_price_minor=pl.when(pl.col("negative")).then(-1).otherwise(0).cast(pl.Int64)
        ),
        LineRules(),
    ).select("product_id", "product_name", "negative", "line_kind")
    con.con.register("_bench_line_kinds", kinds.to_arrow())
    sql(
        "INSERT INTO order_lines SELECT l.order_id || ':' || CAST(l.line_number AS VARCHAR), "
        "l.order_id, l.line_number, l.product_id, l.product_name, l.category, l.quantity, "
        f"{_minor('l.unit_price', exponents).replace('CASE currency', 'CASE l.currency')}, "
        "NULL, "
        f"{_minor('l.discount', exponents).replace('CASE currency', 'CASE l.currency')}, "
        f"l.currency, k.line_kind, {lineage('order_lines.parquet')} "
        f"FROM {parquet('order_lines.parquet')} AS l "
        "JOIN _bench_line_kinds AS k ON k.product_id IS NOT DISTINCT FROM l.product_id "
        "AND k.product_name IS NOT DISTINCT FROM l.product_name "
        "AND k.negative IS NOT DISTINCT FROM (l.unit_price < 0) "
        "WHERE l.order_id IN (SELECT order_id FROM orders)"
    )
    con.con.unregister("_bench_line_kinds")
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _JSON_COLUMNS.items()) + "}"
    events = (
        f"read_json({_sql_text(str(store / 'events.jsonl'))}, format='newline_delimited', "
        f"columns={columns})"
    )
    names = [r[0] for r in sql(f"SELECT DISTINCT event FROM {events}").fetchall() if r[0]]
    mapping = ", ".join(f"({_sql_text(n)}, {_sql_text(normalise_event_name(n))})" for n in names)
    sql(
        "INSERT INTO events SELECT "
        f"{_sql_text(SOURCE + ':')} || e.messageId, e.messageId, e.type, m.canonical, e.userId, "
        "e.anonymousId, CAST(e.timestamp AS TIMESTAMPTZ), CAST(e.receivedAt AS TIMESTAMPTZ), "
        "coalesce(e.properties->>'order_id', e.properties->>'orderId'), "
        "CAST(CASE WHEN e.type = 'identify' THEN coalesce(e.traits, e.context->'traits', '{}') "
        "ELSE coalesce(e.properties, '{}') END AS VARCHAR), CAST(e.context AS VARCHAR), "
        f"{lineage('events.jsonl')} FROM {events} AS e "
        f"LEFT JOIN (VALUES {mapping}) AS m(name, canonical) ON m.name = e.event "
        f"WHERE {_within('e.userId', customers)}"
    )
    # identify calls carry the customer's traits (the simulator repeats the parquet's values).
    sql(
        "UPDATE customers SET traits = t.traits, source_file = t.source_file FROM ("
        "SELECT customer_id, arg_max(properties, occurred_at) AS traits, "
        "arg_max(source_file, occurred_at) AS source_file FROM events "
        "WHERE type = 'identify' AND customer_id IS NOT NULL GROUP BY customer_id) AS t "
        "WHERE customers.customer_id = t.customer_id"
    )


def build_warehouse(
    store: Path, db_path: Path, customers: int | None, memory_limit: str = "4GB"
) -> dict[str, Any]:
    """A fresh warehouse at ``db_path`` with the store's first ``customers`` customers (all when
    None) and every customer text classified; returns its description (also saved as JSON)."""
    from aftersale.config import WarehouseSettings
    from aftersale.features.sources import Sources
    from aftersale.segments import load_segmentation
    from aftersale.segments.text import LexiconClassifier
    from aftersale.services.segments import classify_texts, default_as_of
    from aftersale.store.snapshots import SnapshotStore
    from aftersale.store.warehouse import Warehouse

    for stale in (db_path, db_path.with_suffix(".json"), Path(f"{db_path}.wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    cfg = load_segmentation()
    with Warehouse(WarehouseSettings(path=db_path, memory_limit=memory_limit)) as wh:
        wh.initialise()
        wh.con.raw_sql("SET preserve_insertion_order = false")
        _load(wh.con, store, customers, datetime.now(UTC))
        loaded = time.perf_counter() - started
        store_tables = SnapshotStore(wh)
        sources = Sources(
            customers=wh.table("customers"),
            orders=wh.table("orders"),
            order_lines=wh.table("order_lines"),
            events=wh.table("events"),
            text_signals=store_tables.text_signals(),
        )
        classifier = LexiconClassifier(
            cfg.lexicons.slices, cfg.lexicons.tones, cfg.tones.anger_sentiment
        )
        texts = classify_texts(sources, store_tables, classifier, f"lexicon:{cfg.fingerprint()}")
        counts = wh.counts()
        as_of = default_as_of(wh)
        wh.con.raw_sql("CHECKPOINT")
    meta = {
        "store": str(store),
        "customers_limit": customers,
        "counts": counts,
        "texts_classified": texts,
        "as_of": as_of.isoformat(),
        "load_seconds": round(loaded, 1),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    db_path.with_suffix(".json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def ensure_warehouse(store: Path, db_path: Path, customers: int | None) -> dict[str, Any]:
    """Reuse a complete warehouse (its JSON description exists), else build it."""
    meta_path = db_path.with_suffix(".json")
    if db_path.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        return meta
    print(f"loading {db_path.name} ...", flush=True)
    meta = build_warehouse(store, db_path, customers)
    c = meta["counts"]
    print(
        f"  {c['customers']:,} customers, {c['orders']:,} orders, {c['order_lines']:,} lines, "
        f"{c['events']:,} events, {meta['texts_classified']:,} texts classified in "
        f"{meta['build_seconds']:.0f} s",
        flush=True,
    )
    return meta


# -- the two sides --------------------------------------------------------------------------------


def bench_rules() -> SegmentationConfig:
    """The packaged segmentation rules as both sides use them.

    The benchmark leaves the customer-base models out (they have their own benchmark and no
    pandas counterpart), so, as ``snapshot`` does when the models are skipped, a value tier
    based on a model output (predicted CLV) falls back to spend (``monetary_minor``).
    """
    from aftersale.segments import load_segmentation

    cfg = load_segmentation()
    try:
        from aftersale.features.predictions import PREDICTION_COLUMNS
    except ImportError:
        return cfg
    if cfg.value.basis in PREDICTION_COLUMNS:
        value = cfg.value.model_copy(update={"basis": "monetary_minor"})
        cfg = cfg.model_copy(update={"value": value})
    return cfg


def _drop_outputs(con: Any) -> None:
    """Drop the candidate's output tables (through the Ibis connection)."""
    for table in OUT_TABLES.values():
        con.raw_sql(f"DROP TABLE IF EXISTS {table}")


def candidate_once(
    db_path: str, as_of: str, memory_limit: str = "2GB", threads: int | None = None
) -> dict[str, int]:
    """aftersale: ``feature_tables`` + ``segment_table`` on DuckDB, three tables materialised."""
    from aftersale.config import WarehouseSettings
    from aftersale.features.definitions import standard_registry
    from aftersale.features.sources import FeatureContext, Sources
    from aftersale.features.table import feature_tables
    from aftersale.segments import segment_table
    from aftersale.store.warehouse import Warehouse

    cfg = bench_rules()
    settings = WarehouseSettings(path=Path(db_path), memory_limit=memory_limit, threads=threads)
    with Warehouse(settings) as wh:
        con = wh.con
        _drop_outputs(con)
        sources = Sources(
            customers=wh.table("customers"),
            orders=wh.table("orders"),
            order_lines=wh.table("order_lines"),
            events=wh.table("events"),
            text_signals=wh.table("text_signals"),
        )
        ctx = FeatureContext(datetime.fromisoformat(as_of), cfg.signals)
        options: dict[str, Any] = {}
        if "materialise" in inspect.signature(feature_tables).parameters:
            # as ``snapshot`` does: the shared views stored once as temporary tables
            options["materialise"] = lambda name, expr: wh.materialise("bench", name, expr)
        tables = feature_tables(
            sources,
            ctx,
            standard_registry(cfg.signals),
            affinity_alpha=cfg.affinity.alpha,
            gap_prior_weight=cfg.lifecycle.gap_prior_weight,
            **options,
        )
        features = con.create_table(OUT_TABLES["features"], tables.features)
        categories = con.create_table(OUT_TABLES["categories"], tables.categories)
        segments = con.create_table(OUT_TABLES["segments"], segment_table(features, cfg))
        counts = {
            "customers": int(features.count().execute()),
            "category_rows": int(categories.count().execute()),
            "segments": int(segments.count().execute()),
        }
        wh.drop_staging("bench")
        return counts


def baseline_once(db_path: str, as_of: str, out_dir: str) -> dict[str, int]:
    """Plain pandas (:mod:`bench.segments_baseline`): read, compute, write Parquet."""
    from bench.segments_baseline import run_baseline

    return run_baseline(db_path, datetime.fromisoformat(as_of), bench_rules(), out_dir)


def _clean(db_path: Path, out_dir: Path) -> None:
    """Remove both sides' outputs (between runs)."""
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        for table in OUT_TABLES.values():
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    shutil.rmtree(out_dir, ignore_errors=True)


# -- agreement ------------------------------------------------------------------------------------


@dataclass
class Agreement:
    """How far the two sides' outputs agree, per column, with examples of disagreements."""

    customers_candidate: int
    customers_baseline: int
    only_candidate: int
    only_baseline: int
    column_mismatch: list[str]
    features: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    segments: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    categories: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    category_rows: tuple[int, int, int, int] = (0, 0, 0, 0)
    segments_all_equal: float = 0.0

    @property
    def same_customers(self) -> bool:
        """Both sides cover exactly the same customers."""
        return self.only_candidate == 0 and self.only_baseline == 0

    def segment_share(self, column: str) -> float:
        """Share of customers whose ``column`` is equal on both sides."""
        bad = self.segments.get(column, (0, []))[0]
        return 1.0 - bad / max(self.customers_candidate, 1)

    @property
    def ok(self) -> bool:
        """Same customers, every segment column >= 99.9 % equal, every feature within tolerance."""
        segments_ok = all(self.segment_share(c) >= SEGMENT_SHARE for c in self.segments)
        features_ok = not any(n for n, _ in self.features.values())
        return self.same_customers and not self.column_mismatch and segments_ok and features_ok

    def lines(self) -> list[str]:
        """Plain-text summary for the console and RESULTS.md."""
        out = [
            f"customers: aftersale {self.customers_candidate:,}, pandas "
            f"{self.customers_baseline:,} (only aftersale {self.only_candidate:,}, only pandas "
            f"{self.only_baseline:,})",
        ]
        if self.column_mismatch:
            out.append("column sets differ: " + ", ".join(self.column_mismatch))
        bad_f = {k: v for k, v in self.features.items() if v[0]}
        out.append(
            f"features: {len(self.features)} columns compared (numbers within {RTOL:g} relative"
            f" or {ATOL:g} absolute, text and timestamps exactly); "
            + (
                "all agree"
                if not bad_f
                else "disagreements: "
                + "; ".join(f"{k} {n:,} (e.g. {', '.join(ex)})" for k, (n, ex) in bad_f.items())
            )
        )
        seg = ", ".join(f"{c} {self.segment_share(c):.4%}" for c in self.segments)
        out.append(
            f"segments: share of customers equal per column: {seg}; all "
            f"{len(self.segments)} columns equal for {self.segments_all_equal:.4%} of customers"
        )
        bad_s = {k: v for k, v in self.segments.items() if v[0]}
        if bad_s:
            out.append(
                "segment disagreements: "
                + "; ".join(f"{k} {n:,} (e.g. {', '.join(ex)})" for k, (n, ex) in bad_s.items())
            )
        rows_c, rows_b, only_c, only_b = self.category_rows
        bad_c = {k: v for k, v in self.categories.items() if v[0]}
        out.append(
            f"customer × category table: aftersale {rows_c:,} rows, pandas {rows_b:,} (only "
            f"aftersale {only_c:,}, only pandas {only_b:,}); "
            + (
                "all columns agree"
                if not bad_c
                else "disagreements: "
                + "; ".join(f"{k} {n:,} (e.g. {', '.join(ex)})" for k, (n, ex) in bad_c.items())
            )
        )
        return out


def _differ(a: pd.Series, b: pd.Series) -> Any:
    """Rows where two aligned columns disagree (both null counts as equal)."""
    a_null, b_null = a.isna().to_numpy(), b.isna().to_numpy()
    kinds = (getattr(a.dtype, "kind", "O"), getattr(b.dtype, "kind", "O"))
    if isinstance(a.dtype, pd.DatetimeTZDtype) or isinstance(b.dtype, pd.DatetimeTZDtype):
        differ = pd.to_datetime(a, utc=True).array.asi8 != pd.to_datetime(b, utc=True).array.asi8
    elif all(k in "iufb" for k in kinds):
        av = a.to_numpy(dtype=np.float64, na_value=np.nan)
        bv = b.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            differ = ~np.isclose(av, bv, rtol=RTOL, atol=ATOL)
    else:
        av = a.astype(str).fillna("\x00").to_numpy(dtype=object)
        bv = b.astype(str).fillna("\x00").to_numpy(dtype=object)
        differ = av != bv
    return np.where(a_null | b_null, a_null != b_null, differ)


def _show(value: Any) -> str:
    """A value for reports (plain Python, short floats)."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.10g}"
    if isinstance(value, np.integer):
        return str(int(value))
    return repr(value)


def _column_diff(a: pd.Series, b: pd.Series, keys: pd.Series) -> tuple[int, list[str]]:
    """How many rows disagree, with up to three examples (key: candidate vs baseline)."""
    rows = np.flatnonzero(_differ(a, b))
    examples = [f"{keys.iloc[i]}: {_show(a.iloc[i])} vs {_show(b.iloc[i])}" for i in rows[:3]]
    return len(rows), examples


def _diff_frames(
    ours: pd.DataFrame, theirs: pd.DataFrame, key: list[str]
) -> tuple[dict[str, tuple[int, list[str]]], int, int, Any]:
    """Per-column disagreements on the shared keys, keys on one side only, and a per-row flag
    of rows equal in every column."""
    merged = ours.merge(theirs, on=key, how="outer", suffixes=("__a", "__b"), indicator=True)
    only_a = int((merged["_merge"] == "left_only").sum())
    only_b = int((merged["_merge"] == "right_only").sum())
    inner = merged.loc[merged["_merge"] == "both"].reset_index(drop=True)
    label = inner[key].astype(str).agg("/".join, axis=1) if len(key) > 1 else inner[key[0]]
    diffs: dict[str, tuple[int, list[str]]] = {}
    equal_all = np.ones(len(inner), bool)
    for column in ours.columns:
        if column in key or column not in theirs.columns:
            continue
        a, b = inner[f"{column}__a"], inner[f"{column}__b"]
        differ = _differ(a, b)
        rows = np.flatnonzero(differ)
        examples = [f"{label.iloc[i]}: {_show(a.iloc[i])} vs {_show(b.iloc[i])}" for i in rows[:2]]
        if len(rows) and all(getattr(x.dtype, "kind", "O") in "iuf" for x in (a, b)):
            gap = np.abs(a.to_numpy(np.float64)[rows] - b.to_numpy(np.float64)[rows])
            examples.append(f"largest difference {np.nanmax(gap):.3g}")
        diffs[column] = (len(rows), examples)
        equal_all &= ~differ
    return diffs, only_a, only_b, equal_all


def compare_outputs(db_path: Path, out_dir: Path) -> Agreement:
    """Compare the candidate's three tables with the baseline's three Parquet files."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        ours = {
            k: con.sql(f"SELECT * FROM {t}").to_arrow_table().to_pandas()
            for k, t in OUT_TABLES.items()
        }
    finally:
        con.close()
    theirs = {k: pd.read_parquet(out_dir / f"{k}.parquet") for k in OUT_TABLES}
    mismatch = []
    for k in OUT_TABLES:
        a, b = list(ours[k].columns), list(theirs[k].columns)
        if a != b:
            mismatch.append(
                f"{k}: only aftersale {sorted(set(a) - set(b))}, only pandas "
                f"{sorted(set(b) - set(a))}, same order {sorted(a) == sorted(b) and a == b}"
            )
    features, only_a, only_b, _ = _diff_frames(
        ours["features"], theirs["features"], ["customer_id"]
    )
    segments, _, _, equal_all = _diff_frames(ours["segments"], theirs["segments"], ["customer_id"])
    categories, only_ca, only_cb, _ = _diff_frames(
        ours["categories"], theirs["categories"], ["customer_id", "category"]
    )
    return Agreement(
        customers_candidate=len(ours["features"]),
        customers_baseline=len(theirs["features"]),
        only_candidate=only_a,
        only_baseline=only_b,
        column_mismatch=mismatch,
        features=features,
        segments=segments,
        categories=categories,
        category_rows=(len(ours["categories"]), len(theirs["categories"]), only_ca, only_cb),
        segments_all_equal=float(equal_all.mean()) if len(equal_all) else 1.0,
    )


# -- the loader against ingest ---------------------------------------------------------------------


def compare_with_ingest(store: Path, work: Path) -> dict[str, list[str]]:
    """Load ``store`` both ways (``ingest`` and :func:`build_warehouse`) and list differences:
    column names and types per table, and values of every non-lineage column by key (JSON text
    compared parsed). Empty lists mean the direct load equals ingest."""
    import duckdb
    from pydantic import SecretStr

    from aftersale.config import IngestSettings, Settings, StateSettings, WarehouseSettings
    from aftersale.domain.tables import CANONICAL_TABLES
    from aftersale.services.ingest import ingest

    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        warehouse=WarehouseSettings(path=work / "ingest.duckdb", memory_limit="1GB"),
        state=StateSettings(url=SecretStr(f"sqlite:///{work / 'state.sqlite'}")),
        ingest=IngestSettings(),
    )
    for kind, name in (
        ("customers", "customers.parquet"),
        ("orders", "orders.parquet"),
        ("order-lines", "order_lines.parquet"),
        ("events", "events.jsonl"),
    ):
        ingest(kind, store / name, settings=settings)
    build_warehouse(store, work / "direct.duckdb", None, memory_limit="1GB")
    report: dict[str, list[str]] = {}
    a = duckdb.connect(str(work / "ingest.duckdb"), read_only=True)
    b = duckdb.connect(str(work / "direct.duckdb"), read_only=True)
    try:
        for name in ("customers", "orders", "order_lines", "events"):
            spec = CANONICAL_TABLES[name]
            problems: list[str] = []
            types_a = a.sql(f"DESCRIBE {name}").fetchall()
            types_b = b.sql(f"DESCRIBE {name}").fetchall()
            if [r[:2] for r in types_a] != [r[:2] for r in types_b]:
                problems.append(f"schema differs: {types_a} vs {types_b}")
            fa = a.sql(f"SELECT * FROM {name}").to_arrow_table().to_pandas()
            fb = b.sql(f"SELECT * FROM {name}").to_arrow_table().to_pandas()
            if len(fa) != len(fb):
                problems.append(f"rows: ingest {len(fa):,}, direct {len(fb):,}")
            merged = fa.merge(fb, on=spec.key, how="inner", suffixes=("__a", "__b"))
            for column in spec.columns:
                if column.name in (spec.key, "loaded_at", "source_file"):
                    continue
                ca, cb = merged[f"{column.name}__a"], merged[f"{column.name}__b"]
                if column.type == "json":
                    ca = ca.map(lambda v: None if v is None or v != v else json.loads(v))
                    cb = cb.map(lambda v: None if v is None or v != v else json.loads(v))
                    bad = int(sum(x != y for x, y in zip(ca, cb, strict=True)))
                    example = ""
                else:
                    bad, ex = _column_diff(ca, cb, merged[spec.key])
                    example = f" (e.g. {ex[0]})" if ex else ""
                if bad:
                    problems.append(f"{column.name}: {bad:,} rows differ{example}")
            report[name] = problems
    finally:
        a.close()
        b.close()
    return report


# -- scaling --------------------------------------------------------------------------------------


def _fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least-squares line of value against millions of customers: slope, intercept and the
    largest relative residual (how far from linear)."""
    x = np.array([p[0] for p in points], dtype=np.float64) / 1e6
    y = np.array([p[1] for p in points], dtype=np.float64)
    if len(points) < 2:
        return float("nan"), float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    fitted = slope * x + intercept
    worst = float(np.max(np.abs(y - fitted) / np.maximum(np.abs(y), 1e-12)))
    return float(slope), float(intercept), worst


def _scaling_lines(pairs: dict[int, PairResult[Any]]) -> list[str]:
    """Time and peak per size for each side, with least-squares slopes, and the ratios."""
    out = []
    for side, label in (("candidate", "aftersale"), ("baseline", "pandas")):
        seconds = [(n, getattr(p, side).median_seconds) for n, p in sorted(pairs.items())]
        peaks = [(n, getattr(p, side).peak_mb) for n, p in sorted(pairs.items())]
        s_slope, s_icpt, s_worst = _fit(seconds)
        m_slope, m_icpt, m_worst = _fit(peaks)
        out.append(
            f"scaling, {label}: "
            + ", ".join(
                f"{n:,} customers {s:,.1f} s / {m:,.0f} MB"
                for (n, s), (_, m) in zip(seconds, peaks, strict=True)
            )
            + f"; time slope {s_slope:,.1f} s per million customers (intercept {s_icpt:,.1f} s, "
            f"largest residual {s_worst:.1%}); peak-memory slope {m_slope:,.0f} MB per million "
            f"(intercept {m_icpt:,.0f} MB, largest residual {m_worst:.1%})"
        )
    ratios = ", ".join(
        f"{n:,}: speed {p.speed_ratio:.2f}x, memory {p.memory_ratio:.2f}x"
        for n, p in sorted(pairs.items())
    )
    out.append(f"ratios per size: {ratios}")
    return out


# -- entry point ----------------------------------------------------------------------------------


def _git_head() -> str:
    """Short commit of the repository (read-only), or "unknown"."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h %s"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()[:80] or "unknown"


def _sizes(text: str) -> list[int]:
    """Customer counts from ``--sizes`` (sorted, unique; ``1e6`` allowed)."""
    return sorted({int(float(part)) for part in text.split(",") if part.strip()})


@dataclass
class BenchResult:
    """Every measured pair and the agreement of the two sides' outputs, by customer count."""

    pairs: dict[int, PairResult[dict[str, int]]]
    agreements: dict[int, Agreement]


def _relative_source(src: object) -> str:
    """Where the measured code came from, without this machine's folders."""
    path = Path(str(src))
    repo = Path(__file__).resolve().parents[1]
    try:
        return str(path.resolve().relative_to(repo))
    except ValueError:
        tail = "/".join(path.parts[-3:])
        return f"a copy outside the repository (.../{tail})"


def main(argv: list[str] | None = None) -> BenchResult:
    """Command line entry point; see ``--help``."""
    parser = argparse.ArgumentParser(description="segments: aftersale vs plain pandas (ratios)")
    parser.add_argument(
        "--sizes",
        default="100000,300000,1000000",
        help="customer counts (comma-separated); the largest is the headline",
    )
    parser.add_argument("--repeats", type=int, default=2, help="measured runs per side and size")
    parser.add_argument(
        "--store-customers",
        type=int,
        default=None,
        help="simulate this many customers and take every size from it (default: the largest)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--r", type=float, default=0.71, help="simulator purchase-rate shape")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--memory-limit", default="2GB", help="candidate DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=None, help="candidate DuckDB threads")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up on the smallest")
    parser.add_argument("--date", default=None, help="date for RESULTS.md (default: now, UTC)")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--note", action="append", default=[], help="extra note for RESULTS.md")
    args = parser.parse_args(argv)
    date = args.date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    given = sys.argv[1:] if argv is None else argv
    command = "uv run python bench/bench_segments.py " + shlex.join(given)
    sizes = _sizes(args.sizes)
    largest = sizes[-1]
    import aftersale

    src = Path(aftersale.__file__).resolve().parent  # the code actually imported
    tree_before = source_digest(src)

    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    spec = StoreSpec(max(largest, args.store_customers or 0), args.seed, args.r, args.days)
    store = ensure_store(data_dir, spec)
    metas = {
        n: ensure_warehouse(
            store, data_dir / f"{spec.name}-first{n}.duckdb", None if n == spec.customers else n
        )
        for n in sizes
    }
    work = data_dir / f"runs-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)

    def sides(n: int) -> tuple[Any, Any, Any]:
        db = data_dir / f"{spec.name}-first{n}.duckdb"
        as_of = metas[n]["as_of"]
        out = work / f"baseline-{n}"
        return (
            lambda: candidate_once(str(db), as_of, args.memory_limit, args.threads),
            lambda: baseline_once(str(db), as_of, str(out)),
            lambda: _clean(db, out),
        )

    if not args.no_warmup:
        cand, base, clean = sides(sizes[0])
        print(f"warm-up on {sizes[0]:,} customers (unmeasured)", flush=True)
        cand()
        base()
        clean()
    # The code the runs use: the aftersale modules imported by now.
    used = loaded_sources(src)
    digest_before = source_digest(src, files=used)

    pairs: dict[int, PairResult[dict[str, int]]] = {}
    agreements: dict[int, Agreement] = {}
    for n in sizes:
        cand, base, clean = sides(n)
        clean()
        pair = run_pair(
            f"Segments: features + segments + slices + health, {n:,} customers: "
            "aftersale vs pandas",
            cand,
            base,
            repeats=args.repeats,
            warmup=0,
            rows=n,
            labels=(f"aftersale ({n:,} customers)", f"pandas ({n:,} customers)"),
            target=TARGET,
            between=None,
        )
        print(pair.summary(), flush=True)
        db = data_dir / f"{spec.name}-first{n}.duckdb"
        agreement = compare_outputs(db, work / f"baseline-{n}")
        for line in agreement.lines():
            print("  " + line, flush=True)
        clean()
        pairs[n] = pair
        agreements[n] = agreement

    shutil.rmtree(work, ignore_errors=True)
    scaling = _scaling_lines(pairs) if len(pairs) > 1 else []
    for line in scaling:
        print("  " + line)
    digest_after = source_digest(src, files=used)
    tree_after = source_digest(src)
    headline = pairs[largest]
    meta = metas[largest]
    counts = meta["counts"]
    notes = [
        f"aftersale code digest {digest_before} (sha256 of the {len(used)} aftersale files "
        f"the run imported; whole tree {tree_before})"
        + (
            ""
            if digest_after == digest_before
            else f" — **imported code changed during the run** (now {digest_after}): repeat it"
        )
        + (
            ""
            if tree_after == tree_before or digest_after != digest_before
            else "; other files of the tree changed meanwhile (not used by this benchmark)"
        ),
        f"aftersale imported from `{_relative_source(src)}` (repository HEAD {_git_head()})",
        f"input: `simulate_store(SimulationSpec(customers={largest}, days={args.days}, "
        f"seed={args.seed}, r={args.r:g}, formats={{'parquet', 'jsonl'}}))` loaded straight into "
        f"DuckDB with the canonical schema: {counts['customers']:,} customers, "
        f"{counts['orders']:,} orders ({counts['orders'] / counts['customers']:.2f} per "
        f"customer), {counts['order_lines']:,} order lines, {counts['events']:,} events "
        f"({counts['events'] / counts['customers']:.1f} per customer); "
        f"{meta['texts_classified']:,} distinct texts classified before timing; as_of "
        f"{meta['as_of']}",
        "candidate: `feature_tables` (full run; shared views materialised as temporary tables "
        "when the version supports it, as `snapshot` does) + `segment_table` on the warehouse's "
        f"DuckDB connection (memory_limit {args.memory_limit}, threads "
        f"{args.threads or 'default (all)'}), features, customer × category table and segments "
        "created as tables in the warehouse; baseline: `bench/segments_baseline.py` (pandas "
        f"{pd.__version__}, numpy; single-threaded apart from Arrow reads) reads the same "
        "tables from the same file and writes the same three results to Parquet",
        "peak = RSS high-water above the RSS at the start of the run (max of psutil sampling "
        "every 5 ms and the kernel's VmHWM reset per run)",
        *(f"agreement at {largest:,}: {line}" for line in agreements[largest].lines()),
        *(
            f"agreement at {n:,}: " + ("all checks passed" if a.ok else "see console output")
            for n, a in agreements.items()
            if n != largest
        ),
        *scaling,
        *args.note,
    ]
    if not args.no_record:
        extra: list[tuple[str, SideResult | Any, int]] = []
        for n, pair in sorted(pairs.items()):
            if n == largest:
                continue
            extra.append((pair.candidate.label, pair.candidate, n))
            extra.append((pair.baseline.label, pair.baseline, n))
        machine = machine_info((*KEY_PACKAGES, "ibis-framework"))
        append_results(
            results_markdown(
                headline,
                date=date,
                command=command,
                machine=machine,
                notes=notes,
                extra_rows=extra,
            )
        )
        print("appended to bench/RESULTS.md")
    return BenchResult(pairs, agreements)


if __name__ == "__main__":
    main()
