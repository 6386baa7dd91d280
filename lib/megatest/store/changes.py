"""What changed since change number N: the rows behind the dashboard's live refresh.

Every write to a synced table stamps the row with the next value of the one change counter
(schema.py, migration 002) and the syncer copies rows and counter to megatest.db, so the
same question gets the same answer from the live db and from a copy of megatest.db. A poll
is a few indexed range reads (`seq > N`), whatever the size of the database.

Read everything of one answer inside `snapshot`: the counter and the rows then come from
one moment (a WAL read transaction), and a change committed between two reads is neither
lost nor counted twice.
"""
from megatest.store.db import TEST_COLUMNS, sqlite3

RUN_COLUMNS = ("id", "target", "runname", "state", "status", "rollup_status", "event_time")
ACTION_COLUMNS = ("id", "action", "target", "runname", "testpatt", "state", "host", "exit_code",
                  "created", "claimed_at", "finished_at", "params")


class snapshot:
    """`with snapshot(conn):` reads inside one read transaction (BEGIN ... COMMIT), so that
    every read sees the same moment; nothing is written."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN")
        return self.conn

    def __exit__(self, kind, value, tb):
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        return False


def current(conn):
    """The change counter: the number of the latest write (0 in a database without one)."""
    try:
        row = conn.execute("SELECT n FROM change_counter WHERE id=1").fetchone()
    except sqlite3.OperationalError:
        return 0
    return row[0] if row else 0


def tests_since(conn, seq, limit):
    """Test records written after change SEQ, oldest change first, at most LIMIT (the caller
    asks for one more than it takes, to know there were more)."""
    return conn.execute(f"SELECT {', '.join(TEST_COLUMNS)} FROM tests WHERE seq > ? "
                        "ORDER BY seq LIMIT ?", (seq, limit)).fetchall()


def runs_since(conn, seq):
    """Runs written after change SEQ (a new run, a run's state or status, a removal)."""
    return conn.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE seq > ? ORDER BY seq",
                        (seq,)).fetchall()


def actions_since(conn, seq):
    """Queued actions (tasks of kind action) written after change SEQ."""
    return conn.execute(f"SELECT {', '.join(ACTION_COLUMNS)} FROM tasks WHERE kind='action' "
                        "AND seq > ? ORDER BY id", (seq,)).fetchall()

