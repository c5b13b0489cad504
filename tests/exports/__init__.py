"""Tests of the exports (a package: its conftest must not shadow tests/conftest.py)."""
