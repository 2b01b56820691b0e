"""Benchmark: BG/NBD + Gamma-Gamma fit and scoring, aftersale against lifetimes.

Input: an RFM frame of ``--customers`` customers (default 1,000,000) drawn from the BG/NBD
process itself (r=0.243, alpha=4.414, a=0.793, b=2.426 per week, as CDNOW; ``T`` uniform on
[1, 78] weeks) with Gamma-Gamma spends (p=6.25, q=3.74, gamma=15.44) for repeat buyers;
vectorised numpy, deterministic per ``--seed`` (see :func:`simulate_rfm`).

Candidate: ``BetaGeoModel().fit`` + ``GammaGammaModel().fit`` (repeat buyers), then for every
customer ``probability_alive``, ``expected_purchases(52, ...)`` and ``clv(..., horizon_months=12,
discount_rate=0.01, time_unit="W")``.
Baseline: lifetimes ``BetaGeoFitter`` + ``GammaGammaFitter`` doing the same
(``conditional_probability_alive``, ``conditional_expected_number_of_purchases_up_to_time``,
``customer_lifetime_value(..., time=12, discount_rate=0.01, freq="W")``).

Targets (from the models issue): candidate rows/s >= 10x lifetimes', parameters equal to 1e-3
relative, scoring memory linear in customers (peak of the candidate's scoring step at N/4, N/2
and N, with the least-squares slope).

pymc-marketing (optional, non-default uv group ``bench-pymc``): when ``pymc_marketing`` is
importable, the candidate's fit alone (BG/NBD + Gamma-Gamma, no scoring) is also run side by
side with pymc-marketing's maximum-a-posteriori fit (``fit(method="map")``, i.e.
``pymc.find_MAP``) of its ``BetaGeoModel`` and ``GammaGammaModel`` on the same customers
(``--pymc-customers``, default all). Every parameter gets a ``HalfFlat`` prior (pymc-marketing's
Gamma-Gamma default; the BG/NBD default priors are replaced), so the MAP is the maximum
likelihood estimate and the parameters are comparable with ours. Each pymc-marketing run
builds and compiles its model, as a user's ``fit`` does; imports are excluded.

    uv run python bench/bench_clv.py --customers 1000000 --repeats 2
    uv run --group bench-pymc python bench/bench_clv.py --customers 1000000 --repeats 2
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    KEY_PACKAGES,
    MB,
    PairResult,
    Target,
    machine_info,
    measure,
    record_section,
    release_memory,
    results_markdown,
    run_pair,
    source_digest,
)

__all__ = [
    "baseline_once",
    "candidate_fit_once",
    "candidate_once",
    "compare",
    "compare_pymc",
    "main",
    "pymc_available",
    "pymc_once",
    "score_candidate",
    "scoring_memory",
    "simulate_rfm",
]

TARGET = Target(min_speed=10.0)
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
HORIZON_WEEKS = 52.0
CLV_SETTINGS = {"months": 12, "discount_rate": 0.01, "time_unit": "W"}
PARAM_RTOL = 1e-3
OUTPUTS = ("p_alive", "expected_52w", "clv_12m")


def simulate_rfm(customers: int, seed: int = 42, max_t: float = 78.0) -> pd.DataFrame:
    """RFM frame drawn from the BG/NBD and Gamma-Gamma processes, without a per-customer loop.

    Each customer buys at Poisson rate ``lambda ~ Gamma(r, 1/alpha)`` and drops out after each
    repeat purchase with probability ``p ~ Beta(a, b)``, so the repeat purchase after which they
    drop out is ``K ~ Geometric(p)`` (no dropout at the first purchase, time 0). With
    ``n ~ Poisson(lambda T)`` events of the rate process in ``(0, T]``, ``frequency = min(n, K)``
    and, the event times being ``n`` sorted uniforms on ``(0, T]``, the last purchase is the
    ``x``-th order statistic: ``recency = T * Beta(x, n - x + 1)`` (0 when ``x = 0``). The mean
    of ``x`` transaction values ``Gamma(p, 1/nu)`` with ``nu ~ Gamma(q, 1/gamma)`` is
    ``Gamma(p x, 1/nu) / x``.
    """
    rng = np.random.default_rng(seed)
    r, alpha, a, b = (BGNBD[k] for k in ("r", "alpha", "a", "b"))
    T = rng.uniform(1.0, max_t, customers)  # noqa: N806
    lam = rng.gamma(r, 1.0 / alpha, customers)
    drop = rng.beta(a, b, customers)
    k = rng.geometric(drop)
    n = rng.poisson(lam * T)
    x = np.minimum(n, k)
    buyer = x > 0
    recency = np.zeros(customers)
    xb, nb = x[buyer].astype(np.float64), n[buyer].astype(np.float64)
    recency[buyer] = T[buyer] * rng.beta(xb, nb - xb + 1.0)
    p, q, gamma = (GAMMA_GAMMA[k] for k in ("p", "q", "gamma"))
    nu = rng.gamma(q, 1.0 / gamma, int(buyer.sum()))
    monetary = np.zeros(customers)
    monetary[buyer] = rng.gamma(p * xb, 1.0 / nu) / xb
    return pd.DataFrame(
        {"frequency": x.astype(np.float64), "recency": recency, "T": T, "monetary_value": monetary}
    )


def _arrays(rfm: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(rfm[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))


def score_candidate(bg: Any, gg: Any, rfm: pd.DataFrame) -> dict[str, np.ndarray]:
    """aftersale scoring of every customer with fitted models."""
    x, t_x, T, m = _arrays(rfm)  # noqa: N806
    return {
        "p_alive": bg.probability_alive(x, t_x, T),
        "expected_52w": bg.expected_purchases(HORIZON_WEEKS, x, t_x, T),
        "clv_12m": gg.clv(
            bg,
            x,
            t_x,
            T,
            m,
            horizon_months=CLV_SETTINGS["months"],
            discount_rate=CLV_SETTINGS["discount_rate"],
            time_unit=CLV_SETTINGS["time_unit"],
        ),
    }


def candidate_once(rfm: pd.DataFrame) -> dict[str, Any]:
    """aftersale: fit BG/NBD and Gamma-Gamma (repeat buyers), score everyone."""
    from aftersale.models import BetaGeoModel, GammaGammaModel

    x, t_x, T, m = _arrays(rfm)  # noqa: N806
    bg = BetaGeoModel().fit(x, t_x, T)
    gg = GammaGammaModel().fit(x, m)
    out: dict[str, Any] = score_candidate(bg, gg, rfm)
    out["bg_params"] = {k: float(bg.params_[k]) for k in BGNBD}
    out["gg_params"] = {k: float(gg.params_[k]) for k in GAMMA_GAMMA}
    out["model_used"] = (bg.model_used_, gg.model_used_)
    return out


def candidate_fit_once(rfm: pd.DataFrame) -> dict[str, Any]:
    """aftersale: fit BG/NBD and Gamma-Gamma (repeat buyers) only, for the pymc-marketing pair."""
    from aftersale.models import BetaGeoModel, GammaGammaModel

    x, t_x, T, m = _arrays(rfm)  # noqa: N806
    bg = BetaGeoModel().fit(x, t_x, T)
    gg = GammaGammaModel().fit(x, m)
    return {
        "bg_params": {k: float(bg.params_[k]) for k in BGNBD},
        "gg_params": {k: float(gg.params_[k]) for k in GAMMA_GAMMA},
    }


def pymc_available() -> tuple[bool, str]:
    """Whether pymc-marketing can be imported here, and its version or the import error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # arviz/pymc announce refactors on import
            import pymc_marketing
    except Exception as exc:  # ImportError, or a broken install of its many dependencies
        return False, f"{type(exc).__name__}: {exc}"
    return True, str(getattr(pymc_marketing, "__version__", "unknown"))


