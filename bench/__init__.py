"""Benchmarks: a side-by-side harness and the scripts that use it (see README.md)."""
