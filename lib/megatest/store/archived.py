"""The SQL of archived runs (mt-clean --archive / --restore): the archives table and the
records' `archived` mark.

tests.archived keeps Megatest's meaning: 0 not archived, else the id of the archive that
holds the record's directory. An archive row goes `archiving` (records marked, directories
being removed) -> `archived` -> `restoring` (directories being put back) -> `restored` (marks
cleared; the row stays as history). A run has at most one archive that is not `restored`:
its active archive. A database no writer has migrated yet has no archives table: reads then
see no archive.
"""
import time

from megatest.store.db import TEST_COLUMNS

_ACTIVE = "state IN ('archiving', 'archived', 'restoring')"


def _has_table(conn):
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='archives'"
                        ).fetchone() is not None


def active_archive(conn, run_id):
    """The run's archive row that is not restored, or None."""
    if not _has_table(conn):
        return None
    return conn.execute(f"SELECT * FROM archives WHERE run_id=? AND {_ACTIVE} ORDER BY id DESC LIMIT 1",
                        (run_id,)).fetchone()


def archive_paths(conn):
    """{run id: archive path} of every run with an active archive (for listings)."""
    if not _has_table(conn):
        return {}
    return {r[0]: r[1] for r in conn.execute(
        f"SELECT run_id, archive_path FROM archives WHERE {_ACTIVE} ORDER BY id")}


def count_archives(conn, run_id):
    """How many archives the run ever had (restored ones included)."""
    if not _has_table(conn):
        return 0
    return conn.execute("SELECT count(*) FROM archives WHERE run_id=?", (run_id,)).fetchone()[0]


def add_archive(conn, run_id, path, test_ids, size, now=None):
    """The archive's row (state `archiving`) and the records' mark, in the caller's
    transaction. Returns the archive's id."""
    now = now or time.time()
    archive_id = conn.execute(
        "INSERT INTO archives (run_id, state, archive_path, du, created, last_update) "
        "VALUES (?, 'archiving', ?, ?, ?, ?)", (run_id, path, size, now, now)).lastrowid
    conn.executemany("UPDATE tests SET archived=?, last_update=? WHERE id=?",
                     [(archive_id, now, test_id) for test_id in test_ids])
    return archive_id


def set_state(conn, archive_id, state, now=None):
    now = now or time.time()
    extra = ", restored=?" if state == "restored" else ""
    args = (state, now, now, archive_id) if extra else (state, now, archive_id)
    conn.execute(f"UPDATE archives SET state=?{extra}, last_update=? WHERE id=?", args)


def records_of(conn, archive_id, include_deleted=False):
    """The records the archive holds (those removed since left out unless include_deleted)."""
    hide = "" if include_deleted else " AND state != 'DELETED'"
    return conn.execute(f"SELECT {', '.join(TEST_COLUMNS)} FROM tests WHERE archived=?{hide} "
                        "ORDER BY testname, item_path", (archive_id,)).fetchall()


def clear_marks(conn, archive_id, now=None):
    """The records are back: their mark goes and the row becomes `restored` (caller's
    transaction)."""
    now = now or time.time()
    conn.execute("UPDATE tests SET archived=0, last_update=? WHERE archived=?", (now, archive_id))
    set_state(conn, archive_id, "restored", now)