def pymc_once(rfm: pd.DataFrame) -> dict[str, Any]:
    """pymc-marketing: MAP fit of ``BetaGeoModel`` and ``GammaGammaModel`` with flat priors."""
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    data = pd.DataFrame(
        {
            "customer_id": np.arange(len(rfm)),
            "frequency": rfm["frequency"].to_numpy(),
            "recency": rfm["recency"].to_numpy(),
            "T": rfm["T"].to_numpy(),
            "monetary_value": rfm["monetary_value"].to_numpy(),
        }
    )
    flat = {k: Prior("HalfFlat") for k in BGNBD}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoModel(
            data=data[["customer_id", "frequency", "recency", "T"]], model_config=flat
        )
        bg.fit(method="map", progressbar=False)
        repeat = data[data["frequency"] > 0]
        gg = GammaGammaModel(
            data=repeat[["customer_id", "frequency", "monetary_value"]],
            model_config={k: Prior("HalfFlat") for k in ("p", "q", "v")},
        )
        gg.fit(method="map", progressbar=False)
    # ``fit_result`` holds the one MAP "draw" (an InferenceData or already its posterior)
    bg_post = getattr(bg.fit_result, "posterior", bg.fit_result)
    gg_post = getattr(gg.fit_result, "posterior", gg.fit_result)
    return {
        "bg_params": {k: float(bg_post[k].mean()) for k in BGNBD},
        # pymc-marketing names the Gamma-Gamma scale ``v``
        "gg_params": {
            "p": float(gg_post["p"].mean()),
            "q": float(gg_post["q"].mean()),
            "gamma": float(gg_post["v"].mean()),
        },
    }


