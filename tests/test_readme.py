"""The README's two commands exist and its Python example runs as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_opens_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert first_block.strip().splitlines()[0].startswith("make demo")
    assert first_block.strip().splitlines()[1].startswith("make test")
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (README.parent / ".ci" / "run").read_text(encoding="utf-8")


def test_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    blocks = [part.split("```", 1)[0] for part in text.split("```python")[1:]]
    code = "\n".join(blocks)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AFTERSALE_CONFIG", raising=False)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    report = namespace["report"]
    assert report.balanced() and report.rows_loaded > 0  # type: ignore[attr-defined]
    assert (tmp_path / "myshop" / "aftersale.duckdb").is_file()
    assert os.listdir(tmp_path / "invoices")
    assert len(namespace["rules"].rules_) > 0  # type: ignore[attr-defined]
    assert float(namespace["clv"].min()) >= 0  # type: ignore[attr-defined]
    result = namespace["result"]
    assert result.customers > 1000  # type: ignore[attr-defined]
    assert sum(result.sizes["health_grade"].values()) == result.customers  # type: ignore[attr-defined]
    assert namespace["buyer"].explanation.reasons["health_grade"]  # type: ignore[attr-defined]
    decided = namespace["decided"]
    assert decided.new_decisions == sum(  # type: ignore[attr-defined]
        decided.counts[k]
        for k in ("send", "defer", "suppress")  # type: ignore[attr-defined]
    )
