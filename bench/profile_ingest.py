"""Where does one ``aftersale`` ingest spend its time and memory? A phase breakdown.

Wraps the steps of :mod:`aftersale.services.ingest` and :class:`aftersale.store.warehouse.
Warehouse` (without editing them: the wrappers are installed on the imported modules for this
process only), runs one ingest of the benchmark's invoice file, and prints for every step the
number of calls, the wall time (inclusive of nested steps) and the highest RSS seen while it ran
(above the RSS at the start), from a 5 ms RSS timeline.

    uv run python bench/profile_ingest.py --lines 1000000
    # function-level, native frames included (needs ptrace):
    uv run py-spy record --native -r 50 -o bench/out/ingest.svg -- \
        .venv/bin/python bench/profile_ingest.py --lines 1000000 --no-phases
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
import shutil
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ingest import MAPPING, candidate_once
from bench.harness import MB, release_memory
from bench.make_invoices import OUT, ensure_invoices

__all__ = ["main"]


@dataclass(slots=True)
class _Phase:
    calls: int = 0
    seconds: float = 0.0
    spans: list[tuple[float, float]] = field(default_factory=list)


class _Timeline:
    """RSS every ``interval`` seconds with its time, in a background thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.points: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.points.append((time.perf_counter(), int(self._proc.memory_info().rss)))
            self._stop.wait(self.interval)

    def __enter__(self) -> _Timeline:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> int:
        """Highest RSS sampled in ``[start, end]`` (0 when no sample fell in it)."""
        return max((rss for t, rss in self.points if start <= t <= end), default=0)


PHASES: dict[str, _Phase] = defaultdict(_Phase)
_LOCK = threading.Lock()  # steps run on several threads


def _record(name: str, t0: float, t1: float) -> None:
    with _LOCK:
        phase = PHASES[name]
        phase.calls += 1
        phase.seconds += t1 - t0
        phase.spans.append((t0, t1))


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _record(name, t0, time.perf_counter())

    return wrapper


def _timed_iter(name: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """Time every ``next()`` of a generator (reading happens lazily, chunk by chunk)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        inner = fn(*args, **kwargs)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(inner)
            except StopIteration:
                return
            finally:
                _record(name, t0, time.perf_counter())
            yield item

    return wrapper


def _wrap_module(module: Any, prefix: str) -> None:
    """Wrap every function of ``module`` that comes from ``aftersale`` (own or imported)."""
    for name, obj in list(vars(module).items()):
        if not inspect.isfunction(obj) or not obj.__module__.startswith("aftersale."):
            continue
        label = (
            f"{prefix}{name}"
            if obj.__module__ == module.__name__
            else (f"{obj.__module__.removeprefix('aftersale.')}.{name}")
        )
        if inspect.isgeneratorfunction(obj):
            setattr(module, name, _timed_iter(f"{label} (per item)", obj))
        else:
            setattr(module, name, _timed(label, obj))


def _wrap_class(cls: type, skip: tuple[str, ...] = ()) -> None:
    """Wrap the plain methods of ``cls`` and ``__call__`` (not properties, classmethods or
    other dunders)."""
    for name, obj in list(vars(cls).items()):
        plain = not name.startswith("__") or name == "__call__"
        if inspect.isfunction(obj) and plain and name not in skip:
            setattr(cls, name, _timed(f"{cls.__name__}.{name}", obj))


def _install() -> None:
    """Wrap the steps of one ingest (this process only), whatever their current names.

    The ingest code changes often; instead of naming its steps, every ``aftersale`` function
    reachable from the namespaces of the loaded ``aftersale.services``, ``aftersale.ingestion``
    and ``aftersale.store`` modules, the ``__call__`` and plain methods of classes defined
    there, and every method of ``Warehouse`` and ``StateStore`` are timed.
    """
    importlib.import_module("aftersale.services.ingest")
    from aftersale.store.state import StateStore
    from aftersale.store.warehouse import Warehouse

    prefixes = ("aftersale.services", "aftersale.ingestion", "aftersale.ingest", "aftersale.store")
    modules = [
        m for name, m in list(sys.modules.items()) if name.startswith(prefixes) and m is not None
    ]
    for module in modules:
        for obj in list(vars(module).values()):
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and obj not in (Warehouse, StateStore)
            ):
                _wrap_class(obj)
    for module in modules:
        _wrap_module(module, f"{module.__name__.removeprefix('aftersale.')}.")
    _wrap_class(Warehouse, skip=("stage_name", "table", "merge"))
    _wrap_class(StateStore)


def _merge_by_table() -> None:
    """Split Warehouse.merge by target table (wrapped again with the table name)."""
    from aftersale.store.warehouse import Warehouse

    inner = Warehouse.merge

    def merge(self: Any, name: str, incoming: Any, mode: str = "replace") -> Any:
        return _timed(f"Warehouse.merge[{name}]", inner)(self, name, incoming, mode)

    Warehouse.merge = merge


def main(argv: list[str] | None = None) -> None:
    """Command line: one profiled ingest."""
    parser = argparse.ArgumentParser(description="phase breakdown of one aftersale ingest")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument(
        "--no-phases",
        action="store_true",
        help="no wrappers (for an outside profiler such as py-spy)",
    )
    args = parser.parse_args(argv)
    csv = ensure_invoices(args.lines, args.seed)
    mapping = OUT / "invoices.mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    work = OUT / f"profile-runs-{os.getpid()}"  # private: other people may run benchmarks too
    work.mkdir(parents=True, exist_ok=True)
    if not args.no_phases:
        _install()
        _merge_by_table()
    release_memory()
    start_rss = int(psutil.Process().memory_info().rss)
    with _Timeline() as timeline:
        t0 = time.perf_counter()
        cpu0 = sum(psutil.Process().cpu_times()[:2])
        counts = candidate_once(str(csv), str(mapping), str(work), args.memory_limit)
        total = time.perf_counter() - t0
        cpu = sum(psutil.Process().cpu_times()[:2]) - cpu0
    shutil.rmtree(work, ignore_errors=True)
    whole_peak = timeline.peak(t0, t0 + total) - start_rss
    print(
        f"ingest of {args.lines:,} lines: {total:.2f} s, CPU {cpu:.2f} s (user + system, all "
        f"threads), peak +{whole_peak / MB:,.0f} MB (start RSS {start_rss / MB:,.0f} MB); "
        f"{counts}"
    )
    print(
        "steps run on several threads while a file streams (reading, normalising, staging, "
        "writing parts): their seconds overlap, and a step's seconds include waiting for a core"
    )
    if args.no_phases:
        return
    print(f"{'step':<58} {'calls':>6} {'seconds':>9} {'share':>6} {'peak MB':>8}")
    for name, phase in sorted(PHASES.items(), key=lambda kv: -kv[1].seconds):
        peak = max((timeline.peak(a, b) for a, b in phase.spans), default=0)
        above = max(0, peak - start_rss) / MB
        print(
            f"{name:<58} {phase.calls:>6} {phase.seconds:>9.2f} "
            f"{phase.seconds / total:>6.1%} {above:>8,.0f}"
        )


if __name__ == "__main__":
    main()