def compare_pymc(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[float, list[str]]:
    """Relative parameter differences, ours against pymc-marketing's MAP."""
    lines, worst = [], 0.0
    for group in ("bg_params", "gg_params"):
        parts = []
        for k, v in ours[group].items():
            rel = _rel(v, theirs[group][k])
            worst = max(worst, rel)
            parts.append(f"{k} {v:.6g} vs {theirs[group][k]:.6g} (rel {rel:.1e})")
        lines.append(f"{group.split('_')[0]} ours vs pymc-marketing MAP: " + ", ".join(parts))
    return worst, lines


def _likelihood_gap(rfm: pd.DataFrame, ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """Our log-likelihoods at our and at pymc-marketing's parameters: which is the better fit."""
    from aftersale.models import BetaGeoModel, GammaGammaModel

    x, t_x, T, m = _arrays(rfm)  # noqa: N806
    gaps = []
    for name, cls, args in (
        ("BG/NBD", BetaGeoModel, (x, t_x, T)),
        ("Gamma-Gamma", GammaGammaModel, (x, m)),
    ):
        group = "bg_params" if cls is BetaGeoModel else "gg_params"
        at_ours = cls.from_params(**ours[group]).log_likelihood(*args)
        at_theirs = cls.from_params(**theirs[group]).log_likelihood(*args)
        gaps.append(
            f"{name} {at_ours:,.4f} at ours, {at_theirs:,.4f} at pymc-marketing's "
            f"(ours minus theirs {at_ours - at_theirs:+.2g})"
        )
    return "log-likelihood of the data: " + "; ".join(gaps)


def run_pymc_pair(
    rfm: pd.DataFrame, repeats: int, warmup_customers: int, seed: int
) -> tuple[PairResult[dict[str, Any]], list[str]]:
    """Candidate fit vs pymc-marketing MAP fit, side by side; returns the pair and notes."""
    if warmup_customers:
        small = simulate_rfm(warmup_customers, seed + 1)
        candidate_fit_once(small)
        pymc_once(small)  # compiles pytensor's C code once (cached on disk afterwards)
    pair = run_pair(
        f"BG/NBD + Gamma-Gamma fit of {len(rfm):,} customers: aftersale vs pymc-marketing MAP",
        lambda: candidate_fit_once(rfm),
        lambda: pymc_once(rfm),
        repeats=repeats,
        warmup=0,
        rows=len(rfm),
        labels=("aftersale fit only", "pymc-marketing MAP fit"),
    )
    print(pair.summary())
    ours, theirs = pair.candidate_result, pair.baseline_result
    assert ours is not None
    assert theirs is not None
    worst, lines = compare_pymc(ours, theirs)
    lines.append(_likelihood_gap(rfm, ours, theirs))
    notes = [
        f"pymc-marketing MAP fit (BG/NBD + Gamma-Gamma, HalfFlat priors on every parameter, "
        f"so MAP = MLE) on {len(rfm):,} customers: median {pair.baseline.median_seconds:.2f} s "
        f"vs aftersale fit only {pair.candidate.median_seconds:.2f} s: aftersale "
        f"**{pair.speed_ratio:.1f}x** faster (fit only, no scoring; pymc-marketing's time "
        "includes building and compiling its model, as every `fit` call does; imports excluded)",
        f"parameters, aftersale vs pymc-marketing MAP: largest relative difference {worst:.1e}",
        *lines,
    ]
    for line in notes:
        print("  " + line)
    return pair, notes


def baseline_once(rfm: pd.DataFrame) -> dict[str, Any]:
    """lifetimes: ``BetaGeoFitter`` + ``GammaGammaFitter`` (repeat buyers), score everyone."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    x, t_x, T, m = rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"]  # noqa: N806
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' pandas/numpy deprecation noise
        bg = BetaGeoFitter().fit(x, t_x, T)
        repeat = x > 0
        gg = GammaGammaFitter().fit(x[repeat], m[repeat])
        out: dict[str, Any] = {
            "p_alive": np.asarray(bg.conditional_probability_alive(x, t_x, T), dtype=np.float64),
            "expected_52w": np.asarray(
                bg.conditional_expected_number_of_purchases_up_to_time(HORIZON_WEEKS, x, t_x, T),
                dtype=np.float64,
            ),
            "clv_12m": np.asarray(
                gg.customer_lifetime_value(
                    bg,
                    x,
                    t_x,
                    T,
                    m,
                    time=CLV_SETTINGS["months"],
                    discount_rate=CLV_SETTINGS["discount_rate"],
                    freq=CLV_SETTINGS["time_unit"],
                ),
                dtype=np.float64,
            ),
        }
    out["bg_params"] = {k: float(bg.params_[k]) for k in BGNBD}
    # lifetimes names the Gamma-Gamma scale ``v``
    out["gg_params"] = {"p": gg.params_["p"], "q": gg.params_["q"], "gamma": gg.params_["v"]}
    out["gg_params"] = {k: float(v) for k, v in out["gg_params"].items()}
    return out


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else abs(a - b)


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[bool, list[str]]:
    """Parameter agreement (1e-3 relative) and the max relative difference of each output."""
    lines = []
    worst = 0.0
    for group in ("bg_params", "gg_params"):
        parts = []
        for k, v in ours[group].items():
            rel = _rel(v, theirs[group][k])
            worst = max(worst, rel)
            parts.append(f"{k} {v:.6g} vs {theirs[group][k]:.6g} (rel {rel:.1e})")
        lines.append(f"{group.split('_')[0]}: " + ", ".join(parts))
    params_ok = worst <= PARAM_RTOL
    lines.insert(
        0,
        f"parameters {'agree' if params_ok else '**differ**'} within {PARAM_RTOL:g} relative "
        f"(largest {worst:.1e})",
    )
    for key in OUTPUTS:
        a, b = np.asarray(ours[key]), np.asarray(theirs[key])
        finite = np.isfinite(a) & np.isfinite(b)
        scale = np.maximum(np.abs(b), 1e-12)
        rel = np.abs(a - b)[finite] / scale[finite]
        i = int(np.argmax(rel)) if rel.size else 0
        lines.append(
            f"{key}: max rel diff {float(rel.max(initial=0.0)):.2e} (median "
            f"{float(np.median(rel)) if rel.size else 0.0:.1e}; value there ours "
            f"{a[finite][i]:.4g} vs lifetimes {b[finite][i]:.4g}), max abs diff "
            f"{float(np.abs(a - b)[finite].max(initial=0.0)):.2e}; non-finite: aftersale "
            f"{int((~np.isfinite(a)).sum())}, lifetimes {int((~np.isfinite(b)).sum())}"
        )
    return params_ok, lines


def scoring_memory(
    rfm: pd.DataFrame, params: dict[str, Any], fractions: tuple[float, ...] = (0.25, 0.5, 1.0)
) -> tuple[list[tuple[int, float, float]], float, float]:
    """Peak MB and seconds of the candidate's scoring step on the first N/4, N/2, N customers,
    with the models fixed at ``params``; returns the points, slope (MB per million customers)
    and the intercept (MB) of the least-squares line."""
    from aftersale.models import BetaGeoModel, GammaGammaModel

    bg = BetaGeoModel.from_params(**params["bg_params"])
    gg = GammaGammaModel.from_params(**params["gg_params"])
    score_candidate(bg, gg, rfm.iloc[:1000])  # warm (imports, first-call costs)
    points = []
    for frac in fractions:
        part = rfm.iloc[: int(len(rfm) * frac)].copy()
        release_memory()
        sample, _ = measure(lambda part=part: score_candidate(bg, gg, part))
        points.append((len(part), sample.peak / MB, sample.seconds))
        del part
    n = np.array([p[0] for p in points], dtype=np.float64) / 1e6
    mb = np.array([p[1] for p in points])
    slope, intercept = np.polyfit(n, mb, 1)
    return points, float(slope), float(intercept)


def main(argv: list[str] | None = None) -> PairResult[dict[str, Any]]:
    """Command line entry point; see ``--help``."""
    parser = argparse.ArgumentParser(description="BG/NBD + Gamma-Gamma: aftersale vs lifetimes")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=2, help="measured runs of each side")
    parser.add_argument("--warmup", type=int, default=0, help="full-size unmeasured runs")
    parser.add_argument(
        "--warmup-customers", type=int, default=5_000, help="warm both sides on this many first"
    )
    parser.add_argument("--date", default=None, help="date for RESULTS.md (default: now, UTC)")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--markdown-out",
        type=Path,
        default=None,
        help="write the RESULTS.md section to this file instead of appending it to RESULTS.md",
    )
    parser.add_argument("--note", action="append", default=[], help="extra note for RESULTS.md")
    parser.add_argument(
        "--pymc-customers",
        type=int,
        default=None,
        help="customers for the pymc-marketing comparison (default: --customers)",
    )
    parser.add_argument("--pymc-repeats", type=int, default=1, help="measured pymc-marketing runs")
    parser.add_argument(
        "--no-pymc", action="store_true", help="skip pymc-marketing even if it is installed"
    )
    args = parser.parse_args(argv)
    date = args.date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    given = sys.argv[1:] if argv is None else argv
    # only look for the package now: importing pymc before the lifetimes pair could disturb it
    has_pymc = not args.no_pymc and importlib.util.find_spec("pymc_marketing") is not None
    runner = "uv run --group bench-pymc" if has_pymc else "uv run"
    command = f"{runner} python bench/bench_clv.py " + shlex.join(given)
    src = Path(__file__).resolve().parent.parent / "src" / "aftersale"
    digest_before = source_digest(src)

    rfm = simulate_rfm(args.customers, args.seed)
    repeaters = int((rfm["frequency"] > 0).sum())
    print(
        f"input: {len(rfm):,} simulated customers, {repeaters:,} repeat buyers, mean frequency "
        f"{rfm['frequency'].mean():.3f}, max {rfm['frequency'].max():.0f}"
    )
    if args.warmup_customers:
        small = simulate_rfm(args.warmup_customers, args.seed + 1)
        candidate_once(small)
        baseline_once(small)
    pair = run_pair(
        f"BG/NBD + Gamma-Gamma fit and score {len(rfm):,} customers: aftersale vs lifetimes",
        lambda: candidate_once(rfm),
        lambda: baseline_once(rfm),
        repeats=args.repeats,
        warmup=args.warmup,
        rows=len(rfm),
        labels=("aftersale fit + score", "lifetimes fit + score"),
        target=TARGET,
    )
    print(pair.summary())
    ours, theirs = pair.candidate_result, pair.baseline_result
    assert ours is not None
    assert theirs is not None
    params_ok, check = compare(ours, theirs)
    for line in check:
        print("  " + line)
    points, slope, intercept = scoring_memory(rfm, ours)
    per_customer = [mb * MB / n for n, mb, _ in points]
    memory_line = (
        "candidate scoring peak memory (models fixed, P(alive) + E[52 w] + 12-month CLV): "
        + ", ".join(f"{n:,} customers {mb:,.0f} MB in {s:.2f} s" for n, mb, s in points)
        + f"; least-squares slope {slope:,.0f} MB per million customers (intercept "
        f"{intercept:,.0f} MB), {min(per_customer):,.0f}-{max(per_customer):,.0f} bytes/customer"
    )
    print("  " + memory_line)
    pymc_notes: list[str] = []
    extra_rows: list[tuple[str, Any, int]] = []
    if has_pymc:
        has_pymc, pymc_version = pymc_available()
    else:
        pymc_version = "ModuleNotFoundError: No module named 'pymc_marketing'"
    if args.no_pymc:
        pymc_notes.append("pymc-marketing not compared (--no-pymc)")
    elif not has_pymc:
        pymc_notes.append(
            "pymc-marketing not compared: not importable here (`uv run --group bench-pymc "
            f"python bench/bench_clv.py ...` installs it; {pymc_version})"
        )
    if pymc_notes:
        print("  " + pymc_notes[0])
    else:
        size = min(args.pymc_customers or len(rfm), len(rfm))
        part = rfm.iloc[:size].reset_index(drop=True)
        pymc_pair, pymc_notes = run_pymc_pair(
            part, args.pymc_repeats, args.warmup_customers, args.seed
        )
        if size < len(rfm):
            pymc_notes.insert(
                0,
                f"pymc-marketing compared on the first {size:,} of the {len(rfm):,} customers "
                "only (`--pymc-customers`); nothing extrapolated",
            )
        pymc_notes.insert(0, f"pymc-marketing {pymc_version}")
        extra_rows = [
            ("aftersale fit only (pair with pymc-marketing)", pymc_pair.candidate, size),
            ("pymc-marketing MAP fit", pymc_pair.baseline, size),
        ]
    digest_after = source_digest(src)
    notes = [
        f"aftersale source digest {digest_before}"
        + ("" if digest_after == digest_before else f" — **source changed** (now {digest_after})"),
        f"input: `simulate_rfm({args.customers}, seed={args.seed})`: BG/NBD process r, α, a, b = "
        "0.243, 4.414, 0.793, 2.426 (weeks), T ~ U[1, 78]; Gamma-Gamma spends p, q, γ = 6.25, "
        f"3.74, 15.44; {repeaters:,} repeat buyers",
        "each run: fit BG/NBD on all customers + Gamma-Gamma on repeat buyers, then P(alive), "
        "expected purchases in 52 weeks and 12-month CLV (discount 0.01/month, weeks) for every "
        "customer; candidate `BetaGeoModel`/`GammaGammaModel`, baseline lifetimes "
        "`BetaGeoFitter`/`GammaGammaFitter`",
        f"candidate model used: {ours['model_used']}",
        *check,
        memory_line,
        *pymc_notes,
        *args.note,
    ]
    if not params_ok:
        notes.append("parameter target (1e-3 relative) **NOT met**")
    if not args.no_record:
        packages = (*KEY_PACKAGES, "scipy", "lifetimes")
        if has_pymc:
            packages = (*packages, "pymc-marketing", "pymc", "pytensor")
        section = results_markdown(
            pair,
            date=date,
            command=command,
            machine=machine_info(packages),
            notes=notes,
            extra_rows=extra_rows,
        )
        record_section(section, args.markdown_out)
    return pair


if __name__ == "__main__":
    main()
