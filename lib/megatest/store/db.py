"""The one way to open an area database, and every SQL statement the project runs.

Imports only the standard library: `mt-test` goes through here on every call.
"""
import errno
import os
import time

from megatest.errors import MtError

try:
    # The C module itself: `import sqlite3` also loads datetime and collections for the
    # deprecated date adapters, 4-5 ms that every mt-test call would pay. Same classes.
    import _sqlite3 as sqlite3
except ImportError:                     # pragma: no cover - an interpreter without it
    import sqlite3

BUSY_TIMEOUT_MS = 60000
TEST_COLUMNS = ("id", "run_id", "testname", "item_path", "state", "status", "host", "uname",
                "cpuload", "diskfree", "rundir", "shortdir", "final_logf", "run_duration",
                "comment", "event_time", "fail_count", "pass_count", "archived", "pid",
                "attempt", "heartbeat_at", "job_id", "last_update", "exit_code")
TEST_FIELDS = frozenset(TEST_COLUMNS) - {"id", "run_id", "testname", "item_path"}
HIDDEN_TEST_STATES = ("DELETED",)
ATTEMPTS_DIR = ".mt-attempts"     # <rundir>/.mt-attempts/N: the logs of a record's attempt N
# `tests t` rows that are not the toplevel of an iterated test: a rollup never runs itself,
# so it never counts against limits and is never swept.
NOT_ROLLUP = ("NOT (t.item_path = '' AND EXISTS (SELECT 1 FROM tests i WHERE i.run_id=t.run_id "
              "AND i.testname=t.testname AND i.item_path != ''))")
# Errors that say the storage refused (full, read-only, no permission, cannot open or write):
# the user's to fix, so one line naming the place, never a traceback.
STORAGE_ERRNOS = frozenset((errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT))
STORAGE_SQLITE_CODES = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR",
                        "SQLITE_PERM")


class StorageError(MtError):
    """Storage refused what a command had to write: `<what> at <path>: <reason>`. EXIT_CODE
    is 1 when a run had started and stopped on it (entry.py), else 2."""

    def __init__(self, what, path, reason, hint=None, exit_code=2):
        super().__init__(f"{what}{' at ' + path if path else ''}: {reason}", hint=hint)
        self.exit_code = exit_code


def storage_reason(err):
    """Why ERR means the storage refused (its message), or None for any other error."""
    if isinstance(err, OSError):
        return err.strerror if err.errno in STORAGE_ERRNOS else None
    if isinstance(err, sqlite3.Error):
        name = getattr(err, "sqlite_errorname", "") or ""
        return str(err) if name.startswith(STORAGE_SQLITE_CODES) else None
    return None


def storage_path(err, default=""):
    """The file a storage error is about: the OS's filename, or the database a transaction
    tagged (sqlite3's errors name no file)."""
    return getattr(err, "filename", None) or getattr(err, "db_path", None) or default


def live_origin(environ=None, dbdir=None):
    """What chose the live database's directory, for messages: [setup] dbdir, MT_TMPDIR or /tmp."""
    environ = os.environ if environ is None else environ
    if dbdir:
        return f"[setup] dbdir {dbdir}"
    if environ.get("MT_TMPDIR"):
        return f"MT_TMPDIR={environ['MT_TMPDIR']}"
    return "/tmp (MT_TMPDIR is not set)"


# ---------------------------------------------------------------- opening

def connect(path, readonly=False, tracer=None):
    """Open one SQLite file with the project's settings (WAL, busy timeout, autocommit)."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if tracer:
        conn.set_trace_callback(tracer)
    if not readonly:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as err:
            conn.close()
            raise (damaged(err, path) or err) from None
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


DAMAGED_SQLITE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class DamagedError(MtError):
    """A database file SQLite cannot read as one: the user's to move aside, not a bug."""


def damaged(err, path=""):
    """An MtError saying the database file is damaged and what to do, or None for any other
    error. Both databases can be rebuilt: the live one from megatest.db, megatest.db by a sync."""
    name = getattr(err, "sqlite_errorname", "") or ""
    if not isinstance(err, sqlite3.DatabaseError) or not name.startswith(DAMAGED_SQLITE_CODES):
        return None
    where = storage_path(err, path)
    return DamagedError(f"the database{' ' + where if where else ''} is damaged ({err})",
                   hint="move it aside with its -wal and -shm files: the next mt-run rebuilds "
                        "a live database from the area's megatest.db, and the next mt-sync "
                        "writes megatest.db afresh")


