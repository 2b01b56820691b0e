"""Smoke test of the benchmark harness: two toy callables in, ratios and a report out."""

from __future__ import annotations

import math
from pathlib import Path

from bench.harness import (
    MB,
    PairResult,
    Target,
    append_results,
    results_markdown,
    run_isolated,
    run_pair,
)


def _small() -> int:
    return sum(range(10_000))


def _bigger() -> int:
    block = b"x" * (8 * MB)  # touched, so it shows in RSS
    return len(block) + sum(range(20_000))


def test_run_pair_runs_both_sides_and_returns_ratios(tmp_path: Path) -> None:
    cleaned: list[int] = []
    pair: PairResult[int] = run_pair(
        "toy",
        _small,
        _bigger,
        repeats=3,
        warmup=1,
        rows=10_000,
        labels=("small", "bigger"),
        target=Target(min_speed=3.0, max_memory=0.5),
        between=lambda: cleaned.append(1),
        log=None,
    )
    assert [len(pair.candidate.runs), len(pair.baseline.runs)] == [3, 3]
    assert pair.order == ["candidate", "baseline", "baseline", "candidate", "candidate", "baseline"]
    assert len(cleaned) == 2 + 6  # after every warm-up and measured run
    assert pair.candidate_result == _small() and pair.baseline_result == _bigger()
    assert pair.candidate.rows == 10_000
    assert math.isfinite(pair.speed_ratio) and pair.speed_ratio > 0
    assert not math.isnan(pair.memory_ratio) and pair.memory_ratio >= 0
    assert pair.met in (True, False)
    text = results_markdown(pair, date="2000-01-01", command="pytest", machine={"cpu": "toy"})
    assert "## toy — 2000-01-01" in text and "speed ratio" in text and "| small |" in text
    results = tmp_path / "RESULTS.md"
    append_results(text, results)
    append_results(text, results)
    assert results.read_text(encoding="utf-8").count("## toy") == 2


def test_run_isolated_measures_a_call_in_a_fresh_interpreter() -> None:
    sample = run_isolated("json:dumps", {"obj": [1, 2, 3]}, warmup={"obj": []}, timeout=120)
    measured = (sample.seconds, sample.peak)
    assert min(measured) >= 0  # the harness reports values; nothing here bounds a time
