"""The same feature and segment code gives identical results on DuckDB and on Spark (local mode).

Spark starts in a JVM (Java 17) inside the test; nothing leaves the machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from aftersale.features.definitions import standard_registry
from aftersale.features.sources import FeatureContext, Sources
from aftersale.features.table import feature_tables
from aftersale.segments.assign import segment_table
from aftersale.segments.config import load_segmentation
from aftersale.services.segments import snapshot
from aftersale.simulator import SimulationSpec
from tests.factories import load_simulated

pytestmark = pytest.mark.slow
TABLES = ("customers", "orders", "order_lines", "events", "text_signals")
AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime: Spark local mode needs Java 17 (apt-get install openjdk-17)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("aftersale-portability")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def duckdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("portability")
    spec = SimulationSpec(customers=300, days=180, seed=9, formats=frozenset({"csv", "jsonl"}))
    settings, _ = load_simulated(root, spec)
    snapshot(settings, AS_OF)  # classifies the texts into the warehouse's cache
    return settings.warehouse.path


def _run(con: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = load_segmentation()
    sources = Sources(*(con.table(name) for name in TABLES))
    tables = feature_tables(
        sources, FeatureContext(AS_OF, cfg.signals), standard_registry(cfg.signals)
    )
    segments = segment_table(tables.features, cfg)
    features = con.to_pandas(tables.features).sort_values("customer_id")
    assigned = con.to_pandas(segments).sort_values("customer_id")
    return features.reset_index(drop=True), assigned.reset_index(drop=True)


def test_duckdb_and_spark_give_identical_features_and_segments(
    spark: Any, duckdb_path: Path
) -> None:
    duck = ibis.duckdb.connect(str(duckdb_path), read_only=True)
    for name in TABLES:
        spark.createDataFrame(duck.table(name).to_pyarrow()).createOrReplaceTempView(name)
    on_spark = _run(ibis.pyspark.connect(spark))
    on_duckdb = _run(duck)
    assert len(on_duckdb[0]) > 150
    for ours, theirs in zip(on_duckdb, on_spark, strict=True):
        assert list(ours.columns) == list(theirs.columns)
        for column in ours.columns:
            a, b = ours[column], theirs[column]
            if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
                pd.testing.assert_series_equal(
                    a.astype("float64"), b.astype("float64"), rtol=1e-9, check_names=False
                )
            else:
                left = a.astype(str).where(a.notna(), "<null>")
                right = b.astype(str).where(b.notna(), "<null>")
                assert (left == right).all(), column
    assert set(on_duckdb[1]["health_grade"]) == {"green", "yellow", "red"}


def test_feature_code_names_no_backend() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "aftersale"
    for package in ("features", "segments"):
        for path in (root / package).glob("*.py"):
            text = path.read_text(encoding="utf-8").lower()
            assert "duckdb" not in text and "pyspark" not in text, path
