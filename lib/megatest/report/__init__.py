"""What people act on: a run's records as one result structure (results), and the views of
it: JUnit XML (junit), the HTML report (html), run-to-run diff (diff), history across runs
(history) and failure signatures (signatures). No view queries the database itself; each
reads the structure results builds.

Owns the result structure (`mt-list runs --json`'s shape) and the outcome of a record.
May import: the foundation, config, store, run.
"""
