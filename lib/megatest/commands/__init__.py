"""The commands: the only code that reads argv, prints or exits. One module per command
(mt-run is run.py, ...; `megatest` is megatest.py with its two halves), their docopt
helper (cli), the entry point every bin/ script calls (entry) and the words of their
messages (words). Each turns arguments into library calls.

May import: every other sub-package.
"""
