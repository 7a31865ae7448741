"""Benchmarks: run by ``make bench``, results written to ``bench/results/``."""
