"""Rich renderings of library results for the terminal (no logic, only presentation)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from aftersale.ingestion.report import LoadReport
from aftersale.services.project import StatusReport

__all__ = ["load_report_table", "status_tables", "stored_table"]


def load_report_table(report: LoadReport) -> Group:
    """The load report as Rich tables: row buckets, per-table effects, notes."""
    files = ", ".join(f.path.rsplit("/", 1)[-1] for f in report.files)
    rows = Table(title=f"{files} → {report.kind}", title_justify="left")
    rows.add_column("rows", style="bold")
    rows.add_column("count", justify="right")
    for label, value in (
        ("read", report.rows_read),
        ("loaded (new)", report.rows_loaded),
        ("merged (changed)", report.rows_merged),
        ("unchanged", report.rows_unchanged),
        ("duplicates", report.rows_duplicate),
        ("quarantined", report.rows_quarantined),
    ):
        rows.add_row(label, f"{value:,}")
    for reason, n in sorted(report.quarantined.items()):
        rows.add_row(f"  quarantined: {reason}", f"{n:,}", style="yellow")
    parts: list[Table] = [rows]
    if report.tables:
        tables = Table(title="Effect on stored tables", title_justify="left")
        for col in ("table", "inserted", "updated", "unchanged"):
            tables.add_column(col, justify="left" if col == "table" else "right")
        for name, counts in report.tables.items():
            tables.add_row(
                name, f"{counts.inserted:,}", f"{counts.updated:,}", f"{counts.unchanged:,}"
            )
        parts.append(tables)
    notes = {k: v for k, v in report.notes.items() if v}
    if notes:
        table = Table(title="Handled on purpose", title_justify="left")
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, value in sorted(notes.items()):
            table.add_row(key.replace("_", " "), f"{value:,}")
        parts.append(table)
    return Group(*parts)


def stored_table(counts: dict[str, int], title: str = "Stored in the warehouse") -> Table:
    """Row counts per table."""
    table = Table(title=title, title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    return table


def status_tables(status: StatusReport) -> Group:
    """Status: where data lives, counts by table, recent loads."""
    head = Table.grid(padding=(0, 2))
    head.add_row("warehouse", status.warehouse)
    head.add_row("state", status.state)
    head.add_row("state schema", status.state_revision or "not initialised (run `aftersale init`)")
    parts: list[Table] = [head]
    if status.warehouse_counts:
        parts.append(stored_table(status.warehouse_counts))
    if status.state_counts:
        parts.append(stored_table(status.state_counts, "Stored in the state store"))
    if status.recent_loads:
        loads = Table(title="Recent loads", title_justify="left")
        numbers = ("read", "loaded", "merged", "unchanged", "dup.", "quar.")
        for col in ("started", "kind", "format", "status", *numbers):
            loads.add_column(col, justify="right" if col in numbers else "left")
        for run in status.recent_loads:
            unchanged = int((run.report or {}).get("rows_unchanged", 0))
            loads.add_row(
                run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                run.kind,
                run.source_format,
                run.status,
                *(
                    f"{n:,}"
                    for n in (
                        run.rows_read,
                        run.rows_loaded,
                        run.rows_merged,
                        unchanged,
                        run.rows_duplicate - unchanged,
                        run.rows_quarantined,
                    )
                ),
            )
        parts.append(loads)
    return Group(*parts)
