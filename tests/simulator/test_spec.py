"""SimulationSpec: validation names the field, values normalise, JSON round trip."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aftersale.errors import InvalidInputError
from aftersale.simulator import SimulationSpec


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"customers": 0}, "customers"),
        ({"days": 0}, "days"),
        ({"seed": -1}, "seed"),
        ({"r": 0.0}, "r must"),
        ({"alpha": -1.0}, "alpha"),
        ({"a": float("nan")}, "a must"),
        ({"b": 0}, "b must"),
        ({"currencies": ("XXX",)}, "currencies"),
        ({"currencies": ()}, "currencies"),
        ({"categories": 11}, "categories"),
        ({"products": 5}, "products"),
        ({"slice_weights": (1.0, 1.0)}, "slice_weights"),
        ({"block_size": 1500}, "block_size"),
        ({"formats": frozenset({"xml"})}, "formats"),
        ({"export_share": 1.5}, "export_share"),
        ({"store_time_zone": "Mars/Olympus"}, "store_time_zone"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_bad_values_raise_invalid_input_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=field):
        SimulationSpec(**kwargs)  # type: ignore[arg-type]


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(InvalidInputError) as info:
        SimulationSpec(customers=0, days=0)
    assert "customers" in str(info.value)
    assert "days" in str(info.value)


@pytest.mark.parametrize(
    "start",
    ["2025-01-01", date(2025, 1, 1), datetime(2025, 1, 1), "2025-01-01T01:00:00+01:00"],
)
def test_start_normalises_to_utc(start: object) -> None:
    spec = SimulationSpec(start=start)  # type: ignore[arg-type]
    assert spec.start_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert spec.start_epoch == 1_735_689_600


def test_round_trip_through_dict() -> None:
    spec = SimulationSpec(customers=7, seed=3, currencies=("jpy", "eur"), formats={"csv"})
    assert spec.currencies == ("JPY", "EUR")
    again = SimulationSpec.from_dict(spec.to_dict())
    assert again == spec


def test_derived_values() -> None:
    spec = SimulationSpec(customers=30_000, r=1.0, alpha=4.0, a=1.0, b=3.0)
    assert spec.mean_lambda == 0.25
    assert spec.mean_p == 0.25
    assert spec.export_customers == 6_000
    assert SimulationSpec(customers=10).export_customers == 10
    assert SimulationSpec(customers=10, export_share=0.25).export_customers == 3
