"""Benchmarks: each writes JSON and a table; numbers come from here, never from tests."""