def live_path(area, environ=None, dbdir=None):
    """Where the live database of an area is on this host: dbdir ([setup] dbdir), else
    $MT_TMPDIR, else /tmp, under mt-<user>/<area-id>/."""
    return area.live_db_path(environ, dbdir or None)


def open_area_db(area, environ=None, tracer=None, dbdir=None):
    """Open the area's live database for writing, creating it and its schema when needed, and
    rebuilding it from the shared copy when that is newer (the home host lost its /tmp).
    StorageError, naming what chose the place, when that place cannot take it."""
    path = live_path(area, environ, dbdir)
    try:
        return _open_area_db(area, path, tracer)
    except (OSError, sqlite3.Error) as err:
        reason = storage_reason(err)
        if reason is None:
            raise
        raise StorageError(f"cannot write the live database ({live_origin(environ, dbdir)})",
                           storage_path(err, path), reason,
                           hint="point MT_TMPDIR (or [setup] dbdir) at a writable local "
                                "directory with free space") from None


def _open_area_db(area, path, tracer):
    from megatest.store import locks, schema
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Creating the file, switching it to WAL and migrating race between two first runners.
    with locks.held(locks.db_create_lock_path(path)):
        from megatest.store.syncmark import shared_is_newer
        if shared_is_newer(path, area.shared_db_path):
            _restore_from_shared(area.shared_db_path, path)
        conn = connect(path, tracer=tracer)
        schema.ensure(conn)
        conn.execute("INSERT OR IGNORE INTO metadat (var, val) VALUES ('live_id', ?)",
                     (os.urandom(8).hex(),))
    return conn


def open_test_db(path):
    """Open an existing live database from inside a test (no schema work: hot path)."""
    if not os.path.exists(path):
        raise MtError(f"database {path} does not exist")
    return connect(path)


def open_for_reading(area, environ=None, dbdir=None, paths=None):
    """A read-only connection: the live db when this host has it, else the shared copy; or
    None (no run yet). A damaged file is an MtError, never taken for an empty area."""
    for path in paths or (live_path(area, environ, dbdir), area.shared_db_path):
        if os.path.exists(path):
            try:
                conn = connect(path, readonly=True)
                conn.execute("SELECT 1 FROM runs LIMIT 1")
                return _current_schema(conn)
            except sqlite3.Error as err:
                failure = damaged(err, path)
                if failure is not None:
                    raise failure from None
                continue
    return None


def _current_schema(conn):
    """A read-only database of an older schema, read through an in-memory copy brought up to
    date: readers see one schema, and the file is not touched (it may be read-only)."""
    from megatest.store import schema
    if conn.execute("PRAGMA user_version").fetchone()[0] >= schema.VERSION:
        return conn
    mem = connect(":memory:")
    conn.backup(mem)
    conn.close()
    schema.ensure(mem)
    return mem


def _restore_from_shared(shared, live):
    """Rebuild the live db from the shared copy (its WAL files go with the old file)."""
    src = sqlite3.connect(f"file:{shared}?mode=ro", uri=True)
    tmp = live + ".restore"
    if os.path.exists(tmp):
        os.unlink(tmp)
    dst = sqlite3.connect(tmp, isolation_level=None)
    src.backup(dst)
    src.close()
    dst.execute("DROP TABLE IF EXISTS sync_state")
    from megatest.store import schema
    schema.create_triggers(dst)
    dst.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(live + suffix):
            os.unlink(live + suffix)
    os.replace(tmp, live)


def copy_to_shared(conn, shared_path):
    """Write a consistent rollback-journal copy of conn's database at shared_path (temp + rename)."""
    tmp = shared_path + ".tmp-copy"
    if os.path.exists(tmp):
        os.unlink(tmp)
    dst = sqlite3.connect(tmp, isolation_level=None)
    conn.backup(dst)
    dst.execute("PRAGMA journal_mode = DELETE")
    dst.close()
    os.replace(tmp, shared_path)


