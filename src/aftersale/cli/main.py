"""Entry point of the ``aftersale`` command: global options, exit codes, one-line errors.

Exit codes: 0 success; 1 unexpected failure (a bug: rerun with --debug and report it);
2 wrong usage (unknown option or command); 3 bad input (file, column, mapping, value);
4 bad configuration; 5 storage problem (warehouse or state store); 6 ``--strict`` load that
quarantined rows.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from aftersale.config import Settings, load_settings
from aftersale.errors import AftersaleError, ConfigError, InvalidInputError, StorageError

__all__ = ["EXIT_CODES", "app", "run"]

EXIT_CODES = {
    "ok": 0,
    "unexpected": 1,
    "usage": 2,
    "input": 3,
    "config": 4,
    "storage": 5,
    "strict": 6,
}

app = typer.Typer(
    name="aftersale",
    help="Post-purchase segmentation and retention engine: load a store's data, segment it, "
    "decide and deliver the next best message, and measure the effect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass(slots=True)
class Context:
    """Options shared by every command."""

    config: Path | None = None
    debug: bool = False

    def settings(self) -> Settings:
        """Load settings once per command."""
        return load_settings(self.config)

    @property
    def console(self) -> Console:
        """Console for results (stdout)."""
        return Console()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Settings file (default ./aftersale.toml or $AFTERSALE_CONFIG).",
            envvar="AFTERSALE_CONFIG",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    """Global options."""
    ctx.obj = Context(config=config, debug=debug)


def _register() -> None:
    from aftersale.cli.commands import (
        decide,
        demo,
        ingest,
        init,
        models,
        playbook,
        quarantine,
        segment,
        simulate,
        status,
    )

    for module in (
        init, simulate, ingest, status, quarantine, demo, models, segment, playbook, decide,
    ):  # fmt: skip
        module.register(app)


_register()


def _fail(message: str, code: int) -> NoReturn:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def _click_errors() -> tuple[type[Any], type[Any]]:
    """Typer may bundle its own copy of Click; take the exception classes from Typer."""
    return typer.BadParameter.__mro__[1], typer.BadParameter.__mro__[2]


def run(argv: list[str] | None = None) -> None:
    """Run the CLI, mapping aftersale errors to one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = app(args=args, standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        _fail("aborted", EXIT_CODES["unexpected"])
    except Exception as exc:  # the edge: translate, never show a traceback unless asked
        if debug:
            raise
        usage_error, click_error = _click_errors()
        if isinstance(exc, usage_error):
            exc.show()
            raise SystemExit(EXIT_CODES["usage"]) from None
        if isinstance(exc, click_error):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, ConfigError):
            _fail(str(exc), EXIT_CODES["config"])
        if isinstance(exc, InvalidInputError):
            _fail(str(exc), EXIT_CODES["input"])
        if isinstance(exc, StorageError):
            _fail(str(exc), EXIT_CODES["storage"])
        if isinstance(exc, AftersaleError):
            _fail(str(exc), EXIT_CODES["unexpected"])
        _fail(
            f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            EXIT_CODES["unexpected"],
        )


if __name__ == "__main__":  # pragma: no cover
    run()
