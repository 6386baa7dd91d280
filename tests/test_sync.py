"""mt-sync and the live/shared databases: change numbers, tombstones, kill -9, one syncer."""
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, mt
from megatest.config.area import Area
from megatest.store import db, sync

TABLES = ("runs", "tests", "test_steps", "test_data", "tasks", "metadat", "keys", "test_meta")


@pytest.fixture
def ran_area(make_area, mt_env):
    area = make_area({"t": "[items]\nN 1 2 3\n[ezsteps]\ns1 true\n"})
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert out.returncode == 0, out.stderr
    return area


def live_of(area, env):
    return Area(str(area)).live_db_path(env)


def dump(path, table):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
    finally:
        conn.close()


def assert_same(live, shared):
    for table in TABLES:
        assert dump(live, table) == dump(shared, table), table


def test_run_leaves_shared_copy_equal_and_in_rollback_mode(ran_area, mt_env):
    live, shared = live_of(ran_area, mt_env), str(ran_area / "megatest.db")
    assert_same(live, shared)
    conn = sqlite3.connect(shared)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_incremental_sync_copies_changed_rows_and_deletes(ran_area, mt_env):
    live, shared = live_of(ran_area, mt_env), str(ran_area / "megatest.db")
    conn = db.connect(live)
    with db.transaction(conn):
        conn.execute("UPDATE tests SET comment='changed' WHERE item_path='2'")
        conn.execute("DELETE FROM test_steps WHERE test_id=(SELECT id FROM tests WHERE item_path='3')")
    result = sync.sync_once(live, shared)
    assert not result.full and result.rows == 3          # one update, two step rows deleted
    assert_same(live, shared)
    assert sync.sync_once(live, shared).rows == 0         # nothing changed: nothing copied


def test_second_syncer_exits_at_once(ran_area, mt_env):
    first = subprocess.Popen([str(BIN / "mt-sync"), "--area", str(ran_area), "--for", "5",
                              "--interval", "1"], env=mt_env)
    try:
        time.sleep(1.0)
        start = time.time()
        out = mt("sync", "--area", ran_area, "--for", "5", "--interval", "1", env=mt_env)
        assert out.returncode == 0 and time.time() - start < 1.5
    finally:
        first.terminate()
        first.wait()


def test_kill_9_at_random_instants_never_corrupts(ran_area, mt_env):
    live, shared = live_of(ran_area, mt_env), str(ran_area / "megatest.db")
    conn = db.connect(live)
    rng = random.Random(7)
    for round_ in range(25):
        with db.transaction(conn):
            for n in range(200):
                conn.execute("INSERT INTO test_data (test_id, category, variable, value) "
                             "VALUES (1, 'c', ?, ?)", (f"v{round_}-{n}", n))
            conn.execute("DELETE FROM test_data WHERE variable LIKE ?", (f"v{round_ - 1}-1%",))
        p = subprocess.Popen([str(BIN / "mt-sync"), "--area", str(ran_area), "--once"], env=mt_env)
        time.sleep(rng.uniform(0.0, 0.25))
        p.send_signal(signal.SIGKILL)
        p.wait()
        check = sqlite3.connect(shared)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
    out = mt("sync", "--area", ran_area, "--once", env=mt_env)
    assert out.returncode == 0
    assert_same(live, shared)


def test_lost_live_db_is_rebuilt_from_shared(ran_area, mt_env):
    live = live_of(ran_area, mt_env)
    before = dump(live, "tests")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(live + suffix):
            os.unlink(live + suffix)
    out = mt("run", "--area", ran_area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert out.returncode == 0
    after = dump(live, "tests")
    assert [r[:6] for r in after] == [r[:6] for r in before]     # nothing rerun, same records


def test_status_write_reaches_shared_within_five_seconds(ran_area, mt_env):
    live, shared = live_of(ran_area, mt_env), str(ran_area / "megatest.db")
    syncer = subprocess.Popen([str(BIN / "mt-sync"), "--area", str(ran_area), "--for", "60"],
                              env=mt_env)
    try:
        conn = db.connect(live)
        lags = []
        for trial in range(10):
            with db.transaction(conn):
                conn.execute("UPDATE tests SET comment=? WHERE item_path='1'", (f"trial {trial}",))
            start = time.time()
            while time.time() - start < 6:
                got = sqlite3.connect(f"file:{shared}?mode=ro", uri=True).execute(
                    "SELECT comment FROM tests WHERE item_path='1'").fetchone()[0]
                if got == f"trial {trial}":
                    break
                time.sleep(0.05)
            lags.append(time.time() - start)
        assert max(lags) <= 5.0, lags
    finally:
        syncer.terminate()
        syncer.wait()


def test_sync_usage_errors(ran_area, mt_env):
    out = mt("sync", "--area", ran_area, "--for", "5", "--interval", "10", env=mt_env)
    assert out.returncode == 2 and "--interval" in out.stderr
    out = mt("sync", "--crontab", "--area", ran_area, env=mt_env)
    assert out.returncode == 0 and out.stdout.startswith("* * * * * ") and "--for 60" in out.stdout


def test_next_minutes_syncer_takes_over_from_one_about_to_end(ran_area, mt_env):
    cmd = [str(BIN / "mt-sync"), "--area", str(ran_area), "--for", "4", "--interval", "1"]
    first = subprocess.Popen(cmd, env=mt_env)
    time.sleep(3.0)                      # the first ends within the handover window
    second = subprocess.Popen(cmd, env=mt_env)
    time.sleep(2.5)
    try:
        assert first.poll() is not None          # the first has finished its time
        assert second.poll() is None             # the newcomer waited and took over
    finally:
        for p in (first, second):
            p.terminate()
            p.wait()
