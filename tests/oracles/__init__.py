"""Numerical oracles: exact reference values that tests and benchmarks compare outdial against."""
