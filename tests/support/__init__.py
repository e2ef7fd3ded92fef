"""Helpers for the integration tests: wheels, indexes, servers and Docker.

Each module has one job and no pytest dependency, so they can also be used
from a Python prompt while debugging a failed test; the fixtures that wire
them together live in ``tests/conftest.py``.
"""
