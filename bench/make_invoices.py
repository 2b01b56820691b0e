"""Write a synthetic invoice export shaped like the UCI Online Retail data set.

Columns ``InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country``
with ``InvoiceDate`` as ``m/d/Y H:M`` (no zero padding, as Excel exports it); about 4 lines per
invoice, ~5% guest rows (blank CustomerID), ~2% cancellations (``C`` + number, negative
quantities), ~1% exact duplicate rows, some non-product codes (POST, D, M, DOT, C2, BANK
CHARGES, AMAZONFEE), stray whitespace and a few zero prices.

Vectorised with numpy + pyarrow and written in blocks, so 10 million lines take seconds, not
minutes; the output depends only on ``--lines``, ``--seed`` and ``--block-lines``.

    uv run python bench/make_invoices.py --lines 1000000
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["HEADER", "default_path", "ensure_invoices", "write_invoices"]

OUT = Path(__file__).resolve().parent / "out"
HEADER = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
BLOCK_LINES = 1_000_000
FIRST_INVOICE = 536_365
FIRST_DAY = np.datetime64("2010-12-01", "D")
INVOICES_PER_DAY = 2_000
_WORD_TEXT = (
    "WHITE HANGING HEART T-LIGHT HOLDER METAL LANTERN CREAM CUPID HEARTS COAT HANGER KNITTED UNION "
    "FLAG HOT WATER BOTTLE RED WOOLLY HOTTIE SET OF 7 BABUSHKA NESTING BOXES GLASS STAR FROSTED "
    "HAND WARMER BIRD ORNAMENT POPPY'S PLAYHOUSE BEDROOM KITCHEN ALARM CLOCK BAKELIKE PINK GREEN "
    "IVORY PANDA AND BUNNIES STICKER SHEET STARS GIFT TAPE VINTAGE BILLBOARD LOVE/HATE MUG "
    "JUMBO BAG RETROSPOT LUNCH BOX PAPER CHAIN KIT 50'S CHRISTMAS REGENCY CAKESTAND 3 TIER "
    "PARTY BUNTING ASSORTED COLOUR LIGHTS DOORMAT NEW ENGLAND SPACEBOY CHILDRENS CUP TEA TOWEL"
)
_WORDS = tuple(_WORD_TEXT.split())
_COUNTRIES = (
    "United Kingdom",
    "Germany",
    "France",
    "EIRE",
    "Spain",
    "Netherlands",
    "Belgium",
    "Switzerland",
    "Portugal",
    "Australia",
    "Norway",
    "Italy",
    "Channel Islands",
    "Finland",
    "Cyprus",
    "Sweden",
    "Austria",
    "Denmark",
    "Japan",
    "Poland",
    "USA",
    "Israel",
    "Hong Kong",
    "Singapore",
    "Unspecified",
    "Iceland",
    "Canada",
    "Greece",
    "Malta",
    "United Arab Emirates",
    "European Community",
    "RSA",
    "Lebanon",
    "Lithuania",
    "Brazil",
    "Czech Republic",
    "Bahrain",
    "Saudi Arabia",
)
# Non-product lines: code, description, share of lines.
_SPECIAL = (
    ("POST", "POSTAGE", 0.0030),
    ("D", "Discount", 0.0006),
    ("M", "Manual", 0.0008),
    ("DOT", "DOTCOM POSTAGE", 0.0004),
    ("C2", "CARRIAGE", 0.0002),
    ("BANK CHARGES", "Bank Charges", 0.0001),
    ("AMAZONFEE", "AMAZON FEE", 0.0001),
)
_QUANTITIES = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24, 48, 96])
_QTY_WEIGHTS = np.array([30, 18, 8, 6, 10, 4, 5, 12, 5, 1.5, 0.5])


@dataclass(frozen=True, slots=True)
class _Catalog:
    """Stock codes with their (exported) descriptions and price strings."""

    codes: pa.Array
    names: pa.Array
    quoted: np.ndarray  # names that need CSV quotes (they hold a comma)
    prices: pa.Array
    weights: np.ndarray


def default_path(lines: int, seed: int) -> Path:
    """Where a file of ``lines`` lines for ``seed`` is cached under ``bench/out``."""
    return OUT / f"invoices_{lines}_s{seed}.csv"


def _price_text(pence: int) -> str:
    pounds, rest = divmod(pence, 100)
    return f"{pounds}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(pounds)


def _catalog(rng: np.random.Generator, size: int = 4_000) -> _Catalog:
    numbers = rng.choice(np.arange(10_000, 90_000), size=size, replace=False)
    suffix = rng.random(size) < 0.2
    letters = rng.choice(list("ABCDEFGLPSW"), size=size)
    codes = [f"{n}{c}" if s else str(n) for n, c, s in zip(numbers, letters, suffix, strict=True)]
    names = []
    for _ in range(size):
        words = rng.choice(_WORDS, size=int(rng.integers(2, 6)))
        name = " ".join(words)
        if rng.random() < 0.03:
            name = name.replace(" ", ", ", 1)  # needs quoting
        if rng.random() < 0.10:
            name += " "  # UCI descriptions often carry a trailing blank
        names.append(name)
    pence = np.round(np.exp(rng.normal(5.3, 0.9, size))).astype(np.int64).clip(10, 50_000)
    weights = 1.0 / np.arange(1, size + 1) ** 0.8
    for code, name, _share in _SPECIAL:
        codes.append(code)
        names.append(name)
    pence = np.concatenate([pence, np.full(len(_SPECIAL), 0, dtype=np.int64)])
    prices = [_price_text(int(p)) for p in pence[:size]] + ["18", "0", "0", "0", "0", "0", "0"]
    special_prices = {
        "POST": "18",
        "D": "27.5",
        "M": "2.55",
        "DOT": "16.98",
        "C2": "50",
        "BANK CHARGES": "15",
        "AMAZONFEE": "13.76",
    }
    for i, (code, _name, _share) in enumerate(_SPECIAL):
        prices[size + i] = special_prices[code]
    quoted = np.array(["," in n or '"' in n for n in names])
    return _Catalog(
        pa.array(codes),
        pa.array([n.replace('"', '""') for n in names]),
        quoted,
        pa.array(prices),
        weights / weights.sum(),
    )


def _digits(values: np.ndarray, width: int = 0) -> pa.Array:
    """Small non-negative integers as text (zero-padded to ``width``)."""
    top = int(values.max()) + 1 if len(values) else 1
    table = pa.array([str(i).zfill(width) for i in range(top)])
    return table.take(pa.array(values))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _block(
    rng: np.random.Generator,
    cat: _Catalog,
    n_lines: int,
    first_invoice: int,
    customers: np.ndarray,
    countries: np.ndarray,
) -> tuple[bytes, int]:
    """One block of about ``n_lines`` CSV lines (whole invoices); return bytes and invoices."""
    sizes = 1 + rng.poisson(3.0, size=n_lines // 3 + 16)
    ends = np.cumsum(sizes)
    n_inv = int(np.searchsorted(ends, n_lines)) + 1
    sizes = sizes[:n_inv]
    inv_index = np.arange(first_invoice, first_invoice + n_inv)
    number = FIRST_INVOICE + inv_index
    cancelled = rng.random(n_inv) < 0.02
    inv_no = _digits_big(number)
    inv_no = pc.if_else(pa.array(cancelled), _join("C", inv_no), inv_no)
    # Time: INVOICES_PER_DAY invoices a day between 08:00 and 18:00, in file order.
    day = FIRST_DAY + (inv_index // INVOICES_PER_DAY).astype("timedelta64[D]")
    minute = 8 * 60 + (inv_index % INVOICES_PER_DAY) * 600 // INVOICES_PER_DAY
    month_start = day.astype("datetime64[M]")
    year = month_start.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    dom = (day - month_start).astype(np.int64) + 1
    stamp = _join(
        _digits(month),
        "/",
        _digits(dom),
        "/",
        _digits(year),
        " ",
        _digits(minute // 60),
        ":",
        _digits(minute % 60, 2),
    )
    guest = rng.random(n_inv) < 0.05
    who = rng.integers(0, len(customers), size=n_inv)
    cust = pa.array(np.where(guest, "", customers[who]))
    country = pa.array(np.where(guest, rng.choice(countries, size=n_inv), countries[who]))

    line_inv = np.repeat(np.arange(n_inv), sizes)
    n = len(line_inv)
    n_products = len(cat.weights)
    item = rng.choice(n_products, size=n, p=cat.weights)
    special = rng.random(n)
    edge = 0.0
    for i, (_code, _name, share) in enumerate(_SPECIAL):
        item[(special >= edge) & (special < edge + share)] = n_products + i
        edge += share
    qty = rng.choice(_QUANTITIES, size=n, p=_QTY_WEIGHTS / _QTY_WEIGHTS.sum())
    qty[item >= n_products] = 1
    qty[item == n_products + 1] = -1  # "D" discount lines
    qty = np.where(cancelled[line_inv], -np.abs(qty), qty)
    qty_text = pc.cast(pa.array(qty), pa.string())
    price = cat.prices.take(pa.array(item))
    price = pc.if_else(pa.array(rng.random(n) < 0.001), "0", price)
    name = cat.names.take(pa.array(item))
    name = pc.if_else(pa.array(rng.random(n) < 0.005), _join(" ", name), name)
    name = pc.if_else(pa.array(cat.quoted[item]), _join('"', name, '"'), name)
    line_cust = cust.take(pa.array(line_inv))
    line_cust = pc.if_else(pa.array(rng.random(n) < 0.002), _join(line_cust, " "), line_cust)
    take = pa.array(line_inv)
    lines = _join(
        inv_no.take(take),
        ",",
        cat.codes.take(pa.array(item)),
        ",",
        name,
        ",",
        qty_text,
        ",",
        stamp.take(take),
        ",",
        price,
        ",",
        line_cust,
        ",",
        country.take(take),
        "\n",
    )
    # ~1% exact duplicates, written right after the original (as the UCI data has them).
    repeat = 1 + (rng.random(n) < 0.01).astype(np.int64)
    lines = lines.take(pa.array(np.repeat(np.arange(n), repeat)))
    return _text(lines), n_inv


def _digits_big(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _text(lines: pa.Array) -> bytes:
    """The concatenated UTF-8 bytes of a string array (its value buffer, no copy per line)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    start = lines.offset
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[start : start + len(lines) + 1]
    data = lines.buffers()[2]
    return data.to_pybytes()[offsets[0] : offsets[-1]] if data is not None else b""