class transaction:
    """`with transaction(conn):` is BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception):
    every multi-row change is one transaction. Inside another one it is part of that one
    (the runner makes each pass of its loop one transaction). A class, not contextlib:
    importing contextlib costs mt-test 3 ms."""

    def __init__(self, conn):
        self.conn = conn
        self.outer = False

    def __enter__(self):
        if not self.conn.in_transaction:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                _tag(err, self.conn)
                raise
            self.outer = True
        return self.conn

    def __exit__(self, kind, value, tb):
        if not self.outer:
            return False
        if kind:
            _rollback(self.conn)
            _tag(value, self.conn)
            return False
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as err:
            _rollback(self.conn)        # a COMMIT refused (disk full) may leave it open
            _tag(err, self.conn)
            raise
        return False


def _rollback(conn):
    """Roll back what is still open; SQLite may already have (a full disk, an I/O error), and
    a failing ROLLBACK must not hide the error that caused it."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _tag(err, conn):
    """Name the database file on a sqlite3 error (db_path): its message names none."""
    if isinstance(err, sqlite3.Error) and not hasattr(err, "db_path"):
        try:
            err.db_path = next((r[2] for r in conn.execute("PRAGMA database_list")
                                if r[1] == "main"), "")
        except sqlite3.Error:
            pass


# ---------------------------------------------------------------- keys and runs

def get_keys(conn):
    return [r[0] for r in conn.execute("SELECT fieldname FROM keys ORDER BY id")]


def register_keys(conn, keys):
    """Record the area's keys once; adding a column per key to runs. Returns the stored keys."""
    stored = get_keys(conn)
    if stored:
        return stored
    for key in keys:
        conn.execute("INSERT INTO keys (fieldname) VALUES (?)", (key,))
        conn.execute(f'ALTER TABLE runs ADD COLUMN "{key}" TEXT DEFAULT ""')
    return list(keys)


def register_run(conn, keys, keyvals, runname, owner, now=None):
    """Insert-or-reuse the run (target, runname); a deleted run comes back. Returns its id."""
    now = now or time.time()
    target = "/".join(keyvals)
    row = conn.execute("SELECT id FROM runs WHERE target=? AND runname=?", (target, runname)).fetchone()
    if row:
        conn.execute("UPDATE runs SET state=CASE WHEN state='deleted' THEN 'new' ELSE state END, "
                     "last_update=? WHERE id=?", (now, row[0]))
        return row[0]
    cols = ", ".join(f'"{k}"' for k in keys)
    marks = ", ".join("?" for _ in keys)
    cur = conn.execute(
        f"INSERT INTO runs (target, runname, owner, event_time, last_update{', ' if keys else ''}{cols}) "
        f"VALUES (?, ?, ?, ?, ?{', ' if keys else ''}{marks})",
        (target, runname, owner, now, now, *keyvals))
    return cur.lastrowid


def get_run(conn, run_id):
    return conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()


def find_run(conn, target, runname):
    return conn.execute("SELECT * FROM runs WHERE target=? AND runname=? AND state != 'deleted'",
                        (target, runname)).fetchone()


def list_runs(conn, include_deleted=False):
    sql = "SELECT * FROM runs" + ("" if include_deleted else " WHERE state != 'deleted'")
    return conn.execute(sql + " ORDER BY event_time, id").fetchall()


def set_run(conn, run_id, **fields):
    fields["last_update"] = time.time()
    sets = ", ".join(f"{k}=?" for k in fields)
    conn.execute(f"UPDATE runs SET {sets} WHERE id=?", (*fields.values(), run_id))


def run_toplevel_statuses(conn, run_id):
    return conn.execute(
        "SELECT state, status FROM tests WHERE run_id=? AND item_path='' AND state NOT IN ('DELETED')",
        (run_id,)).fetchall()


# ---------------------------------------------------------------- tests

def register_tests(conn, run_id, names, now=None):
    """Insert-or-ignore NOT_STARTED/n/a records for (testname, item_path) pairs."""
    now = now or time.time()
    conn.executemany(
        "INSERT OR IGNORE INTO tests (run_id, testname, item_path, event_time, last_update) "
        "VALUES (?, ?, ?, ?, ?)", [(run_id, t, i, now, now) for t, i in names])


