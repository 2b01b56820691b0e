"""Streaming file sinks: CSV, parquet and JSON lines written shard by shard, rows counted."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["CsvSink", "JsonlSink", "ParquetSink", "Sink"]


class Sink(Protocol):
    """Something rows are written to, in order, then closed."""

    path: Path
    rows: int

    def close(self) -> None:
        """Finish the file."""
        ...


class CsvSink:
    """A CSV file with one header, rows appended table by table (Arrow quoting rules)."""

    def __init__(self, path: Path, schema: pa.Schema | None = None) -> None:
        """Open lazily; ``schema`` lets an empty file still get its header."""
        self.path = path
        self.rows = 0
        self._schema = schema
        self._writer: pacsv.CSVWriter | None = None

    def write(self, table: pa.Table) -> None:
        """Append the rows of ``table``."""
        if self._writer is None:
            self._schema = self._schema or table.schema
            self._writer = pacsv.CSVWriter(str(self.path), self._schema)
        self._writer.write_table(table.cast(self._schema))
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (header only if nothing was written)."""
        if self._writer is None:
            if self._schema is None:
                raise ValueError(f"nothing written to {self.path} and no schema to write a header")
            self._writer = pacsv.CSVWriter(str(self.path), self._schema)
        self._writer.close()


class ParquetSink:
    """A parquet file; tables are buffered and written as one row group per :meth:`flush`."""

    def __init__(self, path: Path) -> None:
        """Open lazily on the first flush that has rows."""
        self.path = path
        self.rows = 0
        self._buffer: list[pa.Table] = []
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        """Buffer ``table`` until the next flush."""
        self._schema = self._schema or table.schema
        self._buffer.append(table.cast(self._schema))
        self.rows += table.num_rows

    def flush(self) -> None:
        """Write buffered rows as one row group."""
        if not self._buffer:
            return
        assert self._schema is not None
        table = pa.concat_tables(self._buffer)
        self._buffer = []
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.path), self._schema, compression="zstd")
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> None:
        """Flush and finish the file."""
        self.flush()
        if self._writer is None:
            if self._schema is None:
                raise ValueError(f"nothing written to {self.path}")
            self._writer = pq.ParquetWriter(str(self.path), self._schema, compression="zstd")
        self._writer.close()


class JsonlSink:
    """A JSON-lines file fed with Arrow string arrays whose values end in a newline."""

    def __init__(self, path: Path) -> None:
        """Create (truncate) the file."""
        self.path = path
        self.rows = 0
        self._file: BinaryIO = path.open("wb")

    def write(self, lines: pa.Array) -> None:
        """Append the bytes of ``lines`` without converting them to Python strings."""
        if len(lines) == 0:
            return
        arr = lines.cast(pa.string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
            arr.offset : arr.offset + len(arr) + 1
        ]
        data = arr.buffers()[2]
        self._file.write(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
        self.rows += len(arr)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> JsonlSink:
        """Use as a context manager."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on exit."""
        self.close()
