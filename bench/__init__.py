"""Benchmarks of Concordat against the Temporal floor: python -m bench (see README, Performance)."""
