"""Tables, schema version and ordered migrations of an area database.

The version lives in PRAGMA user_version so that opening an up-to-date database costs one
read; each migration runs in the same transaction as the version bump.
"""

MIGRATIONS = [
    ("001-base", """
CREATE TABLE IF NOT EXISTS metadat (var TEXT PRIMARY KEY, val TEXT);
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY, fieldname TEXT NOT NULL UNIQUE, fieldtype TEXT DEFAULT 'TEXT');
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL, runname TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new', status TEXT NOT NULL DEFAULT 'n/a',
    rollup_status TEXT NOT NULL DEFAULT 'n/a',
    owner TEXT DEFAULT '', event_time REAL, comment TEXT DEFAULT '',
    fail_count INTEGER DEFAULT 0, pass_count INTEGER DEFAULT 0,
    locked INTEGER NOT NULL DEFAULT 0, last_update REAL,
    UNIQUE (target, runname));
CREATE TABLE IF NOT EXISTS tests (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    testname TEXT NOT NULL, item_path TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'NOT_STARTED', status TEXT NOT NULL DEFAULT 'n/a',
    host TEXT DEFAULT '', uname TEXT DEFAULT '', cpuload REAL DEFAULT -1,
    diskfree INTEGER DEFAULT -1, rundir TEXT DEFAULT '', shortdir TEXT DEFAULT '',
    final_logf TEXT DEFAULT 'logs/final.log', run_duration REAL DEFAULT 0,
    comment TEXT DEFAULT '', event_time REAL, fail_count INTEGER DEFAULT 0,
    pass_count INTEGER DEFAULT 0, archived INTEGER DEFAULT 0,
    pid INTEGER, attempt INTEGER NOT NULL DEFAULT 0, heartbeat_at REAL,
    job_id TEXT DEFAULT '', last_update REAL,
    UNIQUE (run_id, testname, item_path));
CREATE INDEX IF NOT EXISTS tests_state ON tests (state);
CREATE TABLE IF NOT EXISTS test_steps (
    id INTEGER PRIMARY KEY, test_id INTEGER NOT NULL REFERENCES tests(id),
    stepname TEXT NOT NULL, state TEXT NOT NULL, status TEXT DEFAULT 'n/a',
    event_time REAL, comment TEXT DEFAULT '', logfile TEXT DEFAULT '', last_update REAL,
    UNIQUE (test_id, stepname, state));
CREATE TABLE IF NOT EXISTS test_data (
    id INTEGER PRIMARY KEY, test_id INTEGER NOT NULL REFERENCES tests(id),
    category TEXT NOT NULL DEFAULT '', variable TEXT NOT NULL, value, expected, tol,
    units TEXT DEFAULT '', comment TEXT DEFAULT '', status TEXT DEFAULT '',
    type TEXT DEFAULT '', last_update REAL,
    UNIQUE (test_id, category, variable));
CREATE TABLE IF NOT EXISTS test_meta (
    id INTEGER PRIMARY KEY, testname TEXT NOT NULL UNIQUE, author TEXT DEFAULT '',
    owner TEXT DEFAULT '', description TEXT DEFAULT '', reviewed TEXT DEFAULT '',
    iterated TEXT DEFAULT '', avg_runtime REAL, avg_disk REAL, tags TEXT DEFAULT '',
    jobgroup TEXT DEFAULT 'default', last_update REAL);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('runner', 'job', 'action')),
    action TEXT DEFAULT '', target TEXT DEFAULT '', runname TEXT DEFAULT '',
    testpatt TEXT DEFAULT '', params TEXT DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'new' CHECK (state IN
        ('new', 'claimed', 'running', 'done', 'failed', 'killed', 'stale')),
    host TEXT DEFAULT '', pid INTEGER, job_id TEXT DEFAULT '',
    run_id INTEGER, test_id INTEGER,
    created REAL, claimed_at REAL, heartbeat_at REAL, finished_at REAL, exit_code INTEGER);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks (kind, state);
"""),
]

# the tables migration 002 gave change numbers; later tables get theirs in their own migration
SEQUENCED_AT_002 = ("keys", "metadat", "runs", "tests", "test_steps", "test_data", "test_meta", "tasks")
SYNCED_TABLES = SEQUENCED_AT_002 + ("attempts", "archives")


