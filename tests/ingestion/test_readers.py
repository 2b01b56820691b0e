"""Readers: encodings, BOMs, ragged rows with exact row numbers, JSON lines, path expansion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersale.errors import SchemaError, SourceReadError
from aftersale.ingestion import readers
from aftersale.ingestion.readers import (
    ROW,
    FileInfo,
    detect_encoding,
    expand_paths,
    prefetch,
    read_csv_chunks,
    read_header,
    read_jsonl_chunks,
)


def _read_all(path: Path, chunk_rows: int = 1000) -> tuple[list[tuple[int, str]], list[int]]:
    encoding, _ = detect_encoding(path)
    info = FileInfo(str(path), encoding=encoding, columns=read_header(path, encoding))
    good: list[tuple[int, str]] = []
    bad: list[int] = []
    for chunk in read_csv_chunks(path, info, chunk_rows):
        good += list(zip(chunk.frame[ROW].to_list(), chunk.frame["a"].to_list(), strict=True))
        bad += [b.row_number for b in chunk.bad]
    return good, bad


def test_bom_and_utf16_are_detected(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    assert detect_encoding(p) == ("utf-8-sig", True)
    assert read_header(p, "utf-8-sig") == ("a", "b")
    q = tmp_path / "u16.csv"
    q.write_bytes("a,b\n1,2\n".encode("utf-16"))
    assert detect_encoding(q) == ("utf-16", True)


def test_quoted_newlines_stay_in_one_row(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text('a,b\n1,"two\nlines"\n3,x\n', encoding="utf-8")
    good, bad = _read_all(p)
    assert good == [(1, "1"), (2, "3")] and bad == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(5, 60),
    ragged=st.sets(st.integers(1, 60), max_size=5),
    chunk=st.sampled_from([2, 7, 1000]),
)
def test_ragged_rows_are_reported_with_exact_numbers(
    tmp_path: Path, rows: int, ragged: set[int], chunk: int
) -> None:
    ragged = {r for r in ragged if r <= rows}
    lines = ["a,b"] + [f"{i},x,extra" if i in ragged else f"{i},x" for i in range(1, rows + 1)]
    p = tmp_path / f"r{rows}-{chunk}-{len(ragged)}.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good, bad = _read_all(p, chunk)
    assert sorted(bad) == sorted(ragged)
    assert good == [(i, str(i)) for i in range(1, rows + 1) if i not in ragged]


def test_invalid_bytes_later_in_a_utf8_file_name_the_encoding(tmp_path: Path) -> None:
    p = tmp_path / "late.csv"
    head = "a,b\n" + "".join(f"{i},ok\n" for i in range(1, 200_000))
    p.write_bytes(head.encode() + b"999999,caf\xe9\n")
    encoding, _ = detect_encoding(p)
    info = FileInfo(str(p), encoding=encoding, columns=read_header(p, encoding))
    with pytest.raises(SourceReadError, match="encoding"):
        for _ in read_csv_chunks(p, info, 10_000):
            pass


def test_header_problems_are_schema_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(SchemaError, match="empty"):
        read_header(empty, "utf-8")
    dup = tmp_path / "dup.csv"
    dup.write_text("a,A\n1,2\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="appears twice"):
        read_header(dup, "utf-8")


def test_jsonl_reports_malformed_lines_by_number(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_text('{"a": 1}\n\n{"a": \n[1, 2]\n{"a": {"b": [1]}, "c": true}\n', encoding="utf-8")
    chunks = list(read_jsonl_chunks(p, FileInfo(str(p)), 100))
    frame = chunks[0].frame
    assert frame[ROW].to_list() == [1, 5]
    assert frame["a"].to_list() == ["1", '{"b":[1]}'] and frame["c"].to_list() == [None, "true"]
    assert [(b.row_number, b.reason) for b in chunks[0].bad] == [
        (3, "malformed_json"),
        (4, "malformed_json"),
    ]


def test_paths_expand_from_folder_and_glob(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv", ".hidden.csv"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    assert [p.name for p in expand_paths(tmp_path)] == ["a.csv", "b.csv"]
    assert [p.name for p in expand_paths(str(tmp_path / "*.csv"))] == ["a.csv", "b.csv"]
    with pytest.raises(SourceReadError, match="no such file"):
        expand_paths(tmp_path / "missing.csv")
    with pytest.raises(SourceReadError, match="matched no files"):
        expand_paths(str(tmp_path / "*.parquet"))


def test_csv_chunks_have_exactly_chunk_rows_across_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "_BLOCK_BYTES", 4096)  # many Arrow blocks of odd row counts
    p = tmp_path / "many.csv"
    p.write_text("a,b\n" + "".join(f"v{i},{i * 7}\n" for i in range(5000)), encoding="utf-8")
    info = FileInfo(str(p), columns=("a", "b"))
    chunks = list(read_csv_chunks(p, info, 1000))
    assert [c.frame.height for c in chunks] == [1000] * 5
    numbers = [n for c in chunks for n in c.frame[ROW].to_list()]
    assert numbers == list(range(1, 5001))
    assert [v for c in chunks for v in c.frame["a"].to_list()] == [f"v{i}" for i in range(5000)]
    # A ragged row late in the file: rows before it keep their chunks, the rest is exact.
    with p.open("a", encoding="utf-8") as fh:
        fh.write("x,1,extra\ny,2\n")
    good, bad = _read_all(p, chunk_rows=1000)
    assert [n for n, _ in good] == [*range(1, 5001), 5002] and bad == [5001]


def test_prefetch_keeps_order_and_passes_errors_on() -> None:
    def numbers() -> Iterator[int]:
        yield from range(5)
        raise ValueError("broken at 5")

    stream = prefetch(numbers())
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="broken at 5"):
        next(stream)


def test_prefetch_stops_the_producer_when_the_consumer_stops() -> None:
    produced: list[int] = []
    closed: list[bool] = []

    def numbers() -> Iterator[int]:
        try:
            for n in range(1000):
                produced.append(n)
                yield n
        finally:
            closed.append(True)

    stream = prefetch(numbers(), depth=1)
    assert next(stream) == 0
    stream.close()  # the consumer gives up (an error while staging, say)
    assert closed == [True] and len(produced) <= 4
