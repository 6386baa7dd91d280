"""The dashboard's reads that db.py has no statement for: the records of several runs in one
query, one record across runs, queued actions, and status counts per run.

Each exists so that a page reads only what it shows: the grid reads the runs it has columns
for, a test's history the one record in each run, the pass-rate plot counts grouped in
SQLite, never every record of the area in Python.
"""
from megatest.store.changes import ACTION_COLUMNS
from megatest.store.db import NOT_ROLLUP, TEST_COLUMNS, get_run


def _marks(values):
    return ", ".join("?" for _ in values)


# What the result structure reads of a record (results.test_result without detail).
GRID_COLUMNS = ("id", "run_id", "testname", "item_path", "state", "status", "comment", "host",
                "rundir", "run_duration", "event_time", "job_id", "attempt", "exit_code")


def toplevels_of_runs(conn, run_ids, testnames=None):
    """The toplevel (or only) records of RUN_IDS, not removed ones, by run and test; with
    TESTNAMES (a list, or "%" for every test) also the items of those tests."""
    if not run_ids:
        return []
    where, args = "AND item_path = ''", []
    if testnames == "%":
        where = ""
    elif testnames:
        where, args = f"AND (item_path = '' OR testname IN ({_marks(testnames)}))", testnames
    return conn.execute(f"SELECT {', '.join(GRID_COLUMNS)} FROM tests WHERE run_id IN "
                        f"({_marks(run_ids)}) AND state != 'DELETED' {where} "
                        "ORDER BY run_id, testname, item_path", [*run_ids, *args]).fetchall()


def items_of_runs(conn, run_ids):
    """(run_id, testname, item_path, status) of every item record of RUN_IDS: enough to
    count a test's items and to know whether a filter selects one."""
    if not run_ids:
        return []
    return conn.execute(f"SELECT run_id, testname, item_path, status FROM tests WHERE run_id IN "
                        f"({_marks(run_ids)}) AND state != 'DELETED' AND item_path != ''",
                        list(run_ids)).fetchall()


def item_counts(conn, run_ids):
    """{testname: distinct item paths} over the item records of RUN_IDS."""
    if not run_ids:
        return {}
    return dict(conn.execute(
        f"SELECT testname, count(DISTINCT item_path) FROM tests WHERE run_id IN "
        f"({_marks(run_ids)}) AND state != 'DELETED' AND item_path != '' GROUP BY testname",
        list(run_ids)).fetchall())


def record_in_runs(conn, testname, item_path, run_ids):
    """The record TESTNAME/ITEM_PATH in each of RUN_IDS that has it."""
    if not run_ids:
        return []
    return conn.execute(f"SELECT {', '.join(TEST_COLUMNS)} FROM tests WHERE testname=? AND "
                        f"item_path=? AND run_id IN ({_marks(run_ids)}) AND state != 'DELETED'",
                        [testname, item_path, *run_ids]).fetchall()


def test_and_run(conn, test_id):
    """(record, its run) of TEST_ID, or (None, None)."""
    test = conn.execute(f"SELECT {', '.join(TEST_COLUMNS)} FROM tests WHERE id=?",
                        (test_id,)).fetchone()
    if test is None:
        return None, None
    return test, get_run(conn, test["run_id"])


def actions(conn, ids=(), limit=20):
    """Queued actions: those of IDS, else the newest LIMIT, newest first."""
    where, args = "", []
    if ids:
        where, args = f" AND id IN ({_marks(ids)})", list(ids)
    return conn.execute(f"SELECT {', '.join(ACTION_COLUMNS)} FROM tasks WHERE kind='action'"
                        f"{where} ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()


def status_counts(conn, run_ids):
    """{run_id: [(state, status, n)]} over the records a summary counts (items and
    non-iterated tests; a toplevel of an iterated test is its items' rollup)."""
    out = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return out
    for row in conn.execute(
            f"SELECT t.run_id, t.state, t.status, count(*) FROM tests t WHERE t.run_id IN "
            f"({_marks(run_ids)}) AND t.state != 'DELETED' AND {NOT_ROLLUP} "
            "GROUP BY t.run_id, t.state, t.status", list(run_ids)):
        out[row[0]].append((row[1], row[2], row[3]))
    return out


def attempts_of_tests(conn, test_ids):
    """Earlier attempts of TEST_IDS, oldest first: {test_id: [row...]} (a record that
    passed after a failing attempt is flaky)."""
    out = {}
    if not test_ids:
        return out
    for row in conn.execute(
            "SELECT test_id, attempt, state, status, comment, host, exit_code, started, "
            f"duration, logdir, final_logf FROM attempts WHERE test_id IN ({_marks(test_ids)}) "
            "ORDER BY test_id, attempt", list(test_ids)):
        out.setdefault(row["test_id"], []).append(row)
    return out
