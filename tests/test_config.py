"""Settings: file discovery, environment overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftersale.config import find_config_file, load_settings
from aftersale.errors import ConfigError


def test_defaults_resolve_paths_against_the_working_folder(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path)
    assert settings.config_path is None
    assert settings.warehouse.path == tmp_path / "aftersale.duckdb"
    assert settings.state.url.get_secret_value() == f"sqlite:///{tmp_path / 'aftersale.sqlite'}"


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "aftersale.toml").write_text(
        '[warehouse]\npath = "data/w.duckdb"\n'
        '[ingest]\nchunk_rows = 5000\ndefault_currency = "JPY"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AFTERSALE_INGEST__CHUNK_ROWS", "7000")
    settings = load_settings(cwd=tmp_path)
    assert settings.config_path == tmp_path / "aftersale.toml"
    assert settings.warehouse.path == tmp_path / "data" / "w.duckdb"
    assert settings.ingest.chunk_rows == 7000
    assert settings.ingest.default_currency == "JPY"


def test_config_env_var_and_explicit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("[ingest]\nchunk_rows = 2000\n", encoding="utf-8")
    monkeypatch.setenv("AFTERSALE_CONFIG", str(other))
    assert find_config_file(cwd=tmp_path) == other
    assert load_settings(cwd=tmp_path).ingest.chunk_rows == 2000
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[ingest]\nchunk_rows = 10\n", "ingest.chunk_rows"),
        ('[ingest]\ndefault_time_zone = "Mars/Base"\n', "ingest.default_time_zone"),
        ('[warehouse]\nbackend = "oracle"\n', "warehouse.backend"),
        ("[warehouse]\ncolour = 1\n", "warehouse.colour"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    (tmp_path / "aftersale.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=tmp_path)
    assert info.value.key == key and key in str(info.value)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "aftersale.toml").write_text("[ingest\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cwd=tmp_path)