def tests_of_run(conn, run_id, since=None, include_deleted=False):
    sql = f"SELECT {', '.join(TEST_COLUMNS)} FROM tests WHERE run_id=?"
    args = [run_id]
    if since is not None:
        sql += " AND last_update >= ?"
        args.append(since)
    if not include_deleted:
        sql += " AND state != 'DELETED'"
    return conn.execute(sql + " ORDER BY testname, item_path", args).fetchall()


def get_test(conn, test_id):
    return conn.execute(f"SELECT {', '.join(TEST_COLUMNS)} FROM tests WHERE id=?",
                        (test_id,)).fetchone()


def tests_by_id(conn, test_ids):
    """The records of TEST_IDS, in one query."""
    marks = ", ".join("?" for _ in test_ids)
    return conn.execute(f"SELECT {', '.join(TEST_COLUMNS)} FROM tests WHERE id IN ({marks})",
                        list(test_ids)).fetchall()


def kill_requested(conn, run_id):
    """Ids of the run's records a kill was asked for (state KILLREQ)."""
    return {row[0] for row in conn.execute(
        "SELECT id FROM tests WHERE run_id=? AND state='KILLREQ'", (run_id,))}


def rollback_open(conn):
    """End a transaction left open by an interruption, keeping nothing of it."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def find_test(conn, run_id, testname, item_path):
    return conn.execute(f"SELECT {', '.join(TEST_COLUMNS)} FROM tests "
                        "WHERE run_id=? AND testname=? AND item_path=?",
                        (run_id, testname, item_path)).fetchone()


def update_test(conn, test_id, only_states=None, **fields):
    """Set fields of one record; with only_states, compare-and-set on its state. Returns changed."""
    bad = set(fields) - TEST_FIELDS
    if bad:
        raise ValueError(f"unknown test fields {sorted(bad)}")
    fields.setdefault("last_update", time.time())
    sets = ", ".join(f"{k}=?" for k in fields)
    sql = f"UPDATE tests SET {sets} WHERE id=?"
    args = [*fields.values(), test_id]
    if only_states:
        sql += f" AND state IN ({', '.join('?' for _ in only_states)})"
        args.extend(only_states)
    return conn.execute(sql, args).rowcount > 0


def set_test_state(conn, test_id, state=None, status=None, comment=None, only_states=None,
                   **fields):
    """Change a record's state/status (and more) and roll up its toplevel, in the caller's
    transaction. Returns the updated row, or None when the compare-and-set did not match."""
    if state is not None:
        fields["state"] = state
    if status is not None:
        fields["status"] = status
    if comment is not None:
        fields["comment"] = comment
    if not update_test(conn, test_id, only_states=only_states, **fields):
        return None
    row = get_test(conn, test_id)
    if row["item_path"]:
        rollup_toplevel(conn, row["run_id"], row["testname"])
    return row


def rollup_toplevel(conn, run_id, testname):
    """Recompute an iterated test's toplevel from its items (behaviour.md §10.4).

    The result depends only on which (state, status) pairs occur and on the PASS/FAIL
    counts, so SQLite groups the items: one small result however many items there are.
    Returns the toplevel's fields as written, or None when no item counts."""
    from megatest import rollup
    groups = conn.execute("SELECT state, status, count(*) FROM tests WHERE run_id=? AND testname=? "
                          "AND item_path != '' GROUP BY state, status", (run_id, testname)).fetchall()
    pairs = [(r[0], r[1]) for r in groups]
    result = rollup.rollup(pairs)
    if result is None:
        return
    keep = set(rollup.counted_pairs(pairs))
    counted = [(r[0], r[1], r[2]) for r in groups if (r[0], r[1]) in keep]
    passes = sum(n for _, status, n in counted if status == "PASS")
    fails = sum(n for _, status, n in counted if status == "FAIL")
    conn.execute("UPDATE tests SET state=?, status=?, pass_count=?, fail_count=?, last_update=? "
                 "WHERE run_id=? AND testname=? AND item_path='' "
                 "AND (state!=? OR status!=? OR pass_count!=? OR fail_count!=?)",
                 (*result, passes, fails, time.time(), run_id, testname, *result, passes, fails))
    return {"state": result[0], "status": result[1], "pass_count": passes, "fail_count": fails}


