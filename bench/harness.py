"""Side-by-side benchmark harness: a candidate against a named baseline, in one process.

The project's rule is that speed and memory targets are *ratios* against a baseline run in the
same process on the same machine, never absolute seconds. :func:`run_pair` runs both sides
alternately (candidate/baseline, then baseline/candidate, ...) so drifts in machine load hit
both equally, and measures for every run:

* wall time with :func:`time.perf_counter`;
* peak memory as the RSS high-water mark above the RSS at the start of the run. RSS is sampled
  by a background thread with psutil every ~5 ms (tracemalloc cannot see Arrow, DuckDB or
  polars allocations). Where Linux allows it the kernel's own high-water mark (``VmHWM``,
  reset through ``/proc/self/clear_refs``) is read too, which catches spikes shorter than a
  sampling interval or taken while a C extension held the GIL; the larger of the two counts.

Between runs the harness calls :func:`gc.collect`, asks Arrow's pool to give back unused memory
and calls glibc's ``malloc_trim(0)``, so memory freed by one run does not hide the next run's.
Allocators that keep freed pages (jemalloc/mimalloc arenas inside polars, DuckDB, Arrow) can
still make a later run look smaller; :func:`run_isolated` runs one side in a fresh interpreter
as a cross-check for exactly that order effect.

:func:`append_results` writes a markdown section (date, machine, command, numbers, target) to
``bench/RESULTS.md``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import hashlib
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import psutil

__all__ = [
    "PairResult",
    "RunSample",
    "SideResult",
    "Target",
    "append_results",
    "describe",
    "loaded_sources",
    "machine_info",
    "measure",
    "record_section",
    "release_memory",
    "results_markdown",
    "run_isolated",
    "run_pair",
    "source_digest",
]

R = TypeVar("R")
MB = 1024 * 1024
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
KEY_PACKAGES = ("duckdb", "ibis-framework", "polars", "pyarrow", "pandas", "numpy", "psutil")


# -- memory helpers --------------------------------------------------------------------------


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None


_LIBC = _libc()


def release_memory() -> None:
    """Collect garbage and hand freed memory back to the OS where the allocators allow it."""
    gc.collect()
    if "pyarrow" in sys.modules:
        with contextlib.suppress(Exception):  # best effort: older pools lack it
            sys.modules["pyarrow"].default_memory_pool().release_unused()
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _reset_hwm() -> bool:
    """Reset the kernel's RSS high-water mark of this process (Linux >= 4.0); True if done."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _read_hwm() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _Sampler:
    """Background thread recording the highest RSS seen, every ``interval`` seconds."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = _rss()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._proc = psutil.Process()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = int(self._proc.memory_info().rss)
            self.samples += 1
            if rss > self.peak:
                self.peak = rss
            self._stop.wait(self.interval)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSample:
    """One measured run: seconds, RSS at start, and peaks above it (sampled, kernel, used)."""

    seconds: float
    start_rss: int
    sampled_peak: int
    kernel_peak: int | None
    samples: int

    @property
    def peak(self) -> int:
        """Peak RSS above the start of the run, in bytes (the larger of the two readings)."""
        return max(self.sampled_peak, self.kernel_peak or 0)


@dataclass(slots=True)
class SideResult:
    """All measured runs of one side."""

    label: str
    rows: int
    runs: list[RunSample] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        """Median wall time of the runs."""
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rows_per_second(self) -> float:
        """Rows divided by the median wall time."""
        return self.rows / self.median_seconds if self.median_seconds > 0 else float("inf")

    @property
    def peak_bytes(self) -> int:
        """Median of the per-run peaks (the per-run values are kept in :attr:`runs`)."""
        return int(statistics.median(r.peak for r in self.runs))

    @property
    def max_peak_bytes(self) -> int:
        """Largest per-run peak."""
        return max(r.peak for r in self.runs)

    @property
    def peak_mb(self) -> float:
        """:attr:`peak_bytes` in MiB."""
        return self.peak_bytes / MB


@dataclass(frozen=True, slots=True)
class Target:
    """Candidate must reach ``min_speed`` x the baseline's rows/s and at most ``max_memory`` x
    its peak memory (``None`` = no target on that axis)."""

    min_speed: float | None = None
    max_memory: float | None = None

    def describe(self) -> str:
        """Human-readable target."""
        parts = []
        if self.min_speed is not None:
            parts.append(f"rows/s >= {self.min_speed:g}x baseline")
        if self.max_memory is not None:
            parts.append(f"peak memory <= {self.max_memory:g}x baseline")
        return " and ".join(parts) or "none"


@dataclass(slots=True)
class PairResult(Generic[R]):
    """A candidate and its baseline measured side by side, with the ratios."""

    name: str
    candidate: SideResult
    baseline: SideResult
    target: Target | None = None
    candidate_result: R | None = None
    baseline_result: R | None = None
    order: list[str] = field(default_factory=list)

    @property
    def speed_ratio(self) -> float:
        """Candidate rows/s divided by baseline rows/s (>1: candidate faster)."""
        return self.candidate.rows_per_second / self.baseline.rows_per_second

    @property
    def memory_ratio(self) -> float:
        """Candidate peak divided by baseline peak (<1: candidate leaner)."""
        base = self.baseline.peak_bytes
        return self.candidate.peak_bytes / base if base else float("inf")

    @property
    def speed_met(self) -> bool | None:
        """Whether the speed target holds (None without one)."""
        if self.target is None or self.target.min_speed is None:
            return None
        return self.speed_ratio >= self.target.min_speed

    @property
    def memory_met(self) -> bool | None:
        """Whether the memory target holds (None without one)."""
        if self.target is None or self.target.max_memory is None:
            return None
        return self.memory_ratio <= self.target.max_memory

    @property
    def met(self) -> bool | None:
        """Whether every target holds (None without a target)."""
        flags = [f for f in (self.speed_met, self.memory_met) if f is not None]
        return all(flags) if flags else None

    def summary(self) -> str:
        """Plain-text table for the console."""
        lines = [f"== {self.name}"]
        for side in (self.candidate, self.baseline):
            lines.append(
                f"  {side.label:<28} median {side.median_seconds:9.2f} s  "
                f"{side.rows_per_second:14,.0f} rows/s  peak {side.peak_mb:9.1f} MB  "
                f"(runs: {', '.join(f'{r.seconds:.2f}s/{r.peak / MB:.0f}MB' for r in side.runs)})"
            )
        lines.append(
            f"  speed ratio {self.speed_ratio:.2f}x, memory ratio {self.memory_ratio:.2f}x"
        )
        if self.target is not None:
            verdict = "MET" if self.met else "NOT MET"
            lines.append(f"  target: {self.target.describe()} -> {verdict}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly numbers (no callables' results)."""

        def side(s: SideResult) -> dict[str, Any]:
            return {
                "label": s.label,
                "rows": s.rows,
                "median_seconds": s.median_seconds,
                "rows_per_second": s.rows_per_second,
                "peak_mb": s.peak_mb,
                "runs": [asdict(r) for r in s.runs],
            }

        return {
            "name": self.name,
            "candidate": side(self.candidate),
            "baseline": side(self.baseline),
            "speed_ratio": self.speed_ratio,
            "memory_ratio": self.memory_ratio,
            "target": asdict(self.target) if self.target else None,
            "met": self.met,
            "order": self.order,
        }


