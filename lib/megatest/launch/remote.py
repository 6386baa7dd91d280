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

from megatest import states
from megatest.launch import template
from megatest.launch.choice import choose
from megatest.store import db

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
    rows = db.tests_by_id(conn, test_ids)
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


# ---------------------------------------------------------------- watching (the runner's side)

VANISHED_AFTER = 2        # scheduler polls a job may be missing before it counts as gone


def job_comment(test_id):
    """Each scheduler job names its test, so a restarted runner finds jobs it never recorded."""
    return f"mt-test-{test_id}"


def scheduler_module(kind):
    if kind == "slurm":
        from megatest.launch import slurm
        return slurm
    from megatest.launch import lsf
    return lsf


def watch(runner, now, killreq):
    """Records run elsewhere: absorb the final ones; ask the scheduler about all of the run's
    jobs with one query per cycle (adaptive interval), and cancel killed ones with one call."""
    watched = {tid: run for tid, run in runner.jobs.running.items() if run.launcher != "direct"}
    if not watched:
        return
    for tid, row in final_rows(runner.conn, list(watched)).items():
        runner._absorb(watched.pop(tid), row)
    jobs = {run.job_id or job_comment(run.rec["id"]): run for run in watched.values()
            if run.launcher in ("slurm", "lsf")}
    if not jobs:
        return
    kinds = {run.launcher for run in jobs.values()}
    cancel = [j for j, run in jobs.items()
              if run.job_id and run.rec["id"] in killreq and run.kill_at is None]
    for kind in kinds:
        sched = scheduler_module(kind)
        mine = [j for j in cancel if jobs[j].launcher == kind]
        if mine:
            sched.cancel(mine, runner.plan.env)
            for j in mine:
                jobs[j].kill_at = now
        if now < runner.pacer.next_poll and not mine:
            continue
        listed = sched.poll(runner.job_tag(), runner.plan.env)
        if listed is None:
            runner.pacer.polled(False)
            continue
        by_comment = {c: j for j, (_, _, c) in listed.items() if c}
        verdicts, unsubmitted = [], []
        for job_id, run in jobs.items():
            if run.launcher != kind:
                continue
            if not run.job_id and job_id in by_comment:
                found_job(runner, run, by_comment[job_id])
                job_id = run.job_id
            if job_id in listed:
                run.missing = 0
                verdict = scheduler_verdict(*listed[job_id][:2])
            else:
                run.missing += 1
                if run.missing >= VANISHED_AFTER and not run.job_id:
                    unsubmitted.append(run)       # the runner died before sbatch returned
                    continue
                verdict = scheduler_verdict("", "job no longer known to the scheduler") \
                    if run.missing >= VANISHED_AFTER else None
            if verdict:
                verdicts.append((run, verdict))
        runner.pacer.polled(bool(verdicts))
        for run, (state, status, comment) in verdicts:
            scheduler_ended(runner, run, state, status, comment)
        for run in unsubmitted:
            never_submitted(runner, run)


def found_job(runner, run, job_id):
    """A job submitted by a runner that died before recording it: adopt it."""
    run.job_id = job_id
    with db.transaction(runner.conn):
        runner._set((run.rec["testname"], run.rec["item_path"]), job_id=job_id)
        if run.job:
            db.update_task(runner.conn, run.job, job_id=job_id)
        else:                      # so that mt-clean --kill finds it too
            run.job = db.add_task(runner.conn, "job", action=run.launcher, target=runner.plan.target,
                                  runname=runner.plan.runname, state="running", host=runner.host,
                                  job_id=job_id, run_id=runner.run_id, test_id=run.rec["id"],
                                  claimed_at=now(), heartbeat_at=now())


def never_submitted(runner, run):
    """LAUNCHED, but the scheduler never got the job: launch it again."""
    key = (run.rec["testname"], run.rec["item_path"])
    with db.transaction(runner.conn):
        changed = runner._set(key, state="NOT_STARTED", status="n/a", only_states=("LAUNCHED",))
    runner.jobs.running.pop(run.rec["id"], None)
    if changed:
        runner.queue.ready_set.discard(key)
        runner.records.dirty.add(key)


def scheduler_ended(runner, run, state, status, comment):
    """The job ended without its test reporting a final state: DEAD (KILLED if cancelled),
    within one polling cycle instead of after deadtime."""
    key = (run.rec["testname"], run.rec["item_path"])
    row = db.get_test(runner.conn, run.rec["id"])
    if states.is_final(row["state"], row["status"]):
        runner._absorb(run, row)
        return
    with db.transaction(runner.conn):
        runner._set(key, state=state, status=status, comment=comment,
                    run_duration=round(now() - (row["event_time"] or now()), 3),
                    only_states=states.RUNNING_STATES)
    runner._forget(run, "killed" if state == "KILLED" else "failed", None)


def quoted(words):
    return " ".join(shlex.quote(w) for w in words)


def now():
    return time.time()
