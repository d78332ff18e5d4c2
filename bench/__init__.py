"""Benchmarks, not tests: `make bench` (python -m bench) runs them all.

Every figure is a ratio measured side by side in one run against a baseline, so it
holds on a noisy machine: the median of several interleaved repeats, with the spread.
Results go to bench/results/latest.json and docs/benchmarks.md.
"""