def count_running(conn, states, jobgroup_tests=None):
    """Running non-toplevel records area-wide (all runs): toplevels of iterated tests never count."""
    marks = ", ".join("?" for _ in states)
    sql = f"SELECT count(*) FROM tests t WHERE t.state IN ({marks}) AND {NOT_ROLLUP}"
    args = list(states)
    if jobgroup_tests is not None:
        sql += f" AND t.testname IN ({', '.join('?' for _ in jobgroup_tests)})"
        args.extend(jobgroup_tests)
    return conn.execute(sql, args).fetchone()[0]


def running_elsewhere(conn, run_id, testname, item_path, states):
    """Is the same test/itempath running in another run of the area (exclusive, prevrunning)?"""
    marks = ", ".join("?" for _ in states)
    return conn.execute(f"SELECT 1 FROM tests WHERE testname=? AND item_path=? AND run_id != ? "
                        f"AND state IN ({marks}) LIMIT 1",
                        (testname, item_path, run_id, *states)).fetchone() is not None


def last_end_elsewhere(conn, testname, item_path, exclude_test_id):
    """event_time + run_duration of the newest finished record of test/itempath (rundelay)."""
    row = conn.execute("SELECT max(event_time + run_duration) FROM tests WHERE testname=? "
                       "AND item_path=? AND id != ? AND state IN ('COMPLETED', 'INCOMPLETE') "
                       "AND status IN ('PASS', 'FAIL', 'ABORT')",
                       (testname, item_path, exclude_test_id)).fetchone()
    return row[0]


def reset_test(conn, test_id):
    """Back to NOT_STARTED/n/a for a relaunch: old steps and data rows go, the attempt counter
    rises. A finished attempt is kept in attempts first (its logs move under
    <rundir>/.mt-attempts/N at the relaunch); a removed record starts over with none."""
    conn.execute("DELETE FROM attempts WHERE test_id=? AND EXISTS (SELECT 1 FROM tests "
                 "WHERE id=? AND state='DELETED')", (test_id, test_id))
    conn.execute(
        "INSERT OR REPLACE INTO attempts (test_id, attempt, state, status, comment, host, "
        "exit_code, started, duration, logdir, final_logf, last_update) "
        "SELECT id, attempt, state, status, comment, host, exit_code, event_time, run_duration, "
        "rundir || '/" + ATTEMPTS_DIR + "/' || attempt, final_logf, ? FROM tests WHERE id=? "
        "AND state NOT IN ('NOT_STARTED', 'LAUNCHED', 'REMOTEHOSTSTART', 'RUNNING', 'KILLREQ', "
        "'DELETED', 'REMOVING', 'CLEANING') AND rundir != ''", (time.time(), test_id))
    conn.execute("DELETE FROM test_steps WHERE test_id=?", (test_id,))
    conn.execute("DELETE FROM test_data WHERE test_id=?", (test_id,))
    conn.execute("UPDATE tests SET state='NOT_STARTED', status='n/a', comment='', pid=NULL, "
                 "heartbeat_at=NULL, run_duration=0, fail_count=0, pass_count=0, "
                 "exit_code=NULL, attempt=attempt+1, last_update=? WHERE id=?", (time.time(), test_id))


def heartbeat_tests(conn, test_ids, now=None):
    if not test_ids:
        return
    now = now or time.time()
    conn.executemany("UPDATE tests SET heartbeat_at=?, run_duration=?-event_time WHERE id=? "
                     "AND state IN ('RUNNING', 'REMOTEHOSTSTART', 'LAUNCHED', 'KILLREQ')",
                     [(now, now, t) for t in test_ids])


def set_test_meta(conn, testname, meta):
    cols = ("author", "owner", "description", "reviewed", "iterated", "tags", "jobgroup")
    values = [str(meta.get(c, "") or ("default" if c == "jobgroup" else "")) for c in cols]
    conn.execute(f"INSERT INTO test_meta (testname, {', '.join(cols)}, last_update) "
                 f"VALUES (?, {', '.join('?' for _ in cols)}, ?) ON CONFLICT (testname) DO UPDATE SET "
                 + ", ".join(f"{c}=excluded.{c}" for c in cols) + ", last_update=excluded.last_update",
                 (testname, *values, time.time()))


