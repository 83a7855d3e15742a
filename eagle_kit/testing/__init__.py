"""Helpers for tests and benchmarks: tiny random models of each supported family."""