# -- running ----------------------------------------------------------------------------------


def measure(fn: Callable[[], R], interval: float = 0.005) -> tuple[RunSample, R]:
    """Run ``fn`` once after releasing memory; return its timing/memory sample and its result."""
    release_memory()
    hwm_ok = _reset_hwm()
    start_rss = _rss()
    with _Sampler(interval) as sampler:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    hwm = _read_hwm() if hwm_ok else None
    kernel = max(0, hwm - start_rss) if hwm is not None else None
    sampled = max(0, sampler.peak - start_rss)
    sample = RunSample(seconds, start_rss, sampled, kernel, sampler.samples)
    return sample, result


def describe(sample: RunSample) -> str:
    """One-line description of a run for logs."""
    kernel = "-" if sample.kernel_peak is None else f"{sample.kernel_peak / MB:.0f}"
    return (
        f"{sample.seconds:.2f} s, peak +{sample.peak / MB:.0f} MB (sampled "
        f"{sample.sampled_peak / MB:.0f}, kernel {kernel}; "
        f"start RSS {sample.start_rss / MB:.0f} MB)"
    )


def _rows_of(rows: int | Callable[[Any], int] | None, result: Any) -> int:
    if rows is None:
        return 0
    return rows(result) if callable(rows) else int(rows)


