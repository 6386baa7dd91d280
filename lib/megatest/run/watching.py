"""Watching the runner's tests: the ends its shell reports, the children it reaps, a poll
for the rest (kill requests, runtime limits, step progress, scheduler verdicts), adoption
after a restart, relaunch of tests that never started, heartbeats.

Functions of the runner (runner.py) and its state (state.py), as launch/launchprep.py and
launch/remote.py are.
"""
import os
import signal
import time

from megatest import states
from megatest.launch import direct
from megatest.launch.progress import read_progress
from megatest.run import launching, localshell, registering
from megatest.run.state import Running
from megatest.store import db
from megatest.testside import finish

POLL_INTERVAL = 0.5        # s: adopted tests, kill requests, limits, step progress
HEARTBEAT_INTERVAL = 10.0  # s: heartbeat_at of the runner's running tests and its task row
KILL_GRACE = 5.0           # s between SIGTERM and SIGKILL of a test's process group
LAUNCH_GRACE = 5.0         # s a started record may lack its wrapper pid


def reap(runner):
    """Children that ended: the runner's shell, wrappers started on their own, launchers."""
    done = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        done[pid] = status
    if not done:
        return
    if runner.shell and runner.shell.pid in done:
        localshell.drop_shell(runner)
    by_pid = {run.pid: tid for tid, run in runner.jobs.running.items() if run.child}
    runs = [runner.jobs.running[by_pid[p]] for p in done if p in by_pid]
    finished = [run for run in runs if run.launcher == "direct"]
    for run in runs:
        if run.launcher != "direct":
            launcher_ended(runner, run, os.waitstatus_to_exitcode(done[run.pid]))
    if finished:
        runner._finish(finished)


def launcher_ended(runner, run, code):
    """A launcher process (ssh, nbfake ...) ended: from now on only the record is watched;
    a non-zero exit while the record never started is a failed launch."""
    from megatest.launch import remote
    run.child = False
    if code == 0:
        return
    key = (run.rec["testname"], run.rec["item_path"])
    with db.transaction(runner.conn):
        changed = runner._set(key, state="COMPLETED", status="ABORT",
                              comment=remote.launch_failed(run.rundir, code), only_states=("LAUNCHED",))
    if changed:
        runner._forget(run, "failed", code)


def adopt(runner):
    """Records left running by an earlier runner: adopt, finish or declare DEAD."""
    now = time.time()
    for key in sorted(runner.records.selected):
        r = runner.records.recs[key]
        if not states.is_running(r["state"]) or (key[1] == "" and runner.records.iterated.get(key[0])):
            continue
        job = db.job_row_of_test(runner.conn, r["id"])
        kind = job["action"] if job else launching.launcher_kind(runner, key)
        if kind in ("template", "slurm", "lsf"):
            runner.jobs.running[r["id"]] = Running(r, 0, r["shortdir"] or "", r["event_time"] or now,
                                              child=False, job=job["id"] if job else None,
                                              launcher=kind,
                                              job_id=(job["job_id"] if job else "") or r["job_id"] or "")
            runner.on_event("adopted", rec=r)
            continue
        if r["host"] and r["host"] != runner.host:
            continue       # on another host: its executor reports; the sweeper judges it
        rundir = r["shortdir"]
        p = read_progress(rundir) if rundir else None
        pid = r["pid"] or (p.pid if p else None) or (direct.find_wrapper(rundir) if rundir else None)
        shell_pid = (job["pid"] or 0) if job else 0
        run = Running(r, pid or 0, rundir, r["event_time"] or now, child=False,
                      job=job["id"] if job else None, shell_pid=shell_pid)
        if rundir and (p.exit_code is not None or direct.is_wrapper_alive(pid, rundir)):
            runner.jobs.running[r["id"]] = run
        elif not pid and (direct.shell_alive(shell_pid) or now - (r["event_time"] or now) < LAUNCH_GRACE):
            runner.jobs.running[r["id"]] = run      # its shell still has it queued: poll() decides
        elif not pid and may_relaunch(runner, run):
            relaunch(runner, [run])
        else:
            runner._finish([run])
        runner.on_event("adopted", rec=r)


