"""Write docs/FEATURES.md from the feature registry (a test checks it is up to date)."""

from __future__ import annotations

from pathlib import Path

from aftersale.features.definitions import standard_registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "FEATURES.md"

_SOURCES = {
    "orders": "purchases",
    "gaps": "gaps between purchases",
    "lines": "product lines",
    "events": "behaviour events",
    "texts": "customer text (classified)",
    "derived": "derived at as_of",
}

_INTRO = """\
# Features

Generated from `src/aftersale/features/definitions.py` by `uv run python scripts/features_doc.py`;
a test fails when the two disagree. How features are computed, stored and refreshed:
[SEGMENTS.md](SEGMENTS.md).

Every feature is computed **as of** a moment and reads only what was known before it: purchases
placed before `as_of` (an order cancelled or refunded later still counts as it stood then),
events that occurred before it. Events aftersale writes itself (source `aftersale`, e.g.
`Health Grade Changed`) are never customer behaviour. Windows ("last 30 days") end at `as_of`
and their lengths come from `[signals]` in the segmentation rules (defaults shown). Money is in
the orders' minor units (one store currency is assumed); times are UTC; durations are measured
in whole seconds so every backend gives the same numbers.

*Evidence* features are the per-slice counts behind the buyer slice; `aftersale profile --all`
shows them.
"""


def render() -> str:
    """Return the Markdown document."""
    registry = standard_registry()
    parts = [_INTRO, f"\n{len(registry)} features.\n"]
    for source, title in _SOURCES.items():
        features = registry.from_source(source)  # type: ignore[arg-type]
        if not features:
            continue
        parts.append(f"\n## From {title}\n\n")
        parts.append("| feature | type | unit | window | meaning |\n|---|---|---|---|---|\n")
        for f in features:
            evidence = " *(evidence)*" if f.evidence else ""
            parts.append(
                f"| `{f.name}` | {f.dtype} | {f.unit} | {f.window} | {f.description}{evidence} |\n"
            )
    return "".join(parts)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
