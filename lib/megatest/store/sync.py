"""Keeping the area's shared megatest.db within seconds of the live database.

Rows carry the change number of their last write (schema migration 002) and deletes leave
tombstones, so one pass copies exactly the rows above the shared copy's mark. The batch and
the new mark commit in one transaction on the shared file (rollback journal, never WAL on a
shared disk): a kill at any instant leaves the previous consistent copy, and the next pass
continues from its mark.
"""
import errno
import hashlib
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass

from megatest.store import db, locks, schema, syncmark
from megatest.store.schema import SYNCED_TABLES

DEFAULT_INTERVAL = 5.0     # s: the longest a change waits before it reaches megatest.db
CHECKS_PER_INTERVAL = 5    # cheap change checks per interval (one SELECT each)
MIN_CHECK = 0.2            # s
WARN_EVERY = 60.0          # s: a lasting failure is told once a minute, not once a pass
BACKGROUND_QUIET = 30.0    # s: a runner's own final pass tells a short outage itself
SYNC_ERRORS = (sqlite3.Error, OSError)   # a pass that fails this way leaves megatest.db behind

log = logging.getLogger("megatest.sync")


@dataclass
class SyncResult:
    rows: int = 0            # rows copied or deleted
    full: bool = False       # the whole file was copied (first sync or schema change)
    seconds: float = 0.0
    mark: int = 0
    error: str = ""          # why the pass failed ("" when it did not): megatest.db is behind


def lock_path(area, environ=None, dbdir=None):
    return os.path.join(area.live_dir(environ, dbdir), "sync.lock")


def schema_signature(conn, db_name="main"):
    rows = conn.execute(f"SELECT name, sql FROM {db_name}.sqlite_master WHERE type='table' "
                        "AND name NOT IN ('sync_state', 'sqlite_sequence') ORDER BY name").fetchall()
    return hashlib.sha1(repr([tuple(r) for r in rows]).encode()).hexdigest()


def live_id(conn):
    row = conn.execute("SELECT val FROM metadat WHERE var='live_id'").fetchone()
    return row[0] if row else ""


def sync_once(live_path, shared_path):
    """One pass: copy what changed since the shared copy's mark, or the whole file when needed."""
    start = time.time()
    conn = sqlite3.connect(live_path, isolation_level=None, timeout=db.BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {db.BUSY_TIMEOUT_MS}")
        result = _incremental(conn, shared_path)
        if result is None:
            result = _full_copy(conn, shared_path)
    finally:
        conn.close()
    result.seconds = time.time() - start
    return result


def try_sync(live_path, shared_path):
    """One pass that never raises for a failed write: a full or read-only area disk must not
    turn a passing run into a failed one. The previous copy stays whole (one transaction, or a
    temp file renamed into place), so the next pass catches up from its mark."""
    try:
        return sync_once(live_path, shared_path)
    except SYNC_ERRORS as err:
        return SyncResult(error=failure_reason(err, shared_path))


def failure_reason(err, shared_path):
    """Why a pass failed, in the words a user acts on ("no space left on device")."""
    directory = os.path.dirname(os.path.abspath(shared_path))
    if (getattr(err, "errno", None) == errno.ENOSPC
            or getattr(err, "sqlite_errorname", "") == "SQLITE_FULL" or _no_space(directory)):
        return "no space left on device"
    text = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return text[:1].lower() + text[1:]


def _no_space(directory):
    """True when the disk holding directory has no free block left (sqlite's "disk I/O
    error" hides the cause when a journal write hits a full disk)."""
    try:
        return os.statvfs(directory).f_bavail == 0
    except OSError:
        return False


def behind_message(shared_path, reason):
    """The warning for a failed pass: which file is behind and why."""
    return (f"{shared_path} is behind the live database: sync failed: {reason} "
            "(the next sync catches up)")


def _incremental(conn, shared_path):
    state = syncmark.shared_state(conn, shared_path)
    if state is None:
        return None
    mark, shared_live_id, signature = state
    try:
        conn.execute("BEGIN")
        n = conn.execute("SELECT n FROM main.change_counter").fetchone()[0]
        if shared_live_id != live_id(conn) or signature != schema_signature(conn) or n < mark:
            conn.execute("ROLLBACK")
            conn.execute("DETACH DATABASE s")
            return None
        if n == mark:
            conn.execute("ROLLBACK")
            return SyncResult(mark=mark)
        rows = _copy_changes(conn, mark)
        conn.execute("UPDATE s.sync_state SET mark=?, synced_at=? WHERE id=1", (n, time.time()))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return SyncResult(rows=rows, mark=n)


def _copy_changes(conn, mark):
    rows = 0
    for table in SYNCED_TABLES:
        rows += conn.execute(
            f"DELETE FROM s.{table} WHERE rowid IN (SELECT row_id FROM main.tombstones "
            "WHERE tbl=? AND seq > ?)", (table, mark)).rowcount
        rows += conn.execute(f"INSERT OR REPLACE INTO s.{table} SELECT * FROM main.{table} "
                             "WHERE seq > ?", (mark,)).rowcount
    conn.execute("INSERT OR REPLACE INTO s.change_counter SELECT * FROM main.change_counter")
    return rows


def _full_copy(conn, shared_path):
    """Backup to a temp file beside the target, switch it to a rollback journal, rename."""
    tmp = shared_path + ".sync-tmp"
    _remove(tmp)
    try:
        return _copy_to(conn, tmp, shared_path)
    except BaseException:
        _remove(tmp)                      # a full disk must not keep a half copy around
        raise


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _copy_to(conn, tmp, shared_path):
    dst = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")
        schema.drop_triggers(dst)
        n = dst.execute("SELECT n FROM change_counter").fetchone()[0]
        dst.execute("CREATE TABLE IF NOT EXISTS sync_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
                    "mark INTEGER, live_id TEXT, schema_sig TEXT, synced_at REAL)")
        dst.execute("INSERT OR REPLACE INTO sync_state VALUES (1, ?, ?, ?, ?)",
                    (n, live_id(dst), schema_signature(dst), time.time()))
        rows = sum(dst.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SYNCED_TABLES)
    finally:
        dst.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, shared_path)
    return SyncResult(rows=rows, full=True, mark=n)


