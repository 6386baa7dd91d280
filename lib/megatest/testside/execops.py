"""The calls of a test's wrapper on another host (mt-exec): start, and finish from the run dir.

They run wherever the live database is: directly on the home host, or inside mt-serve for
a wrapper elsewhere (the run directory is on the shared disk, so the server reads the
wrapper's record there and applies the same §11.6 rules the local runner does).
"""
import time

from megatest.store import db



def start(conn, test_id, test, params, where=""):
    """Behaviour.md §11.1: may this executor run the test? Marks REMOTEHOSTSTART if so.
    The same scheduler job starting again (requeued after a node failure) may: its earlier
    run is gone by the scheduler's word."""
    now = time.time()
    with db.transaction(conn):
        row = db.get_test(conn, test_id)
        if row["state"] == "KILLREQ":
            db.set_test_state(conn, test_id, "KILLED", "KILLED", "killed before it started")
            return {"code": 0, "run": False, "why": "kill requested"}
        if row["state"] in ("REMOVING", "DELETED", "CLEANING"):
            return {"code": 0, "run": False, "why": f"record is {row['state']}"}
        requeued = bool(params.get("job_id")) and params.get("job_id") == row["job_id"]
        if row["state"] in ("RUNNING", "REMOTEHOSTSTART") and row["heartbeat_at"] and \
                now - row["heartbeat_at"] < 30 and row["pid"] != params.get("pid") and not requeued:
            return {"code": 0, "run": False, "why": "another executor is running it"}
        db.set_test_state(conn, test_id, "REMOTEHOSTSTART", "n/a", host=params.get("host", ""),
                          pid=params.get("pid"), event_time=now, heartbeat_at=now,
                          uname=params.get("uname", ""))
    return {"code": 0, "run": True}


def finish(conn, test_id, test, params, where=""):
    """Record the final state from the wrapper's .mt-steps in the record's run directory."""
    from megatest.launch.progress import read_progress
    from megatest.testside import finish as fin
    now = time.time()
    with db.transaction(conn):
        row = dict(db.get_test(conn, test_id))
        rundir = params.get("rundir") or row["shortdir"]
        p = read_progress(rundir) if rundir else None
        if p:
            fin.record_steps(conn, test_id, p, rundir)
        fields, only = fin.final_fields(conn, row, p, now, params.get("killed") or None,
                                        params.get("comment", ""))
        new = db.set_test_state(conn, test_id, only_states=only, **fields)
    new = new or db.get_test(conn, test_id)
    changed = (new["state"], new["status"]) != (row["state"], row["status"])
    return {"code": 0, "id": test_id, "state": new["state"], "status": new["status"],
            "rundir": new["rundir"] or "", "fire": changed}


def poll_state(conn, test_id, test, params, where=""):
    """The record's state (a wrapper checks for KILLREQ) plus a heartbeat."""
    with db.transaction(conn):
        db.heartbeat_tests(conn, [test_id])
    row = db.get_test(conn, test_id)
    return {"code": 0, "state": row["state"], "status": row["status"]}


OPERATIONS = {"exec-start": start, "exec-finish": finish, "exec-beat": poll_state}
