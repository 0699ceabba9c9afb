"""Benchmarks that print numbers; `python -m bench` runs them all and prints one table (see bench/suite.py)."""
