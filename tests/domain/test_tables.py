"""The canonical data model and its documentation stay in step."""

from __future__ import annotations

from pathlib import Path

from scripts.data_model_doc import render

from aftersale.domain.tables import CANONICAL_TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "DATA_MODEL.md"


def test_every_table_has_its_key_as_a_required_column() -> None:
    for table in CANONICAL_TABLES.values():
        assert table.column(table.key).nullable is False, table.name
        assert len(set(table.column_names)) == len(table.column_names)
        assert {"source", "loaded_at"} <= set(table.column_names)


def test_money_columns_are_integer_minor_units() -> None:
    for table in CANONICAL_TABLES.values():
        for column in table.columns:
            if column.name.endswith("_minor"):
                assert column.type == "int64", (table.name, column.name)


def test_data_model_doc_is_generated_from_the_model() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "run: uv run python scripts/data_model_doc.py"
    )
