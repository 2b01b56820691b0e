"""Segmentation rules load from the packaged defaults and a project file; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftersale.errors import ConfigError
from aftersale.segments.config import load_segmentation


def test_defaults_load_and_fingerprint_is_stable() -> None:
    cfg = load_segmentation()
    assert cfg.lifecycle.lapsed_lateness >= cfg.lifecycle.at_risk_lateness
    assert {s.name for s in cfg.health.red} >= {"no_start", "refund_language", "angry_support"}
    assert cfg.fingerprint() == load_segmentation().fingerprint()


def test_project_file_overrides_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "segmentation.toml"
    path.write_text(
        '[signals]\nfirst_win = [{ event = "Lesson Completed", where = { lesson = "1" } }]\n'
        "[lifecycle]\nnew_days = 3\n",
        encoding="utf-8",
    )
    cfg = load_segmentation(path)
    assert cfg.lifecycle.new_days == 3
    assert cfg.lifecycle.onboarding_days == load_segmentation().lifecycle.onboarding_days
    assert cfg.signals.first_win[0].event == "Lesson Completed"
    assert cfg.fingerprint() != load_segmentation().fingerprint()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[slices.tier_weights]\nvip = { slice = "royalty", weight = 1 }\n', "slices.tier_weights"),
        ("[lifecycle]\nat_risk_lateness = 5\nlapsed_lateness = 2\n", "lifecycle"),
        (
            '[[health.red]]\nname = "x"\nwhen = [{ feature = "a", op = "~" }]\nreason = "r"\n',
            "health.red.0.when.0.op",
        ),
        ('[lexicons.tones]\nsarcasm = ["sure"]\n', "lexicons"),
        ("[persona]\nmin_points = 2\nunknown_key = 1\n", "persona.unknown_key"),
    ],
)
def test_bad_rules_name_the_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_segmentation(path)
    assert info.value.key is not None and info.value.key.startswith(key)
    assert str(path) in str(info.value)


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_segmentation(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[lifecycle\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_segmentation(bad)
