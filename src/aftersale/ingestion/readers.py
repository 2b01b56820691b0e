"""Read source files into chunks of text columns, streaming, with exact 1-based row numbers.

Every reader yields :class:`RawChunk` frames whose columns are all strings (nothing is guessed
yet) plus ``_row``, the data row number in the file (the header is not counted). Parsing into
types happens in :mod:`aftersale.ingestion.normalise`, so every format is validated the same way.

CSV goes through Arrow's streaming reader (multi-threaded, bounded memory). A row with the
wrong number of fields would shift Arrow's numbering, so on the first such row the reader
switches, for the rest of that file only, to Python's exact ``csv`` module and reports every
malformed row by number.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import json
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from aftersale.errors import SchemaError, SourceReadError

__all__ = [
    "BadRecord",
    "FileInfo",
    "RawChunk",
    "detect_encoding",
    "expand_paths",
    "file_digest",
    "flat_text",
    "parquet_columns",
    "prefetch",
    "read_csv_chunks",
    "read_header",
    "read_jsonl_chunks",
    "read_parquet_chunks",
]

ROW = "_row"
T = TypeVar("T")
_SAMPLE_BYTES = 1 << 20
_BLOCK_BYTES = 16 << 20
csv.field_size_limit(min(sys.maxsize, 1 << 31 - 1))


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that could not even be split into fields (ragged CSV row, bad JSON line)."""

    row_number: int
    reason: str
    detail: str
    raw: str


@dataclass(slots=True)
class RawChunk:
    """Text columns of consecutive rows of one file, plus records that could not be split."""

    frame: pl.DataFrame
    bad: list[BadRecord] = field(default_factory=list)


@dataclass(slots=True)
class FileInfo:
    """What was learnt about a file while reading it (reported in the load report)."""

    path: str
    encoding: str = "utf-8"
    had_bom: bool = False
    bytes: int = 0
    sha256: str = ""
    columns: tuple[str, ...] = ()
    exact_reader: bool = False


def expand_paths(spec: str | Path, suffixes: tuple[str, ...] = ()) -> list[Path]:
    """Expand a file, a folder (its files, sorted) or a glob into a sorted list of files."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if suffixes:
            files = [p for p in files if p.name.lower().endswith(suffixes)]
    elif any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    else:
        if not path.exists():
            raise SourceReadError(f"{text}: no such file or folder", path=text)
        files = [path]
    if not files:
        raise SourceReadError(f"{text}: matched no files", path=text)
    return files


def file_digest(path: Path) -> tuple[str, int]:
    """Return the SHA-256 hex digest and size of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def detect_encoding(path: Path, forced: str | None = None) -> tuple[str, bool]:
    """Return ``(python_codec, had_bom)`` for a text file: BOMs first, then UTF-8, then a guess."""
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    if forced:
        try:
            codecs.lookup(forced)
        except LookupError as exc:
            raise SourceReadError(f"{path}: unknown encoding {forced!r}", path=str(path)) from exc
        return forced, sample.startswith(codecs.BOM_UTF8)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", True
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", True
    try:
        # A multi-byte character may be cut at the end of the sample; ignore the last bytes.
        sample[:-4].decode("utf-8") if len(sample) == _SAMPLE_BYTES else sample.decode("utf-8")
        return "utf-8", False
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample).best()
    if best is not None and _single_byte(best.encoding) and _decodes(sample, "cp1252"):
        # Guessing among single-byte code pages is unreliable on short samples; spreadsheet
        # exports from Western locales are cp1252 far more often than any other of them.
        return "cp1252", False
    if best is None:
        raise SourceReadError(
            f"{path}: cannot tell the text encoding; pass it in the mapping (encoding = ...)",
            path=str(path),
        )
    return codecs.lookup(best.encoding).name, False


def _single_byte(name: str) -> bool:
    folded = name.lower().replace("-", "_")
    return folded.startswith(("cp125", "windows_125", "latin", "iso8859", "cp850", "mac_"))


def _decodes(sample: bytes, codec: str) -> bool:
    try:
        sample.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _arrow_encoding(codec: str) -> str:
    return "utf8" if codec in ("utf-8", "utf-8-sig", "utf_8") else codec


