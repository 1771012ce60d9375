"""Benchmarks of Herald's processes (``make bench``)."""
