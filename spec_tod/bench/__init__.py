"""Benchmark harness: an async completion client that keeps an inference server full, and the runs built on it."""