def read_header(path: Path, encoding: str, delimiter: str = ",") -> tuple[str, ...]:
    """Return the header row of a CSV file; empty or duplicate names are a SchemaError."""
    try:
        with path.open("r", encoding=encoding, newline="") as fh:
            header = next(csv.reader(fh, delimiter=delimiter), None)
    except UnicodeDecodeError as exc:
        raise SourceReadError(
            f"{path}: not readable as {encoding} ({exc.reason}); pass the encoding in the mapping",
            path=str(path),
        ) from exc
    if not header:
        raise SchemaError(f"{path}: the file is empty (no header row)", path=str(path))
    names = tuple(h.strip().lstrip("\ufeff") for h in header)
    seen: set[str] = set()
    for name in names:
        key = name.lower()
        if key in seen:
            raise SchemaError(
                f"{path}: column {name!r} appears twice in the header", path=str(path), found=names
            )
        seen.add(key)
    return names


def _looks_multiline(path: Path, encoding: str) -> bool:
    with path.open("r", encoding=encoding, newline="", errors="replace") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    return re.search(r'"[^"\n]*\r?\n[^"]*"', sample) is not None


def read_csv_chunks(
    path: Path,
    info: FileInfo,
    chunk_rows: int,
    delimiter: str = ",",
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[RawChunk]:
    """Yield text chunks of a CSV file with exact row numbers (see module docstring)."""
    names = info.columns
    multiline = _looks_multiline(path, info.encoding)
    flagged: list[bool] = [False]

    def on_invalid(_row: Any) -> str:
        flagged[0] = True
        return "skip"

    read_opts = pacsv.ReadOptions(
        encoding=_arrow_encoding(info.encoding),
        column_names=list(names),
        skip_rows=1,
        block_size=_BLOCK_BYTES,
    )
    parse_opts = pacsv.ParseOptions(
        delimiter=delimiter, newlines_in_values=multiline, invalid_row_handler=on_invalid
    )
    convert_opts = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    done = 0
    pending: list[pl.DataFrame] = []
    pending_rows = 0

    def numbered(frame: pl.DataFrame) -> RawChunk:
        nonlocal done
        frame = frame.with_columns(
            pl.int_range(done + 1, done + 1 + frame.height, dtype=pl.Int64).alias(ROW)
        )
        done += frame.height
        return RawChunk(frame)

    try:
        reader = pacsv.open_csv(
            path, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts
        )
        for batch in reader:
            if flagged[0]:
                break
            whole = pl.from_arrow(batch)
            assert isinstance(whole, pl.DataFrame)
            if on_bytes is not None:
                on_bytes(batch.nbytes)
            # Batches end wherever a block ends: cut the stream into chunks of exactly
            # ``chunk_rows`` rows (rows carried over are numbered when they are yielded).
            pending.append(whole)
            pending_rows += whole.height
            while pending_rows >= chunk_rows:
                frame = pl.concat(pending) if len(pending) > 1 else pending[0]
                rest = frame.slice(chunk_rows)
                pending = [rest] if rest.height else []
                pending_rows = rest.height
                yield numbered(frame.slice(0, chunk_rows))
        if pending_rows and not flagged[0]:
            yield numbered(pl.concat(pending) if len(pending) > 1 else pending[0])
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "UTF8" in message or "utf8" in message.lower():
            raise SourceReadError(
                f"{path}: text is not valid {info.encoding} after row {done}; "
                'set encoding in the mapping (for example encoding = "cp1252")',
                path=str(path),
            ) from exc
        flagged[0] = True
    if flagged[0]:
        info.exact_reader = True
        yield from _exact_csv_chunks(path, info, chunk_rows, delimiter, skip=done)


def _exact_csv_chunks(
    path: Path, info: FileInfo, chunk_rows: int, delimiter: str, skip: int
) -> Iterator[RawChunk]:
    """The slow, exact path: Python's csv module from data row ``skip + 1`` on."""
    names = info.columns
    width = len(names)
    columns: list[list[str]] = [[] for _ in range(width)]
    rows: list[int] = []
    bad: list[BadRecord] = []

    def flush() -> RawChunk:
        data: dict[str, Any] = {
            n: pl.Series(n, columns[i], dtype=pl.String) for i, n in enumerate(names)
        }
        data[ROW] = pl.Series(ROW, rows, dtype=pl.Int64)
        chunk = RawChunk(pl.DataFrame(data), list(bad))
        for col in columns:
            col.clear()
        rows.clear()
        bad.clear()
        return chunk

    with path.open("r", encoding=info.encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        for number, record in enumerate(reader, start=1):
            if number <= skip:
                continue
            if len(record) != width:
                if not record:
                    continue
                bad.append(
                    BadRecord(
                        number,
                        "wrong_field_count",
                        f"expected {width} fields, found {len(record)}",
                        delimiter.join(record),
                    )
                )
                continue
            for i, value in enumerate(record):
                columns[i].append(value)
            rows.append(number)
            if len(rows) >= chunk_rows:
                yield flush()
        if rows or bad:
            yield flush()


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` while a background thread already produces the next ``depth`` of them.

    Parsing a file (Arrow, Parquet) releases the GIL, so the next chunk is read on the second
    core while the caller works on this one. Exceptions reach the caller in order; stopping
    early (an error in the caller) stops the producer after the item it is making.
    """
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((False, item)):
                    return
            put((True, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put((True, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="aftersale-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            finished, value = slots.get()
            if finished:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        worker.join()


def parquet_columns(path: Path) -> tuple[str, ...]:
    """Column names of a Parquet file; a file that is not Parquet is a SourceReadError."""
    try:
        return tuple(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceReadError(
            f"{path}: not a readable Parquet file ({exc})", path=str(path)
        ) from exc


def read_parquet_chunks(path: Path, info: FileInfo, chunk_rows: int) -> Iterator[RawChunk]:
    """Yield chunks of a Parquet file with every column cast to text."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceReadError(
            f"{path}: not a readable Parquet file ({exc})", path=str(path)
        ) from exc
    info.columns = tuple(parquet.schema_arrow.names)
    done = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        frame = frame.select(_as_text(frame, name) for name in frame.columns).with_columns(
            pl.int_range(done + 1, done + 1 + frame.height, dtype=pl.Int64).alias(ROW)
        )
        done += frame.height
        yield RawChunk(frame)


def _as_text(frame: pl.DataFrame, name: str) -> pl.Expr:
    dtype = frame.schema[name]
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        fmt = "%Y-%m-%dT%H:%M:%S%.f" + ("%:z" if dtype.time_zone else "")
        return col.dt.to_string(fmt).alias(name)
    if isinstance(dtype, (pl.List, pl.Struct, pl.Array)):
        return col.map_elements(
            lambda v: json.dumps(v.to_list() if hasattr(v, "to_list") else v, default=str),
            return_dtype=pl.String,
        ).alias(name)
    return col.cast(pl.String).alias(name)


def read_jsonl_chunks(
    path: Path,
    info: FileInfo,
    chunk_rows: int,
    flatten: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> Iterator[RawChunk]:
    """Yield chunks of a JSON-lines file: one object per line, malformed lines reported.

    ``flatten`` turns one parsed object into the flat text rows it carries (a Segment
    ``batch`` line carries many; they share the line's number); by default one row with
    nested values kept as JSON text.
    """
    shape = flatten or _flat_text
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    bad: list[BadRecord] = []
    seen_columns: dict[str, None] = {}

    def flush() -> RawChunk:
        names = list(seen_columns)
        data: dict[str, Any] = {
            n: pl.Series(n, [r.get(n) for r in records], dtype=pl.String) for n in names
        }
        data[ROW] = pl.Series(ROW, rows, dtype=pl.Int64)
        chunk = RawChunk(pl.DataFrame(data), list(bad))
        records.clear()
        rows.clear()
        bad.clear()
        return chunk

    with _open_text(path, info) as fh:
        for number, line in _numbered_lines(fh, path, info):
            text = line.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                bad.append(BadRecord(number, "malformed_json", f"not valid JSON: {exc.msg}", text))
                continue
            if not isinstance(obj, dict):
                bad.append(BadRecord(number, "malformed_json", "line is not a JSON object", text))
                continue
            try:
                flats = shape(obj)
            except ValueError as exc:
                bad.append(BadRecord(number, "invalid_record", str(exc), text))
                continue
            for flat in flats:
                for key in flat:
                    seen_columns.setdefault(key, None)
                records.append(flat)
                rows.append(number)
            if len(rows) >= chunk_rows:
                yield flush()
    info.columns = tuple(seen_columns)
    if rows or bad:
        yield flush()


def _numbered_lines(fh: IO[str], path: Path, info: FileInfo) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, line in enumerate(fh, start=1):
            yield number, line
    except UnicodeDecodeError as exc:
        raise SourceReadError(
            f"{path}: line {number + 1} is not valid {info.encoding} ({exc.reason}); "
            "set encoding in the mapping",
            path=str(path),
        ) from exc


def _open_text(path: Path, info: FileInfo) -> IO[str]:
    try:
        return path.open("r", encoding=info.encoding, newline="")
    except OSError as exc:
        raise SourceReadError(f"{path}: cannot open ({exc.strerror})", path=str(path)) from exc


def _flat_text(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [flat_text(obj)]


def flat_text(obj: dict[str, Any]) -> dict[str, Any]:
    """Flatten one JSON object to text values (nested values become JSON text)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None or isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            out[key] = repr(value) if isinstance(value, float) else str(value)
        else:
            out[key] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return out
