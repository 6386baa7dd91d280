"""Megatest, re-built in Python: a library of small mechanisms plus thin commands.

One sub-package per mechanism (ARCHITECTURE.md), each importing only those below it:
foundation (errors, states, rollup, fsutil: the modules here) < config < store < launch
< testside < run < serve < commands; logpro stands beside them, on config. The table
of allowed directions is in tests/test_architecture.py.

Kept empty on purpose: `mt-test` is on every test's hot path and must not pay for imports.
"""
__version__ = "0.1.0"
