"""Megatest, re-built in Python: a library of small mechanisms plus thin commands.

Kept empty on purpose: `mt-test` is on every test's hot path and must not pay for imports.
"""
__version__ = "0.1.0"
