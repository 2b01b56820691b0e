"""The mutable state of one load while its files are read, staged and settled."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aftersale.ingestion import segment
from aftersale.ingestion.lines import LineRules
from aftersale.ingestion.normalise import ParseOptions
from aftersale.ingestion.report import LoadReport
from aftersale.ingestion.rollup import Rollup
from aftersale.ingestion.sequence import LineSequencer

__all__ = ["MESSAGE", "PRIMARY_KEY", "PRIMARY_TABLE", "Load"]

MESSAGE = segment.MESSAGE


PRIMARY_KEY = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "events": "message_id",
    "consents": "consent_key",
}


PRIMARY_TABLE = {
    "customers": "customers",
    "products": "products",
    "orders": "orders",
    "order-lines": "order_lines",
    "events": "events",
    "consents": "consents",
}


@dataclass(slots=True)
class Load:
    """Mutable state of one load while its files are read."""

    kind: str
    mode: str  # "rows" or "lines" (line-level orders: invoice-style and Shopify)
    load_id: str
    source: str
    report: LoadReport
    options: ParseOptions
    rules: LineRules
    staged: Counter[str] = field(default_factory=Counter)
    sequencer: LineSequencer | None = None
    rollup: Rollup | None = None