def jobgroups(conn):
    return {r[0]: r[1] for r in conn.execute("SELECT testname, jobgroup FROM test_meta")}


# ---------------------------------------------------------------- steps and data

def add_step(conn, test_id, stepname, state, status="n/a", comment="", logfile="", event_time=None):
    now = time.time()
    conn.execute("INSERT INTO test_steps (test_id, stepname, state, status, event_time, comment, "
                 "logfile, last_update) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT (test_id, stepname, state) DO UPDATE SET status=excluded.status, "
                 "event_time=excluded.event_time, comment=excluded.comment, "
                 "logfile=excluded.logfile, last_update=excluded.last_update",
                 (test_id, stepname, state, status, event_time or now, comment, logfile, now))


def step_exists(conn, test_id, stepname, state):
    return conn.execute("SELECT 1 FROM test_steps WHERE test_id=? AND stepname=? AND state=?",
                        (test_id, stepname, state)).fetchone() is not None


def steps_of_test(conn, test_id):
    return conn.execute("SELECT stepname, state, status, event_time, comment, logfile FROM test_steps "
                        "WHERE test_id=? ORDER BY event_time, id", (test_id,)).fetchall()


def steps_of_run(conn, run_id):
    return conn.execute("SELECT s.test_id, s.stepname, s.state, s.status, s.event_time, s.comment, "
                        "s.logfile FROM test_steps s JOIN tests t ON t.id=s.test_id "
                        "WHERE t.run_id=? ORDER BY s.event_time, s.id", (run_id,)).fetchall()


def attempts_of_runs(conn, run_ids):
    """Earlier attempts of the runs' records, oldest first: {test_id: [row...]}."""
    out = {}
    marks = ", ".join("?" for _ in run_ids)
    for row in conn.execute(
            "SELECT a.test_id, a.attempt, a.state, a.status, a.comment, a.host, a.exit_code, "
            "a.started, a.duration, a.logdir, a.final_logf FROM attempts a JOIN tests t ON "
            f"t.id=a.test_id WHERE t.run_id IN ({marks}) ORDER BY a.test_id, a.attempt",
            list(run_ids)):
        out.setdefault(row["test_id"], []).append(row)
    return out


def data_of_run(conn, run_id):
    """Test data rows of a run's records: {test_id: [row...]}."""
    out = {}
    for row in conn.execute(f"SELECT d.test_id, {', '.join('d.' + c for c in DATA_COLUMNS)} "
                            "FROM test_data d JOIN tests t ON t.id=d.test_id WHERE t.run_id=? "
                            "ORDER BY d.test_id, d.category, d.variable", (run_id,)):
        out.setdefault(row["test_id"], []).append(row)
    return out


def runner_hosts(conn):
    """{(target, runname): host} of the latest runner of every run."""
    return {(r["target"], r["runname"]): r["host"] for r in conn.execute(
        "SELECT target, runname, host FROM tasks WHERE kind='runner' ORDER BY id")}


DATA_COLUMNS = ("category", "variable", "value", "expected", "tol", "units", "comment", "status", "type")


def upsert_data(conn, test_id, rows):
    """Write test data rows; a row with the same (category, variable) replaces the old one."""
    now = time.time()
    conn.executemany(
        f"INSERT INTO test_data (test_id, {', '.join(DATA_COLUMNS)}, last_update) "
        f"VALUES (?, {', '.join('?' for _ in DATA_COLUMNS)}, ?) "
        "ON CONFLICT (test_id, category, variable) DO UPDATE SET "
        + ", ".join(f"{c}=excluded.{c}" for c in DATA_COLUMNS[2:]) + ", last_update=excluded.last_update",
        [(test_id, *[row.get(c, "") for c in DATA_COLUMNS], now) for row in rows])


def data_of_test(conn, test_id):
    return conn.execute(f"SELECT {', '.join(DATA_COLUMNS)} FROM test_data WHERE test_id=? "
                        "ORDER BY category, variable", (test_id,)).fetchall()


