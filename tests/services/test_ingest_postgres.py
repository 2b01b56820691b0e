"""The same ingestion with the state store on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from aftersale.services.ingest import ingest
from aftersale.store.state import StateStore
from tests.factories import make_settings, write_csv
from tests.pg import create_database, drop_database

pytestmark = pytest.mark.postgres


def test_ingest_records_loads_and_consents_in_postgres(tmp_path: Path, pg_url: str) -> None:
    name = f"ingest_{uuid4().hex[:8]}"
    url = create_database(pg_url, name)
    try:
        settings = make_settings(tmp_path / "p", state_url=url)
        path = write_csv(
            tmp_path / "consents.csv",
            ("customer_id", "channel", "status", "recorded_at"),
            [
                ("c1", "email", "opt_in", "2025-01-01T00:00:00Z"),
                ("c1", "email", "opt_out", "2025-03-01T00:00:00Z"),
                ("c2", "sms", "yes", "2025-01-01 08:00:00+01:00"),
                ("c3", "sms", "maybe", "2025-01-01T00:00:00Z"),
            ],
        )
        first = ingest("consents", path, settings=settings)
        second = ingest("consents", path, settings=settings)
        assert (first.rows_loaded, first.rows_quarantined) == (3, 1)
        assert (
            second.rows_loaded,
            second.rows_unchanged,
            second.notes["consent_ledger_inserted"],
        ) == (0, 3, 0)
        with StateStore.from_url(url) as state:
            assert state.dialect == "postgresql"
            assert state.current_consent("c1", "email", "marketing") == "opt_out"
            assert state.current_consent("c2", "sms", "marketing") == "opt_in"
            loads = state.loads()
            assert [run.status for run in loads] == ["succeeded", "succeeded"]
            assert loads[0].rows_read == 4 and loads[1].rows_loaded == 3
            assert loads[0].report is not None and loads[0].report["balanced"] is True
            assert len(state.files(loads[0].load_id)) == 1
    finally:
        drop_database(url)


def test_invoice_export_loads_the_same_with_postgres_state(tmp_path: Path, pg_url: str) -> None:
    from tests.services.test_ingest import invoice_file, invoice_mapping

    name = f"invoice_{uuid4().hex[:8]}"
    url = create_database(pg_url, name)
    try:
        on_pg = ingest(
            "orders",
            invoice_file(tmp_path),
            mapping=invoice_mapping(tmp_path),
            settings=make_settings(tmp_path / "pg", state_url=url),
        )
        on_sqlite = ingest(
            "orders",
            invoice_file(tmp_path),
            mapping=invoice_mapping(tmp_path),
            settings=make_settings(tmp_path / "sqlite"),
        )
        same = ("rows_read", "rows_loaded", "rows_merged", "rows_unchanged", "rows_duplicate")
        assert [getattr(on_pg, f) for f in same] == [getattr(on_sqlite, f) for f in same]
        assert on_pg.quarantined == on_sqlite.quarantined and on_pg.notes == on_sqlite.notes
        with StateStore.from_url(url) as state:
            run = state.last_load()
            assert run is not None and run.status == "succeeded" and run.rows_quarantined == 3
    finally:
        drop_database(url)
