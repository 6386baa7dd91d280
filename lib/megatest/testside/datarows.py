"""A test's data rows in its record: writing them, and the status and pass/fail counts they
roll up to. Shared by `mt-test data` (testops) and the final record (finish: checker data).
"""
from megatest.store import db


def store(conn, test_id, rows):
    """Write ROWS (replacing same category/variable) and the record's pass and fail counts,
    in the caller's transaction."""
    if not rows:
        return
    db.upsert_data(conn, test_id, rows)
    _, passes, fails = rollup(conn, test_id, None)
    db.update_test(conn, test_id, pass_count=passes, fail_count=fails)


def rollup(conn, test_id, current_status):
    """(status, pass_count, fail_count) from the record's data rows (in the caller's transaction)."""
    from megatest.testside import testdata
    rows = [dict(r) for r in db.data_of_test(conn, test_id)]
    return testdata.rollup_status(current_status, rows)
