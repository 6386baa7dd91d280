"""Declaring tests DEAD: a stale heartbeat AND a process confirmed gone, never a final record.

Megatest guessed death from run_duration + deadtime and marked healthy tests dead. Here a
record is DEAD only when its heartbeat is older than three heartbeat intervals and its pid
is verifiably gone on this host, or, when its host cannot be checked from here, only after
[setup] deadtime. Every write is compare-and-set on the running states.
"""
import os
import time

from megatest import states
from megatest.launch import direct, triggers
from megatest.store import db

HEARTBEAT_INTERVAL = 10.0          # s, the test side (runner or wrapper) writes heartbeat_at
STALE_AFTER = 3 * HEARTBEAT_INTERVAL
NEVER_STARTED_AFTER = 86400.0      # s a LAUNCHED record may wait in a scheduler queue


def verdict(row, now, this_host, deadtime):
    """The comment to mark this running record DEAD with, or "" to leave it alone."""
    beat = row["heartbeat_at"] or row["event_time"] or now
    age = now - beat
    if row["state"] == "LAUNCHED" and not row["pid"]:
        if row["job_id"]:
            return ""          # a scheduler job: its launcher's poll decides (issue #4)
        return "never started" if age > NEVER_STARTED_AFTER else ""
    if age <= STALE_AFTER:
        return ""
    if row["host"] == this_host:
        pid = row["pid"]
        if not pid and row["shortdir"]:
            from megatest.launch.progress import read_progress
            pid = read_progress(row["shortdir"]).pid    # its runner died before writing it
        return "test stopped reporting" if not direct.pid_alive(pid) else ""
    return "test stopped reporting (no heartbeat for deadtime)" if age > deadtime else ""


def sweep_once(conn, this_host, deadtime, skip_ids=()):
    """Finish or mark DEAD the area's running records whose process is gone; returns the
    updated rows. A wrapper that ended while no runner watched has its result recorded from
    its run directory instead. Toplevels are never swept."""
    from megatest.launch.progress import read_progress
    from megatest.testside import finish
    now = time.time()
    updated = []
    with db.transaction(conn):
        for row in db.running_records(conn, states.RUNNING_STATES):
            if row["id"] in skip_ids:
                continue
            why = verdict(row, now, this_host, deadtime)
            if not why:
                continue
            p = read_progress(row["shortdir"]) if row["host"] == this_host and row["shortdir"] else None
            if p is not None and p.exit_code is not None:
                finish.record_steps(conn, row["id"], p, row["shortdir"])
                fields, only = finish.final_fields(conn, dict(row), p, now)
            else:
                fields, only = dict(state="COMPLETED", status="DEAD", comment=why), None
            new = db.set_test_state(conn, row["id"], only_states=only or states.RUNNING_STATES,
                                    **fields)
            if new is not None:
                updated.append(new)
    for row in updated:
        triggers.fire(row["rundir"] or "", row["id"], row["state"], row["status"], os.environ)
    return updated
