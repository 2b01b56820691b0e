"""Hypothesis properties of every purchase-count model over wide parameter and data ranges."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersale.models import (
    BetaGeoModel,
    ModelWarning,
    ModifiedBetaGeoModel,
    NBDModel,
    ParetoNBDModel,
    RfmHeuristicModel,
)

MODELS: list[type[Any]] = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, NBDModel]
SETTINGS = settings(max_examples=100, deadline=None)

positive = st.floats(min_value=np.log(0.05), max_value=np.log(50.0)).map(np.exp)


@st.composite
def models(draw: st.DrawFn) -> Any:
    """A count model (or the heuristic) with parameters drawn log-uniformly in [0.05, 50]."""
    cls = draw(st.sampled_from([*MODELS, RfmHeuristicModel]))
    if cls is RfmHeuristicModel:
        return RfmHeuristicModel.from_params(mean_gap=draw(positive), pooled_rate=draw(positive))
    return cls.from_params(**{name: draw(positive) for name in cls._param_names})


@st.composite
def histories(draw: st.DrawFn) -> tuple[float, float, float]:
    """A valid (frequency, recency, T): x repeat purchases, last at t_x <= T."""
    age = draw(st.floats(min_value=0.01, max_value=500.0))
    x = draw(st.integers(min_value=0, max_value=300))
    t_x = 0.0 if x == 0 else draw(st.floats(min_value=1e-3, max_value=1.0)) * age
    return float(x), t_x, age


@SETTINGS
@given(model=models(), history=histories())
def test_probability_alive_is_a_probability(
    model: Any, history: tuple[float, float, float]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)  # no value may need replacing
        alive = model.probability_alive(*history)
    assert np.isfinite(alive[0]) and 0.0 <= alive[0] <= 1.0


@SETTINGS
@given(
    model=models(),
    history=histories(),
    earlier=st.floats(min_value=0.0, max_value=1.0),
)
def test_probability_alive_increases_with_recency(
    model: Any, history: tuple[float, float, float], earlier: float
) -> None:
    x, t_x, age = history
    if x == 0:
        x, t_x = 1.0, age
    before = model.probability_alive(x, t_x * earlier, age)[0] if t_x * earlier > 0 else None
    after = model.probability_alive(x, t_x, age)[0]
    if before is not None:
        assert after >= before - 1e-12


@SETTINGS
@given(
    model=models(),
    history=histories(),
    horizons=st.lists(st.floats(min_value=0.0, max_value=1000.0), min_size=2, max_size=6),
)
def test_expected_purchases_are_non_negative_and_grow_with_t(
    model: Any, history: tuple[float, float, float], horizons: list[float]
) -> None:
    t = np.sort(np.asarray(horizons))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        conditional = model.expected_purchases(t, *history)
        population = model.expected_purchases_unconditional(t)
    for values in (conditional, population):
        assert np.all(np.isfinite(values)) and np.all(values >= 0)
        assert np.all(np.diff(values) >= -1e-9 * np.maximum(1.0, values[1:]))


@SETTINGS
@given(
    model=models(),
    t=st.floats(min_value=0.0, max_value=200.0),
    n=st.integers(min_value=0, max_value=60),
)
def test_probability_of_n_purchases_is_a_probability(model: Any, t: float, n: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        pmf = model.probability_of_n_purchases(t, n)
    assert np.isfinite(pmf[0]) and 0.0 <= pmf[0] <= 1.0