def run_pair(
    name: str,
    candidate: Callable[[], R],
    baseline: Callable[[], R],
    repeats: int = 3,
    warmup: int = 1,
    *,
    rows: int | Callable[[R], int] | None = None,
    labels: tuple[str, str] = ("candidate", "baseline"),
    target: Target | None = None,
    interval: float = 0.005,
    between: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = print,
) -> PairResult[R]:
    """Run ``candidate`` and ``baseline`` alternately in this process and compare them.

    ``warmup`` unmeasured runs of each side come first (imports, caches, page cache). Measured
    runs alternate in ABBA order so that neither side always runs first. ``rows`` is the number
    of input rows each run processes (or a function of a run's result) for rows/s; ``between``
    is called after every run (for example to delete the run's output).
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    sides = {"candidate": (candidate, labels[0]), "baseline": (baseline, labels[1])}
    for i in range(warmup):
        for key in ("candidate", "baseline") if i % 2 == 0 else ("baseline", "candidate"):
            if log:
                log(f"[{name}] warm-up {i + 1}/{warmup}: {sides[key][1]}")
            sides[key][0]()
            if between:
                between()
    results: dict[str, SideResult] = {}
    last: dict[str, Any] = {}
    order: list[str] = []
    for i in range(repeats):
        pair = ("candidate", "baseline") if i % 2 == 0 else ("baseline", "candidate")
        for key in pair:
            fn, label = sides[key]
            sample, result = measure(fn, interval)
            side = results.setdefault(key, SideResult(label, _rows_of(rows, result)))
            side.runs.append(sample)
            last[key] = result
            order.append(key)
            if log:
                log(f"[{name}] run {i + 1}/{repeats} {label}: {describe(sample)}")
            if between:
                between()
    return PairResult(
        name,
        results["candidate"],
        results["baseline"],
        target,
        last.get("candidate"),
        last.get("baseline"),
        order,
    )


# -- fresh-process cross-check ----------------------------------------------------------------


def run_isolated(
    target: str,
    kwargs: dict[str, Any] | None = None,
    *,
    warmup: dict[str, Any] | None = None,
    python: Sequence[str] = (sys.executable,),
    cwd: Path | None = None,
    interval: float = 0.005,
    timeout: float | None = None,
) -> RunSample:
    """Run ``"module:function"(**kwargs)`` once in a fresh interpreter and measure it there.

    The child imports the module first (so imports are not counted) and, when ``warmup`` is
    given, calls the function once unmeasured with those kwargs (lazy imports, caches: the
    in-process runs are warm too), then measures the call exactly as :func:`measure` does and
    reports back as JSON. Use it to cross-check peaks that
    may be distorted by memory kept in allocator arenas from earlier runs in the same process.
    """
    payload = json.dumps(
        {"target": target, "kwargs": kwargs or {}, "warmup": warmup, "interval": interval}
    )
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(
        [*python, "-m", "bench.harness", "--child", payload],
        cwd=cwd or root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"isolated run of {target} failed:\n{proc.stderr[-4000:]}")
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT ")]
    if not marker:
        raise RuntimeError(f"isolated run of {target} printed no result:\n{proc.stdout[-2000:]}")
    return RunSample(**json.loads(marker[-1][len("@@RESULT ") :]))


def _child(payload: str) -> None:
    spec = json.loads(payload)
    module, _, func = spec["target"].partition(":")
    fn = getattr(importlib.import_module(module), func)
    if spec.get("warmup") is not None:
        fn(**spec["warmup"])
    sample, _ = measure(lambda: fn(**spec["kwargs"]), spec["interval"])
    print("@@RESULT " + json.dumps(asdict(sample)), flush=True)


# -- machine and RESULTS.md -------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(packages: Sequence[str] = KEY_PACKAGES) -> dict[str, str]:
    """CPU model, cores, RAM, OS, Python and key package versions."""
    mem = psutil.virtual_memory()
    info = {
        "cpu": _cpu_model(),
        "cores": f"{psutil.cpu_count(logical=True)} logical "
        f"({psutil.cpu_count(logical=False)} physical)",
        "ram": f"{mem.total / 1024**3:.1f} GiB total, "
        f"{mem.available / 1024**3:.1f} GiB available at start",
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    info.update({p: _version(p) for p in packages})
    return info


def source_digest(root: Path, pattern: str = "**/*.py", files: Iterable[Path] | None = None) -> str:
    """Short SHA-256 of the files under ``root`` matching ``pattern`` (names and contents), or
    of just ``files`` (those under ``root``) when given.

    Recorded with results so a number can be tied to the code it measured, even in a work tree
    that other people change while a benchmark runs.
    """
    root = root.resolve()
    chosen = root.glob(pattern) if files is None else (Path(f).resolve() for f in files)
    digest = hashlib.sha256()
    for path in sorted(set(chosen)):
        if path.is_file() and root in path.parents and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def loaded_sources(root: Path) -> list[Path]:
    """Files under ``root`` of the modules this process has imported (the code a run used)."""
    root = root.resolve()
    found = []
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if name and root in Path(name).resolve().parents:
            found.append(Path(name).resolve())
    return sorted(set(found))


def _mark(flag: bool | None) -> str:
    return "n/a" if flag is None else ("met" if flag else "**NOT met**")


def results_markdown(
    pair: PairResult[Any],
    *,
    date: str,
    command: str,
    machine: dict[str, str] | None = None,
    notes: Sequence[str] = (),
    extra_rows: Sequence[tuple[str, SideResult | RunSample, int]] = (),
) -> str:
    """Markdown section for one measured pair (``extra_rows``: label, result, rows)."""
    machine = machine or machine_info()
    out = [f"## {pair.name} — {date}", "", f"Command: `{command}`", ""]
    out.append("Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()))
    out += [
        "",
        "| side | median s | rows/s | peak MB (median) | peak MB (max) | runs (s / MB) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for side in (pair.candidate, pair.baseline):
        runs = ", ".join(f"{r.seconds:.1f} / {r.peak / MB:.0f}" for r in side.runs)
        out.append(
            f"| {side.label} | {side.median_seconds:.2f} | {side.rows_per_second:,.0f} | "
            f"{side.peak_mb:,.0f} | {side.max_peak_bytes / MB:,.0f} | {runs} |"
        )
    for label, res, rows in extra_rows:
        if isinstance(res, SideResult):
            out.append(
                f"| {label} | {res.median_seconds:.2f} | {res.rows_per_second:,.0f} | "
                f"{res.peak_mb:,.0f} | {res.max_peak_bytes / MB:,.0f} | "
                f"{', '.join(f'{r.seconds:.1f} / {r.peak / MB:.0f}' for r in res.runs)} |"
            )
        else:
            rate = rows / res.seconds if res.seconds else float("inf")
            out.append(
                f"| {label} | {res.seconds:.2f} | {rate:,.0f} | {res.peak / MB:,.0f} | "
                f"{res.peak / MB:,.0f} | {res.seconds:.1f} / {res.peak / MB:.0f} |"
            )
    out += [
        "",
        f"- speed ratio (candidate rows/s ÷ baseline rows/s): **{pair.speed_ratio:.2f}x** "
        f"— {_mark(pair.speed_met)}",
        f"- memory ratio (candidate peak ÷ baseline peak): **{pair.memory_ratio:.2f}x** "
        f"— {_mark(pair.memory_met)}",
    ]
    if pair.target is not None:
        out.append(f"- target: {pair.target.describe()} → **{'MET' if pair.met else 'NOT MET'}**")
    out.append(f"- run order: {', '.join(pair.order)}")
    out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n\n"


def record_section(section: str, markdown_out: Path | None = None) -> None:
    """Write a results section to ``markdown_out`` when given, else append it to RESULTS.md."""
    if markdown_out is not None:
        markdown_out.write_text(section, encoding="utf-8")
        print(f"wrote the RESULTS.md section to {markdown_out}")
    else:
        append_results(section)
        print("appended to bench/RESULTS.md")


def append_results(text: str, path: Path = RESULTS) -> None:
    """Append a section to ``bench/RESULTS.md`` (created with a title when missing)."""
    if not path.exists():
        path.write_text(
            "# Benchmark results\n\nAppended by the scripts in `bench/`; newest last. "
            "Targets are ratios against a baseline run side by side in the same "
            "process.\n\n",
            encoding="utf-8",
        )
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        print("usage: python -m bench.harness --child JSON (used by run_isolated)")
        sys.exit(2)
