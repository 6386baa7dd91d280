"""Removing runs and tests, and killing running tests (behaviour.md §13.11).

Removal is REMOVING/LOCKED, directories and links gone, then DELETED/n/a: records stay as
soft deletes and step/data rows become tombstones, so every delete reaches megatest.db.
"""
import os
import shutil
import signal
import time

from megatest import states
from megatest.launch import direct
from megatest.store import db

KILL_WAIT = 30.0        # s a remove waits for killed tests to stop
RUNNER_STOP_WAIT = 5.0  # s between SIGINT and SIGKILL of a run's active runner


def matching_runs(conn, target_patt, runname_patt):
    from megatest.config.patterns import match_name, match_target
    return [r for r in db.list_runs(conn)
            if match_target(target_patt, r["target"]) and match_name(runname_patt, r["runname"])]


def selected_tests(conn, run_id, testpatt):
    from megatest.config.patterns import compile_testpatt
    match = compile_testpatt(testpatt or "%")
    return [r for r in db.tests_of_run(conn, run_id) if match(r["testname"], r["item_path"])]


def request_kill(conn, run, testpatt, this_host):
    """KILLREQ on the selected running records; kill them here when no runner watches them.
    Returns the number of records asked to stop."""
    rows = [r for r in selected_tests(conn, run["id"], testpatt)
            if states.is_running(r["state"]) and not _has_items(conn, r)]
    runner_alive = any(t["host"] == this_host and direct.pid_alive(t["pid"])
                       for t in db.active_runners(conn, run["target"], run["runname"]))
    with db.transaction(conn):
        for r in rows:
            db.set_test_state(conn, r["id"], "KILLREQ", "n/a", only_states=states.RUNNING_STATES)
    if not runner_alive:
        _cancel_jobs(conn, rows)
        for r in rows:
            if r["job_id"]:
                continue                 # its scheduler job was cancelled: the record follows
            pid = _wrapper_pid(r) if r["host"] == this_host else None
            if pid:
                _kill_group(pid)
                with db.transaction(conn):
                    db.set_test_state(conn, r["id"], "KILLED", "KILLED", "killed by mt-clean --kill",
                                      only_states=("KILLREQ",))
    return len(rows)


def _wrapper_pid(row):
    """The test's wrapper pid: the record's, else the one in .mt-steps (its runner died
    before writing it), checked to be that test's live wrapper."""
    if row["pid"]:
        return row["pid"]
    if not row["shortdir"]:
        return None
    from megatest.launch.progress import read_progress
    pid = read_progress(row["shortdir"]).pid
    return pid if direct.is_wrapper_alive(pid, row["shortdir"]) else None


def _cancel_jobs(conn, rows):
    """One scancel (or bkill) for all the selected records' scheduler jobs, and their records
    end KILLED at once: no runner is alive to see the scheduler's verdict."""
    by_kind = {}
    for r in rows:
        job = db.job_row_of_test(conn, r["id"])
        if r["job_id"] and job and job["action"] in ("slurm", "lsf"):
            by_kind.setdefault(job["action"], []).append(r)
    for kind, recs in by_kind.items():
        if kind == "slurm":
            from megatest.launch import slurm as sched
        else:
            from megatest.launch import lsf as sched
        sched.cancel([r["job_id"] for r in recs], dict(os.environ))
        with db.transaction(conn):
            for r in recs:
                db.set_test_state(conn, r["id"], "KILLED", "KILLED", "scheduler job cancelled by mt-clean",
                                  only_states=states.RUNNING_STATES)


def wait_stopped(conn, run_id, testpatt, timeout=KILL_WAIT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(states.is_running(r["state"]) for r in selected_tests(conn, run_id, testpatt)
                   if not _has_items(conn, r)):
            return True
        time.sleep(0.2)
    return False


def stop_runner(conn, run, this_host):
    """SIGINT, then SIGKILL, an active mt-run of this run on this host (before removing it)."""
    for task in db.active_runners(conn, run["target"], run["runname"]):
        pid = task["pid"]
        if task["host"] != this_host or not pid or not direct.pid_alive(pid) or pid == os.getpid():
            continue
        os.kill(pid, signal.SIGINT)
        deadline = time.time() + RUNNER_STOP_WAIT
        while direct.pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        if direct.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def remove(conn, run, testpatt, keep_dirs=False):
    """Remove the selected records of one run; the run itself when nothing is left."""
    rows = selected_tests(conn, run["id"], testpatt)
    with db.transaction(conn):
        for r in rows:
            db.update_test(conn, r["id"], state="REMOVING", status="LOCKED")
    if not keep_dirs:
        for r in sorted(rows, key=lambda r: r["item_path"] == ""):   # items before their toplevel
            _remove_dirs(r)
    with db.transaction(conn):
        for r in rows:
            db.delete_test_rows(conn, r["id"])
            db.update_test(conn, r["id"], state="DELETED", status="n/a")
        if not db.tests_of_run(conn, run["id"]):
            db.set_run(conn, run["id"], state="deleted")
    return len(rows)


def _remove_dirs(row):
    link, phys = row["rundir"], row["shortdir"]
    if phys and os.path.isdir(phys) and not os.path.islink(phys):
        shutil.rmtree(phys, ignore_errors=True)
    if link and os.path.islink(link):
        os.unlink(link)


def _has_items(conn, row):
    return row["item_path"] == "" and db.has_items(conn, row["run_id"], row["testname"])


def _kill_group(pgid):
    direct.signal_group(pgid, signal.SIGTERM)
    deadline = time.time() + 5
    while direct.group_alive(pgid) and time.time() < deadline:
        time.sleep(0.1)
    direct.signal_group(pgid, signal.SIGKILL)
