"""Issue 9, the live database's storage and runs that cannot progress: a full or read-only
live db, an unwritable MT_TMPDIR, a read-only area, a stalled run. Each test here failed
(traceback, hang, lost records) before its fix, except the one that checks the stall guard
leaves a run with a live remote test alone."""
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, mt, records, runs_json, write_area

ROWS = 1500          # data rows per test: 8 tests of these outgrow a 1 MB live db


@pytest.fixture
def mounts():
    """mount(*args): `mount ARGS` (root only; skipped otherwise); all unmounted after."""
    made = []

    def mount(*args):
        if os.geteuid() != 0:
            pytest.skip("mounting needs root")
        target = str(args[-1])
        os.makedirs(target, exist_ok=True)
        out = subprocess.run(["mount", *map(str, args)], capture_output=True, text=True)
        if out.returncode:
            pytest.skip(f"cannot mount: {out.stderr.strip()}")
        if target not in made:
            made.append(target)
        return target

    yield mount
    for target in reversed(made):
        if subprocess.run(["umount", target], capture_output=True).returncode:
            subprocess.run(["umount", "-l", target], check=False)   # a test's process lingers


def tmpfs(mount, path, size="1m"):
    return mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", path)


@pytest.fixture
def read_only(mounts):
    """make(path, bind_over=False): path (a directory) made read-only; make.reason is the error
    writing into it then meets. As root, which ignores file modes, a read-only mount (an
    empty tmpfs remounted ro, or a read-only bind mount of path over itself); otherwise
    chmod -R a-w, undone at the end."""
    chmodded = []

    def make(path, bind_over=False):
        path = str(path)
        if make.as_root:
            if bind_over:
                return mounts("--bind", "-o", "ro", path, path)
            tmpfs(mounts, path)
            subprocess.run(["mount", "-o", "remount,ro", path], check=True)
            return path
        os.makedirs(path, exist_ok=True)
        subprocess.run(["chmod", "-R", "a-w", path], check=True)
        chmodded.append(path)
        return path

    make.as_root = os.geteuid() == 0
    make.reason = "Read-only file system" if make.as_root else "Permission denied"
    yield make
    for path in chmodded:
        subprocess.run(["chmod", "-R", "u+w", path], check=True)


def run(area, env, runname="r", timeout=120):
    return mt("run", "--area", area, "--target", "a/b", "--runname", runname, "--quiet",
              env=env, timeout=timeout)


def live_db(env, area):
    from megatest.config.area import Area
    return Area(os.path.realpath(area)).live_db_path(env)


def data_counts(env, area):
    conn = sqlite3.connect(f"file:{live_db(env, area)}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT t.testname, count(d.id) FROM tests t LEFT JOIN test_data d "
                                 "ON d.test_id = t.id GROUP BY t.id"))
    finally:
        conn.close()


def logs_of(area):
    return {p: p.read_text(errors="replace") for p in (area / "disk0").rglob("*.log")}


# ---------------------------------------------------------------- §1 the stall guard

def stalling_area(make_area, **kw):
    """t1's script sets its own record back to NOT_STARTED/n/a; t2 waits on t1."""
    area = make_area({"t1": "[setup]\nrunscript main.sh\n",
                      "t2": "[requirements]\nwaiton t1\n\n[ezsteps]\ns echo hi\n"}, **kw)
    script = area / "tests" / "t1" / "main.sh"
    script.write_text("#!/bin/sh\nmt-test status NOT_STARTED n/a\n")
    script.chmod(0o755)
    return area


def test_a_run_that_cannot_progress_ends_naming_its_records(make_area, mt_env):
    """Nothing runs, nothing can start, records not final: the run ends (it waited for ever),
    exit 1, one line says it stalled and the summary says why each record cannot finish."""
    area = stalling_area(make_area)
    out = run(area, mt_env, timeout=30)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("mt-run: error: run a/b/r stalled: nothing runs and nothing "
                                 "can start, yet 2 of its records cannot finish")
    assert ("NOT_STARTED/n/a  t1 (cannot progress: NOT_STARTED/n/a again after its launch "
            "(set by its test or another writer)") in out.stdout
    assert "NOT_STARTED/n/a  t2 (cannot progress: waits on t1, which cannot finish)" in out.stdout
    assert runs_json(area, mt_env)[0]["state"] == "incomplete"


