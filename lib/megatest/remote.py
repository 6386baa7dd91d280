"""Tests the runner does not run itself: started through a launcher template or a scheduler.

Their wrapper (mt-exec) reports state, heartbeats and the result on its own; the runner
submits them, watches their records (one query per cycle for all of them) and asks the
scheduler about all of the run's jobs at once, so that a job that died without its test
reporting ends DEAD (or KILLED) within one polling cycle.
"""
import json
import os
import shlex
import time

from megatest import db, states
from megatest.launch import choose, template

EXEC_SPEC = ".mt/exec.json"


def write_exec_spec(rundir, env, script, runtimelim):
    """What mt-exec needs on the far side: the environment and the wrapper script."""
    os.makedirs(os.path.join(rundir, ".mt"), exist_ok=True)
    with open(os.path.join(rundir, EXEC_SPEC), "w") as f:
        json.dump({"env": env, "script": script, "runtimelim": runtimelim}, f)


def exec_path(env):
    """mt-exec beside the mt-test the test's environment names."""
    return os.path.join(os.path.dirname(env.get("MT_MEGATEST", "")) or "", "mt-exec")


def run_tag(run_id, area_id):
    """The scheduler job name of every job of a run: one query finds them all."""
    return f"mt-{area_id[-10:]}-{run_id}"


def placeholders(plan, rec, rundir, run_id):
    return {"RUNDIR": rundir, "TEST": rec["testname"], "ITEMPATH": rec["item_path"],
            "RUNID": str(run_id), "TESTID": str(rec["id"]), "TARGET": plan.target,
            "RUNNAME": plan.runname}


def choice_for(settings, key, warn=None):
    return choose(settings.config, key[0], key[1], warn)


def start_template(choice, plan, rec, rundir, env, run_id, useshell=True):
    """Start the launcher process; returns its pid."""
    argv = template.command(choice, exec_path(env), rundir,
                            placeholders(plan, rec, rundir, run_id), useshell)
    return template.start(argv, rundir, env)


def launch_failed(rundir, code):
    line = template.first_output_line(rundir)
    return f"launch failed (exit {code}): {line}" if line else f"launch failed (exit {code})"


def final_rows(conn, test_ids):
    """{id: row} of the watched records that are final now (one query)."""
    if not test_ids:
        return {}
    marks = ", ".join("?" for _ in test_ids)
    rows = conn.execute(f"SELECT {', '.join(db.TEST_COLUMNS)} FROM tests WHERE id IN ({marks})",
                        list(test_ids)).fetchall()
    return {r["id"]: r for r in rows if states.is_final(r["state"], r["status"])}


def scheduler_verdict(job_state, reason):
    """(state, status, comment) for a record whose scheduler job ended without its test
    reporting a final state, or None while the job may still run (queued, requeued)."""
    s = (job_state or "").upper()
    if s in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
             "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "PREEMPTED", "STAGE_OUT", "SIGNALING",
             "PEND", "RUN", "PSUSP", "USUSP", "SSUSP", "WAIT", "PROV"):
        return None
    if s in ("CANCELLED", "CANCELED", "KILLED"):
        return "KILLED", "KILLED", f"scheduler: job cancelled {reason}".strip()
    why = f"scheduler: job {s.lower() or 'vanished'}" + (f" ({reason})" if reason else "")
    return "COMPLETED", "DEAD", why


def quoted(words):
    return " ".join(shlex.quote(w) for w in words)


def now():
    return time.time()
