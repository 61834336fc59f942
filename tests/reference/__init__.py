"""Slow, obvious reference implementations the tests and benchmarks check the C++ core
against; never shipped in the package."""
