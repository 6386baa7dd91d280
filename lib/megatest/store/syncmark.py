"""The mark a sync leaves in megatest.db (which change of which live database it copied last),
and what it tells: whether the live database must be rebuilt from the shared copy.

Below both db.py (opening the live db checks it) and sync.py (each pass reads and writes it),
so neither needs the other's module to ask. Standard library only.
"""
import os
import sqlite3


def shared_state(conn, shared_path):
    """(mark, live id, schema signature) recorded in the shared copy, or None when unusable."""
    if not os.path.exists(shared_path):
        return None
    try:
        conn.execute("ATTACH DATABASE ? AS s", (shared_path,))
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT mark, live_id, schema_sig FROM s.sync_state WHERE id=1").fetchone()
    except sqlite3.Error:
        row = None
    if row is None:
        conn.execute("DETACH DATABASE s")
    return row


def shared_is_newer(live_path, shared_path):
    """True when the live db must be rebuilt from megatest.db: it is missing, or behind the
    shared copy's mark (the home host lost /tmp, or the area came back to an old home)."""
    if not os.path.exists(shared_path):
        return False
    if not os.path.exists(live_path):
        return True
    conn = sqlite3.connect(f"file:{live_path}?mode=ro", uri=True)
    try:
        state = shared_state(conn, shared_path)
        if state is None:
            return False
        try:
            n = conn.execute("SELECT n FROM main.change_counter").fetchone()[0]
        except sqlite3.Error:
            n = 0                     # a live db from before change numbers existed
        return n < state[0]
    finally:
        conn.close()