def sync_if_free(live_path, shared_path, lock_file, warn=None):
    """One pass unless another syncer holds the lock (then it does the work): the result,
    or None when skipped. Never raises for a failed pass: warn (default: the log) gets the
    line saying megatest.db is behind and why, and the result carries the reason."""
    fd = locks.try_hold(lock_file)
    if fd is None:
        return None
    try:
        result = try_sync(live_path, shared_path)
    finally:
        locks.release(fd)
    if result.error:
        (warn or log.warning)("warning: " + behind_message(shared_path, result.error))
    return result


HANDOVER = 2.0             # s: a newcomer waits for a holder this close to its end


def run(live_path, shared_path, lock_file, interval=DEFAULT_INTERVAL, until=None, stop=None,
        on_result=None, on_error=None, quiet_for=0.0):
    """Sync whenever something changed, checking interval/5 apart, while holding the one
    syncer lock; the last pass's result, or None at once when another syncer holds the lock,
    unless that one is about to end (cron starts the next `--for 60` syncer at the minute the
    last one ends): then this one waits for the lock and takes over, so no minute goes
    unsynced. A failed pass is retried at the next check; on_error(result) hears of failures
    that lasted quiet_for seconds, then once per WARN_EVERY while they last."""
    check = max(MIN_CHECK, interval / CHECKS_PER_INTERVAL)
    lock = _take_over(lock_file, check, until)
    if lock is None:
        return None
    try:
        _announce(lock, until)
        notice = _FailureNotice(quiet_for, WARN_EVERY)
        while True:
            result = _pass(live_path, shared_path, notice, on_result, on_error)
            if until is not None and time.time() >= until:
                return result
            if stop is not None:
                if stop.wait(check):
                    return _pass(live_path, shared_path, notice, on_result, on_error)
            else:
                time.sleep(check)
    finally:
        locks.release(lock)


def _pass(live_path, shared_path, notice, on_result, on_error):
    result = try_sync(live_path, shared_path)
    if on_result and (result.rows or result.full):
        on_result(result)
    if notice.due(result, time.time()) and on_error:
        on_error(result)
    return result


class _FailureNotice:
    """When a streak of failed passes deserves a warning: once it has lasted `delay` seconds,
    then every `every` seconds while it lasts (a disk full for an hour: a line a minute)."""

    def __init__(self, delay, every):
        self.delay, self.every = delay, every
        self.since = self.last = None

    def due(self, result, now):
        if not result.error:
            self.since = self.last = None
            return False
        if self.since is None:
            self.since = now
        if now - self.since < self.delay or (self.last is not None and now - self.last < self.every):
            return False
        self.last = now
        return True


def _take_over(lock_file, check, until):
    """The lock, or None: wait only for a holder that announced it ends within HANDOVER."""
    lock = locks.try_hold(lock_file)
    while lock is None:
        holder_end = _holder_deadline(lock_file)
        now = time.time()
        if holder_end is None or holder_end - now > HANDOVER or (until and now >= until):
            return None
        time.sleep(min(check, 0.2))
        lock = locks.try_hold(lock_file)
    return lock


def _announce(fd, until):
    """Write this holder's end time into the lock file (0: no end) for newcomers to read."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {until or 0:.3f}\n".encode(), 0)


def _holder_deadline(lock_file):
    try:
        with open(lock_file) as f:
            parts = f.read().split()
        end = float(parts[1])
    except (OSError, IndexError, ValueError):
        return None
    return end or None


def start_background(live_path, shared_path, lock_file, interval=1.0, warn=None):
    """A syncer thread for the life of a runner; it retries the lock if cron's syncer holds it,
    and a failed pass at the next check (warn, default the log, hears of a lasting failure).
    Returns (thread, stop event)."""
    stop = threading.Event()
    retry = max(MIN_CHECK, interval / CHECKS_PER_INTERVAL)

    def on_error(result):
        (warn or log.warning)("warning: " + behind_message(shared_path, result.error))

    def loop():
        while not stop.is_set():
            if run(live_path, shared_path, lock_file, interval, stop=stop, on_error=on_error,
                   quiet_for=BACKGROUND_QUIET) is not None:
                return
            stop.wait(retry)

    thread = threading.Thread(target=loop, name="mt-sync", daemon=True)
    thread.start()
    return thread, stop