# ---------------------------------------------------------------- tasks

def add_task(conn, kind, **fields):
    fields.setdefault("created", time.time())
    cols = ", ".join(fields)
    cur = conn.execute(f"INSERT INTO tasks (kind, {cols}) VALUES (?, {', '.join('?' for _ in fields)})",
                       (kind, *fields.values()))
    return cur.lastrowid


def update_task(conn, task_id, **fields):
    sets = ", ".join(f"{k}=?" for k in fields)
    conn.execute(f"UPDATE tasks SET {sets} WHERE id=?", (*fields.values(), task_id))


def active_runners(conn, target, runname):
    return conn.execute("SELECT * FROM tasks WHERE kind='runner' AND target=? AND runname=? "
                        "AND state IN ('new', 'claimed', 'running')", (target, runname)).fetchall()


# ---------------------------------------------------------------- liveness

def running_records(conn, running_states):
    """Non-toplevel records in a running state, all runs (the dead-test sweep)."""
    marks = ", ".join("?" for _ in running_states)
    return conn.execute(
        f"SELECT {', '.join(TEST_COLUMNS)} FROM tests t WHERE state IN ({marks}) AND {NOT_ROLLUP}",
        list(running_states)).fetchall()


def count_running_by_group(conn, running_states):
    """{jobgroup: running non-toplevel records}, area-wide ([jobgroups] limits)."""
    marks = ", ".join("?" for _ in running_states)
    rows = conn.execute(
        f"SELECT coalesce(m.jobgroup, 'default'), count(*) FROM tests t LEFT JOIN test_meta m "
        f"ON m.testname = t.testname WHERE t.state IN ({marks}) AND {NOT_ROLLUP} GROUP BY 1",
        list(running_states)).fetchall()
    return {g: n for g, n in rows}


# ---------------------------------------------------------------- queued actions

def new_actions(conn):
    return conn.execute("SELECT * FROM tasks WHERE kind='action' AND state='new' ORDER BY id").fetchall()


def action_of_request(conn, quoted_request):
    """The queued action whose params hold "request": QUOTED_REQUEST (a JSON string), or None."""
    row = conn.execute("SELECT id FROM tasks WHERE kind='action' AND instr(params, ?) > 0 "
                       "ORDER BY id LIMIT 1", ('"request": ' + quoted_request,)).fetchone()
    return row[0] if row else None


def claim_task(conn, task_id, host, pid):
    """Atomically claim a new task (compare-and-set on state); True when this caller won."""
    with transaction(conn):
        return conn.execute("UPDATE tasks SET state='claimed', claimed_at=?, host=?, pid=? "
                            "WHERE id=? AND state='new'", (time.time(), host, pid, task_id)).rowcount == 1


def get_task(conn, task_id):
    return conn.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()


# ---------------------------------------------------------------- removal

def delete_test_rows(conn, test_id):
    """Hard-delete a removed record's steps and data (their tombstones reach megatest.db)."""
    conn.execute("DELETE FROM test_steps WHERE test_id=?", (test_id,))
    conn.execute("DELETE FROM test_data WHERE test_id=?", (test_id,))


def has_items(conn, run_id, testname):
    return conn.execute("SELECT 1 FROM tests WHERE run_id=? AND testname=? AND item_path != '' "
                        "AND state != 'DELETED' LIMIT 1", (run_id, testname)).fetchone() is not None


# ---------------------------------------------------------------- job rows

def job_of_test(conn, test_id):
    """The id of the newest unfinished job row of a record (a runner that adopted the test)."""
    row = job_row_of_test(conn, test_id)
    return row["id"] if row else None


def heartbeat_jobs(conn, job_ids, now):
    conn.executemany("UPDATE tasks SET heartbeat_at=? WHERE id=?", [(now, j) for j in job_ids])


def job_row_of_test(conn, test_id):
    return conn.execute("SELECT * FROM tasks WHERE kind='job' AND test_id=? AND "
                        "state IN ('new', 'claimed', 'running') ORDER BY id DESC LIMIT 1",
                        (test_id,)).fetchone()
