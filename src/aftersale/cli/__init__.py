"""The ``aftersale`` command line: a thin Typer layer over the library's use-cases."""