def _count_lines(data: bytes, want: int) -> tuple[bytes, int]:
    """Cut ``data`` after at most ``want`` lines; return the bytes and the lines kept."""
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if len(ends) <= want:
        return data, len(ends)
    return data[: int(ends[want - 1]) + 1], want


def write_invoices(path: Path, lines: int, seed: int = 42, block_lines: int = BLOCK_LINES) -> Path:
    """Write ``lines`` data lines (plus a header) to ``path``; deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    cat = _catalog(rng)
    n_customers = max(100, lines // 100)
    customers = np.array([str(12_346 + i) for i in range(n_customers)])
    share_uk = 0.85
    other = rng.choice(np.array(_COUNTRIES[1:]), size=n_customers)
    countries = np.where(rng.random(n_customers) < share_uk, _COUNTRIES[0], other)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    written = 0
    invoices = 0
    with tmp.open("wb") as fh:
        fh.write((",".join(HEADER) + "\n").encode())
        while written < lines:
            data, n_inv = _block(
                rng, cat, min(block_lines, lines - written), invoices, customers, countries
            )
            data, kept = _count_lines(data, lines - written)
            fh.write(data)
            written += kept
            invoices += n_inv
    tmp.replace(path)
    return path


def ensure_invoices(lines: int, seed: int = 42, path: Path | None = None) -> Path:
    """Return the cached file for ``lines``/``seed``, writing it first when missing."""
    target = path or default_path(lines, seed)
    if not target.exists():
        write_invoices(target, lines, seed)
    return target


def main(argv: list[str] | None = None) -> None:
    """Command line: write one file and say how long it took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000, help="data lines (default 10M)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--block-lines", type=int, default=BLOCK_LINES)
    parser.add_argument("--out", type=Path, default=None, help="file (default bench/out/...)")
    args = parser.parse_args(argv)
    target = args.out or default_path(args.lines, args.seed)
    start = time.perf_counter()
    write_invoices(target, args.lines, args.seed, args.block_lines)
    took = time.perf_counter() - start
    size = target.stat().st_size
    print(f"wrote {args.lines:,} lines ({size / 1e6:,.1f} MB) to {target} in {took:.1f} s")


if __name__ == "__main__":
    main()
