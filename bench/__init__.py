"""Benchmarks and scripted demonstrations; run from the repository root with `python -m`."""
