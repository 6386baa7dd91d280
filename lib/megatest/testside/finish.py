"""The final state of a record whose wrapper ended (behaviour.md §11.6), from its run directory.

Used by whichever process notices the end: the runner that started the test, a runner that
adopted it, or the server's sweep when no runner is alive.
"""
import os

from megatest import states
from megatest.store import db

# states a record keeps whatever its steps did: being killed or removed
_KEPT_STATES = frozenset((states.KILLREQ, states.KILLED, states.CLEANING, states.REMOVING,
                          states.ARCHIVE_REMOVING, states.DELETED))


def record_steps(conn, test_id, p, rundir=None):
    """Step rows (start, end) from the wrapper's .mt-steps; idempotent. A step checked by a
    log checker has its NAME.dat loaded as test data (once, when its end row is new) and
    the checker's message in its comment (behaviour.md §11.4)."""
    done = {name: (rc, kind, t) for name, rc, kind, t in p.ends}
    for name, t in p.starts:
        db.add_step(conn, test_id, name, "start", "n/a", event_time=t, logfile=f"{name}.log")
        if name in done:
            rc, kind, t_end = done[name]
            status = p.step_status(rc, kind)
            message = f"exit code {rc}"
            if kind == "checker" and rundir:
                message = _checker_data(conn, test_id, rundir, name) or f"log checker exit code {rc}"
            comment = "" if status == "PASS" else ("log checker not found" if kind == "nochecker"
                                                   else f"{status}: {message}")
            log = f"{name}.html" if kind == "checker" else f"{name}.log"
            db.add_step(conn, test_id, name, "end", str(rc), comment=comment, logfile=log,
                        event_time=t_end)


def _checker_data(conn, test_id, rundir, name):
    """The checker's message from RUNDIR/NAME.dat ("" when none); its rows are loaded as test
    data the first time the step's end is recorded."""
    from megatest.testside import checkerdata, datarows
    rows, _ = checkerdata.checker_rows(os.path.join(rundir, f"{name}.dat"), name)
    if not db.step_exists(conn, test_id, name, "end"):
        datarows.store(conn, test_id, rows)
    return checkerdata.verdict_message(rows)


def final_fields(conn, row, p, now, killed_status=None, kill_comment=""):
    """(fields to set, only_states) for a record whose wrapper is gone; p is its Progress or
    None. None when the record keeps what the test itself set. The wrapper's exit code is
    kept whatever else is (reports and attempts show it)."""
    fields, only = _final_fields(conn, row, p, now, killed_status, kill_comment)
    if p is not None and p.exit_code is not None:
        fields["exit_code"] = p.exit_code
    return fields, only


def _final_fields(conn, row, p, now, killed_status, kill_comment):
    duration = p.duration() if p is not None else None
    if duration is None:                 # no end of its own: as long as it was seen running
        duration = round(now - (row["event_time"] or now), 3)
    if killed_status:
        return dict(state="KILLED", status=killed_status, comment=kill_comment or "killed",
                    run_duration=duration), None
    if p is None or p.exit_code is None:
        return dict(state="COMPLETED", status="DEAD", comment="test stopped reporting",
                    run_duration=duration), states.RUNNING_STATES
    if row["state"] == "KILLREQ":
        return dict(state="KILLED", status="KILLED", comment="kill requested",
                    run_duration=duration), None
    # Megatest sets the record after every ezstep (RUNNING or COMPLETED / the steps' worst),
    # over whatever a script set during the step; a runscript's result only reaches a
    # record the script left RUNNING (behaviour.md §11.6)
    ran_ezsteps = bool(p.ends) and row["state"] not in _KEPT_STATES
    if ran_ezsteps or row["state"] in ("RUNNING", "REMOTEHOSTSTART", "LAUNCHED") or \
            (row["state"] == "COMPLETED" and row["status"] == "DEAD"):
        status, comment = p.worst()
        if not ran_ezsteps:
            status = data_status(conn, row, status, p)
        return dict(state="COMPLETED", status=status, comment=comment or row["comment"] or "",
                    run_duration=duration, final_logf=final_log(p, row)), None
    return dict(run_duration=duration), None


def data_status(conn, row, status, p):
    """A status of AUTO (set by the test) resolved from its data. Failed data does not turn
    an exit code's PASS into FAIL: Megatest lets it stand, and its QA areas expect that."""
    from megatest.testside import testdata
    if row["status"] not in ("AUTO", "AUTO-WARN"):
        return status
    rows = [dict(r) for r in db.data_of_test(conn, row["id"])]
    computed, _, _ = testdata.rollup_status("n/a", rows)
    if computed in ("n/a", ""):
        return "AUTO-WARN" if p.runscript_rc == 2 else "AUTO"
    return computed


def final_log(p, row):
    if p and p.ends:
        name, _, kind, _ = p.ends[-1]
        return f"{name}.html" if kind == "checker" else f"{name}.log"
    if p and p.runscript_rc is not None:
        return "runscript.log"
    return row.get("final_logf") or ""
