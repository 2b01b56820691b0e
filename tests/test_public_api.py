"""The public surface: sorted, complete, every name resolves."""

from __future__ import annotations

import aftersale


def test_all_is_sorted_and_resolves() -> None:
    assert aftersale.__all__ == sorted(aftersale.__all__)
    for name in aftersale.__all__:
        assert getattr(aftersale, name) is not None, name


def test_the_main_calls_are_exported() -> None:
    for name in (
        "ingest",
        "init_project",
        "project_status",
        "simulate_store",
        "load_settings",
        "quarantined_rows",
        "run_demo",
        "LoadReport",
        "FixedClock",
    ):
        assert name in aftersale.__all__


def test_public_functions_are_not_shadowed_by_subpackages() -> None:
    import aftersale.ingestion.readers

    assert callable(aftersale.ingest) and callable(aftersale.simulate_store)