def _change_sequence_sql():
    """Every synced row carries the change number of its last write; deletes leave tombstones.

    The syncer copies rows above the shared copy's mark: no wall clock, so no skew, no ties."""
    parts = ["""
CREATE TABLE IF NOT EXISTS change_counter (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO change_counter (id, n) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS tombstones (id INTEGER PRIMARY KEY, tbl TEXT NOT NULL,
    row_id INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_seq ON tombstones (seq);
"""]
    for table in SEQUENCED_AT_002:
        parts.append(f"""
ALTER TABLE {table} ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS {table}_seq ON {table} (seq);
""" + _trigger_sql(table))
    return "".join(parts)


def _trigger_sql(table):
    return f"""
CREATE TRIGGER IF NOT EXISTS {table}_seq_ins AFTER INSERT ON {table} BEGIN
  UPDATE change_counter SET n = n + 1;
  UPDATE {table} SET seq = (SELECT n FROM change_counter) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER IF NOT EXISTS {table}_seq_upd AFTER UPDATE ON {table} WHEN NEW.seq IS OLD.seq BEGIN
  UPDATE change_counter SET n = n + 1;
  UPDATE {table} SET seq = (SELECT n FROM change_counter) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER IF NOT EXISTS {table}_seq_del AFTER DELETE ON {table} BEGIN
  UPDATE change_counter SET n = n + 1;
  INSERT INTO tombstones (tbl, row_id, seq) VALUES ('{table}', OLD.rowid, (SELECT n FROM change_counter));
END;
"""


def drop_triggers(conn):
    """A copy (the shared megatest.db) takes change numbers from the live db, never its own."""
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')


def create_triggers(conn):
    """Give a database rebuilt from a copy its change-number triggers back."""
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table in SYNCED_TABLES:
        if table not in present:        # a copy older than the migration that adds it
            continue
        for statement in _statements(_trigger_sql(table)):
            conn.execute(statement)


MIGRATIONS.append(("002-change-sequence", _change_sequence_sql()))

# Reruns are attempts, not overwrites: a record's earlier attempts are kept here (their logs
# under <rundir>/.mt-attempts/N), and every record keeps its wrapper's exit code.
MIGRATIONS.append(("003-attempts", """
ALTER TABLE tests ADD COLUMN exit_code INTEGER;
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY, test_id INTEGER NOT NULL REFERENCES tests(id),
    attempt INTEGER NOT NULL, state TEXT NOT NULL, status TEXT NOT NULL,
    comment TEXT DEFAULT '', host TEXT DEFAULT '', exit_code INTEGER,
    started REAL, duration REAL, logdir TEXT DEFAULT '', final_logf TEXT DEFAULT '',
    last_update REAL, seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (test_id, attempt));
CREATE INDEX IF NOT EXISTS attempts_seq ON attempts (seq);
CREATE INDEX IF NOT EXISTS attempts_test ON attempts (test_id);
""" + _trigger_sql("attempts")))


def _archive_sql():
    """Archives of runs (mt-clean --archive): one row per archive file, synced like the other
    tables. tests.archived keeps Megatest's meaning: 0 not archived, else the id of the
    archive holding the record's directory. A run has at most one archive that is not
    `restored`; `archiving` and `restoring` mark work a kill interrupted."""
    return """
CREATE TABLE IF NOT EXISTS archives (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    state TEXT NOT NULL DEFAULT 'archiving' CHECK (state IN
        ('archiving', 'archived', 'restoring', 'restored')),
    archive_type TEXT NOT NULL DEFAULT 'tar.gz',
    archive_path TEXT NOT NULL,
    du INTEGER DEFAULT 0,
    created REAL, restored REAL, last_update REAL,
    seq INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS archives_run ON archives (run_id);
CREATE INDEX IF NOT EXISTS archives_seq ON archives (seq);
""" + _trigger_sql("archives")


MIGRATIONS.append(("004-archive", _archive_sql()))

VERSION = len(MIGRATIONS)


def ensure(conn):
    """Bring the schema up to VERSION; a newer database than this code is refused."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current == VERSION:
        return
    if current > VERSION:
        from megatest.errors import MtError
        raise MtError(f"database schema version {current} is newer than this program's {VERSION}",
                      hint="upgrade megatest-py, or use the version that created this database")
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, (name, sql) in enumerate(MIGRATIONS[current:], start=current + 1):
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO metadat (var, val) VALUES ('migration', ?)", (name,))
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(sql):
    """Split a script into statements; a trigger body's inner `;` stays inside its CREATE."""
    out, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3_complete(current):
            if current.strip(" \n;"):
                out.append(current.strip())
            current = ""
    return out


def sqlite3_complete(text):
    import sqlite3
    return sqlite3.complete_statement(text)