def poll(runner, now):
    """Every POLL_INTERVAL: pids to write, other runs' load, kill requests and runtime
    limits, wrappers that ended unheard (not ours, or killed), step progress."""
    localshell.save_pids(runner)
    others = db.count_running(runner.conn, states.RUNNING_STATES) - len(runner.jobs.running)
    runner.jobs.others_running = max(0, others)
    killreq = db.kill_requested(runner.conn, runner.run_id)
    from megatest.launch import remote
    remote.watch(runner, now, killreq)
    gone, never = [], []
    for tid, run in runner.jobs.running.items():
        if run.launcher != "direct":
            continue
        if not run.pid:
            p = read_progress(run.rundir) if run.rundir else None
            if p and p.pid:
                run.pid = p.pid      # started by a shell that is not ours to hear
                runner.jobs.unsaved_pids[tid] = p.pid
            elif direct.shell_alive(run.shell_pid):
                continue             # a slow or busy shell still has it: never a second copy
            else:
                # the shell is gone; a wrapper it forked at its end writes .mt-steps at once
                run.lost_at = run.lost_at or now
                if now - run.lost_at > LAUNCH_GRACE:
                    (never if may_relaunch(runner, run) else gone).append(run)
                continue
        if tid in killreq and run.kill_at is None:
            kill(run, now, "KILLED", "kill requested")
        limit = runner.plan.tests[run.rec["testname"]].runtimelim
        if limit and run.kill_at is None and now - run.started > limit:
            kill(run, now, "KILLED", f"runtime limit {limit:g}s exceeded")
        if run.kill_at is not None and now - run.kill_at > KILL_GRACE:
            direct.signal_group(run.pid, signal.SIGKILL)
        if not run.child:
            p = read_progress(run.rundir) if run.rundir else None
            if p and p.exit_code is not None or not direct.is_wrapper_alive(run.pid, run.rundir):
                if run.rec["state"] != "LAUNCHED" or now - run.started > LAUNCH_GRACE:
                    gone.append(run)
        else:
            step_progress(runner, run)
    if gone:
        runner._finish(gone)
    if never:
        relaunch(runner, never)
    if runner.records.watchers.get(("exclusive", "")):
        runner.records.notify(("exclusive", ""))


def may_relaunch(runner, run):
    """A local test that never started (no .mt-steps, and the shell it was sent to is gone)
    is launched again, at most twice by one runner."""
    return (run.launcher == "direct" and bool(run.rundir)
            and runner.jobs.relaunches.get(run.rec["id"], 0) < 2
            and not os.path.exists(os.path.join(run.rundir, direct.STEPS_FILE)))


def relaunch(runner, runs):
    """Back to NOT_STARTED (attempt + 1), to be launched by this runner again; a record
    someone asked to kill meanwhile ends KILLED instead."""
    with db.transaction(runner.conn):
        for run in runs:
            tid = run.rec["id"]
            key = (run.rec["testname"], run.rec["item_path"])
            runner.jobs.running.pop(tid, None)
            if run.job:
                db.update_task(runner.conn, run.job, state="failed", finished_at=time.time())
            if db.get_test(runner.conn, tid)["state"] == "KILLREQ":
                runner._set(key, state="KILLED", status="KILLED", only_states=("KILLREQ",),
                            comment="kill requested before the test started")
                runner.on_event("finished", rec=runner.records.recs[key])
                continue
            runner.jobs.relaunches[tid] = runner.jobs.relaunches.get(tid, 0) + 1
            registering.reset(runner, runner.records.recs[key])
            runner.queue.ready_set.discard(key)
            runner.records.dirty.add(key)


def kill(run, now, status, why):
    """SIGTERM to the test's process group; SIGKILL follows after KILL_GRACE (poll)."""
    run.kill_at, run.kill_status = now, status
    run.rec["comment"] = why
    direct.signal_group(run.pid, signal.SIGTERM)


def step_progress(runner, run):
    """A child wrapper's steps so far, recorded when its .mt-steps grew."""
    try:
        size = os.stat(os.path.join(run.rundir, direct.STEPS_FILE)).st_size
    except OSError:
        return
    if size == run.steps_size:
        return
    run.steps_size = size
    p = read_progress(run.rundir)
    status, _ = p.worst()
    key = (run.rec["testname"], run.rec["item_path"])
    with db.transaction(runner.conn):
        finish.record_steps(runner.conn, run.rec["id"], p, run.rundir)
        if run.rec["status"] != status and \
                runner._set(key, status=status, only_states=("RUNNING", "REMOTEHOSTSTART")):
            runner.fire_triggers(run.rec)


def heartbeat(runner, now):
    """Heartbeat the tests this runner watches and itself; sweep the rest of the area."""
    from megatest.run import sweeper
    with db.transaction(runner.conn):
        # tests run elsewhere heartbeat through their own wrapper (mt-exec), never here
        db.heartbeat_tests(runner.conn, [tid for tid, run in runner.jobs.running.items()
                                         if run.launcher == "direct"], now)
        db.heartbeat_jobs(runner.conn, [run.job for run in runner.jobs.running.values() if run.job], now)
        db.update_task(runner.conn, runner.task_id, heartbeat_at=now)
    for row in sweeper.sweep_once(runner.conn, runner.host, runner.settings.deadtime,
                                  skip_ids=set(runner.jobs.running)):
        key = (row["testname"], row["item_path"])
        if key in runner.records.recs:
            runner.records.recs[key].update(dict(row))
            runner.records.notify(key)


def reap_group(pgid, wait=2.0):
    """SIGKILL what is left of a killed test's process group; True if something survives."""
    deadline = time.time() + wait
    while direct.group_alive(pgid):
        if time.time() > deadline:
            return True
        direct.signal_group(pgid, signal.SIGKILL)
        time.sleep(0.05)
    return False