def test_the_stall_guard_leaves_a_run_alone_while_a_launched_test_lives(make_area, mt_env):
    """A test a launcher started in the background (the launcher returned at once) is alive
    though no child of the runner runs: the run waits for it and its waiter."""
    area = make_area({"t1": "[ezsteps]\ns sleep 2\n",
                      "t2": "[requirements]\nwaiton t1\n\n[ezsteps]\ns echo hi\n"},
                     config="[jobtools]\nlauncher setsid -f\n")
    out = run(area, mt_env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "stalled" not in out.stderr
    assert {k: r["status"] for k, r in records(area, mt_env).items()} == {"t1": "PASS", "t2": "PASS"}


def test_a_record_finished_elsewhere_is_seen_by_a_waiting_runner(make_area, mt_env):
    """t1's record runs on another host (its executor reports there, not to this runner);
    when it is finished there, the runner, which has nothing else to do, re-reads it and
    launches its waiter instead of waiting for ever."""
    area = make_area({"t1": "[ezsteps]\ns echo hi\n",
                      "t2": "[requirements]\nwaiton t1\n\n[ezsteps]\ns echo hi\n"})
    assert run(area, mt_env).returncode == 0
    write(mt_env, area, "UPDATE tests SET state='RUNNING', status='n/a', host='elsewhere', "
                        "heartbeat_at=strftime('%s','now') WHERE testname='t1'")
    write(mt_env, area, "UPDATE tests SET state='NOT_STARTED', status='n/a' WHERE testname='t2'")
    proc = subprocess.Popen([str(BIN / "mt-run"), "--area", str(area), "--target", "a/b",
                             "--runname", "r", "--quiet"], env=mt_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    write(mt_env, area, "UPDATE tests SET state='COMPLETED', status='PASS' WHERE testname='t1'")
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    assert "COMPLETED  PASS     t2" in out


def write(env, area, sql):
    conn = sqlite3.connect(live_db(env, area), timeout=60)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


# ---------------------------------------------------------------- §2 a full live db

def data_area(root, tests=8):
    """Tests that each load ROWS data rows through mt-test, then take a moment."""
    body = ("[ezsteps]\ns1 seq 1 %d | sed 's/.*/c,v&,&/' > d.csv && mt-test data load d.csv\n"
            "s2 sleep 0.5\n") % ROWS
    return write_area(root, {f"t{i}": body for i in range(tests)})


def test_a_full_live_db_stops_the_run_resumably_and_a_rerun_finishes(tmp_path, mt_env, mounts):
    """The runner stops launching with one line naming the full live db; no record is
    ABORTed or FAILed for it, no mt-test traceback; once space returns the same mt-run
    finishes every test with every row the tests recorded while the db was full."""
    livedir = tmpfs(mounts, tmp_path / "livedb")
    area = data_area(tmp_path / "area")
    first = run(area, mt_env)
    assert first.returncode == 1, first.stdout + first.stderr
    error = [line for line in first.stderr.splitlines() if line.startswith("mt-run: error:")]
    assert len(error) == 1 and "Traceback" not in first.stderr, first.stderr
    assert f"the live database (MT_TMPDIR={livedir}) refused a write at " \
           f"{live_db(mt_env, area)}: database or disk is full" in error[0]
    assert "run the same mt-run again" in first.stderr
    statuses = {r["status"] for r in records(area, mt_env).values()}
    assert statuses <= {"PASS", "n/a"} and "n/a" in statuses
    assert not [p for p, text in logs_of(area).items() if "Traceback" in text]
    still_full = run(area, mt_env)
    # Registration may still find a free page (exit 1, 'stopped') or not (exit 2, 'not
    # started'): either way one line names the full live db and nothing is lost.
    first_line = still_full.stderr.splitlines()[0]
    assert (still_full.returncode, first_line.split(":")[2].split("(")[0].strip()) in \
        {(2, "run a/b/r not started"), (1, "run a/b/r stopped")}, still_full.stderr
    assert f"the live database (MT_TMPDIR={livedir}) refused a write at " in first_line
    assert "database or disk is full" in first_line and "Traceback" not in still_full.stderr

    subprocess.run(["mount", "-o", "remount,size=20m", livedir], check=True)
    second = run(area, mt_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert {(r["state"], r["status"]) for r in records(area, mt_env).values()} == {("COMPLETED", "PASS")}
    assert data_counts(mt_env, area) == {f"t{i}": ROWS for i in range(8)}
    assert not list((area / "disk0").rglob("journal"))


def test_mt_test_keeps_calls_in_its_journal_while_the_live_db_is_full(tmp_path, mt_env, mounts):
    """A test's mt-test call that the full live db refuses exits 0 with a note and goes to
    the journal; its next call, once space returns, delivers it first."""
    tmpfs(mounts, tmp_path / "livedb")
    area = write_area(tmp_path / "area", {"t": "[setup]\nrunscript main.sh\n"})
    script = area / "tests" / "t" / "main.sh"
    script.write_text(
        "#!/bin/sh\nsleep 1\n"                         # the runner has written what it had to
        "dd if=/dev/zero of=$MT_TMPDIR/filler bs=4k 2>/dev/null\n"
        "mt-test data set c full 1 --expected 1 --tol 0 2> full.err; echo $? > full.rc\n"
        "rm $MT_TMPDIR/filler\n"
        "mt-test status COMPLETED AUTO\n")
    script.chmod(0o755)
    out = run(area, mt_env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    rundir = area / "disk0/a/b/r/t"
    assert (rundir / "full.rc").read_text() == "0\n"
    note = (rundir / "full.err").read_text()
    assert note.startswith(f"mt-test: note: the live database {live_db(mt_env, area)} refused "
                           "the write (database or disk is full); data kept in "), note
    rec = records(area, mt_env)["t"]
    assert (rec["state"], rec["status"]) == ("COMPLETED", "PASS")      # AUTO: from the row
    assert data_counts(mt_env, area) == {"t": 1}
    assert not (rundir / ".mt/journal").exists()


def test_a_delivery_rolled_back_gives_the_journal_back(tmp_path):
    """The runner delivers an ended test's journal inside its pass, and delivery trims the
    journal at once; when the pass then rolls back (the disk filled at COMMIT), the lines
    come back, so the calls are delivered by the next runner instead of lost."""
    from types import SimpleNamespace
    from megatest.run.runner import Runner
    from megatest.store import db, schema
    from megatest.testside import journal
    conn = db.connect(str(tmp_path / "live.db"))
    schema.ensure(conn)
    run_id = db.register_run(conn, db.register_keys(conn, ["k"]), ["a"], "r", "me")
    db.register_tests(conn, run_id, [("t", "")])
    test_id = db.find_test(conn, run_id, "t", "")["id"]
    journal.append_journal(str(tmp_path), "status", {"test": {"id": test_id},
                                                        "state": "COMPLETED", "status": "PASS"})
    runner = Runner.__new__(Runner)
    runner.conn, runner.plan, runner.given_back, runner.after_commit = conn, SimpleNamespace(env={}), [], []
    runner.say = print

    def state():
        return tuple(db.get_test(conn, test_id)[k] for k in ("state", "status"))

    with pytest.raises(sqlite3.OperationalError):
        with runner._writing():
            runner._deliver_journal(str(tmp_path))
            assert state() == ("COMPLETED", "PASS")
            raise sqlite3.OperationalError("database or disk is full")
    assert state() == ("NOT_STARTED", "n/a")
    assert (tmp_path / ".mt/journal").exists()
    with runner._writing():
        runner._deliver_journal(str(tmp_path))
    assert state() == ("COMPLETED", "PASS")
    assert not (tmp_path / ".mt/journal").exists() and not runner.given_back


# ---------------------------------------------------------------- unwritable places

def test_a_read_only_mt_tmpdir_is_one_line_naming_it(tmp_path, mt_env, read_only):
    livedir = read_only(tmp_path / "livedb")
    area = write_area(tmp_path / "area", {"t": "[ezsteps]\ns echo hi\n"})
    out = run(area, mt_env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.splitlines()[0] == (
        f"mt-run: error: cannot write the live database (MT_TMPDIR={livedir}) at "
        f"{livedir}/mt-{mt_env.get('USER') or 'root'}: {read_only.reason}")
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 2   # + try:


def test_a_read_only_area_is_one_line(tmp_path, mt_env, read_only):
    """An area mounted read-only (its disk elsewhere) that was never run: the first write
    into it is refused, and said so in one line naming the place."""
    area = write_area(tmp_path / "area", {"t": "[ezsteps]\ns echo hi\n"})
    text = (area / "megatest.config").read_text().replace(str(area / "disk0"), str(tmp_path / "disk"))
    (area / "megatest.config").write_text(text)
    (tmp_path / "disk").mkdir()
    read_only(area, bind_over=True)
    out = run(area, mt_env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr == (f"mt-run: error: cannot record this host as the area's home host in "
                          f"{area}/.mt/homehost: {read_only.reason}\n"
                          f"  try: the first run records it in the area's .mt/: make the area "
                          f"writable there (or name the home host with [server] homehost)\n")


def test_the_live_db_filling_during_open_is_one_line(tmp_path, mt_env, mounts):
    """A live db directory with no room left for a new database: one line, exit 2."""
    livedir = tmpfs(mounts, tmp_path / "livedb", size="64k")
    area = write_area(tmp_path / "area", {"t": "[ezsteps]\ns echo hi\n"})
    full = subprocess.run(["dd", "if=/dev/zero", f"of={livedir}/filler", "bs=4k"],
                          capture_output=True, text=True)
    assert "No space left on device" in full.stderr
    out = run(area, mt_env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"mt-run: error: cannot write the live database "
                                 f"(MT_TMPDIR={livedir}) at "), out.stderr
    assert "Traceback" not in out.stderr
