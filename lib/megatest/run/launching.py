"""Starting ready records: order and limits, the launch transaction, and the launchers
(the runner's shell for local tests, command templates and schedulers for the others).

Functions of the runner (runner.py) and its state (state.py), as launch/launchprep.py and
launch/remote.py are.
"""
import os
import time

from megatest import states
from megatest.launch import direct, launchprep
from megatest.run import localshell
from megatest.run.state import Running
from megatest.store import db


def limit_free(runner, name):
    """May one more test of `name` start, by the counts this runner knows?"""
    limit = runner.settings.max_jobs
    if runner.opts.max_jobs:
        mine = sum(1 for _ in runner.jobs.running)
        if mine >= runner.opts.max_jobs:
            return False
    if len(runner.jobs.running) + runner.jobs.others_running >= limit:
        return False
    group = runner.jobs.jobgroup_of.get(name, "default")
    glimit = runner.settings.jobgroups.get(group)
    if glimit:
        jobs = runner.jobs
        mine = sum(1 for run in jobs.running.values() if jobs.jobgroup_of.get(run.rec["testname"]) == group)
        if mine + jobs.others_by_group.get(group, 0) >= glimit:
            return False
    return True


def order(runner, key):
    """Launch order: priority, then tests others wait on, then name (items of one test
    keep their expansion order)."""
    queue = runner.queue
    found = queue.order_of.get(key[0])
    if found is None:
        t = runner.plan.tests[key[0]]
        found = queue.order_of[key[0]] = (-t.priority, 0 if key[0] in queue.waited_on else 1, key[0])
    return found


def enqueue(runner, key):
    """Into the ready queue, which stays in launch order: one insertion per key (after its
    equals), where a sort per pass cost a big iterated test O(items) key calls each time."""
    ready, rank = runner.queue.ready, order(runner, key)
    lo, hi = 0, len(ready)
    while lo < hi:
        mid = (lo + hi) // 2
        if rank < order(runner, ready[mid]):
            hi = mid
        else:
            lo = mid + 1
    ready.insert(lo, key)


def launch(runner):
    """Launch ready records in order while limits allow; stop scanning once full."""
    if not runner.queue.ready:
        return
    now = time.time()
    if now < runner.queue.next_launch:
        return
    room = capacity(runner) - len(runner.jobs.running)
    if room <= 0:
        return
    batch, rest = [], []
    for n, key in enumerate(runner.queue.ready):
        if len(batch) >= room or (runner.settings.launch_delay and batch):
            rest.extend(runner.queue.ready[n:])
            break
        if limit_free(runner, key[0]):
            batch.append(key)
        else:
            rest.append(key)
    if runner.settings.launch_delay and batch:
        runner.queue.next_launch = now + runner.settings.launch_delay
    runner.queue.ready = rest
    if batch:
        start_batch(runner, batch)


def capacity(runner):
    """How many tests may run at once, given those of other runs."""
    cap = runner.settings.max_jobs - runner.jobs.others_running
    if runner.opts.max_jobs:
        cap = min(cap, runner.opts.max_jobs)
    return cap


def start_batch(runner, keys):
    """Mark a batch started (limits re-counted in the same write transaction, so two
    runners of one area never overshoot together), then start the wrappers. A local
    test is RUNNING from that transaction on, and is handed to the runner's shell once
    it commits; other launchers mark it LAUNCHED and record their start after."""
    from megatest.run import skip
    local, prepared = [], []
    load = round(os.getloadavg()[0], 2)
    uname = " ".join(os.uname())
    with db.transaction(runner.conn):
        total = db.count_running(runner.conn, states.RUNNING_STATES)
        by_group = db.count_running_by_group(runner.conn, states.RUNNING_STATES) \
            if runner.settings.jobgroups else {}
        for key in keys:
            r = runner.records.recs[key]
            if not states.is_pending(r["state"], r["status"]):
                continue
            group = runner.jobs.jobgroup_of.get(key[0], "default")
            glimit = runner.settings.jobgroups.get(group)
            if total >= runner.settings.max_jobs or (glimit and by_group.get(group, 0) >= glimit):
                enqueue(runner, key)
                continue
            reason = skip.check(runner.plan.tests[key[0]], r, runner.conn, runner.run_id)
            if reason:
                runner._set(key, state="COMPLETED", status="SKIP", comment=reason)
                continue
            try:
                rundir, linkdir, env, script = launchprep.prepare(runner, key)
            except OSError as err:
                runner._set(key, state="COMPLETED", status="ABORT", comment=f"launch failed: {err}")
                continue
            now = time.time()
            fields = dict(status="n/a", rundir=linkdir, shortdir=rundir, host=runner.host,
                          event_time=now, pid=None, cpuload=load, uname=uname,
                          diskfree=free_kib(rundir))
            if launcher_kind(runner, key) == "direct":
                runner._set(key, state="RUNNING", heartbeat_at=now, **fields)
                runner.fire_triggers(r)              # RUNNING/ and RUNNING/n/a
                # the job row names the shell that gets the test: a runner that adopts the
                # record waits while that shell lives rather than launch the test again
                shell = localshell.shell_for(runner, env)
                local.append((key, rundir, env, script,
                              add_job(runner, key, "direct", shell.pid, "", now)))
            else:
                runner._set(key, state="LAUNCHED", **fields)
                prepared.append((key, rundir, env, script))
            total += 1
            by_group[group] = by_group.get(group, 0) + 1
    if local:
        runner._later(lambda: start_local(runner, local))
    if prepared:
        runner._later(lambda: spawn_launched(runner, prepared))


def spawn_launched(runner, prepared):
    """Start records marked LAUNCHED (committed: a runner that dies meanwhile is followed
    by one that adopts them) and record what the launchers said."""
    started = [spawn(runner, key, rundir, env, script) for key, rundir, env, script in prepared]
    now = time.time()
    with db.transaction(runner.conn):
        for key, kind, pid, job_id, rundir, error in started:
            if error:
                runner._set(key, state="COMPLETED", status="ABORT", comment=f"launch failed: {error}")
                continue
            if job_id:
                runner._set(key, job_id=job_id)
            job = add_job(runner, key, kind, pid, job_id, now)
            track(runner, Running(runner.records.recs[key], pid or 0, rundir, now, child=pid is not None,
                                  job=job, launcher=kind, job_id=job_id or ""))


def add_job(runner, key, kind, pid, job_id, now):
    return db.add_task(runner.conn, "job", action=kind, target=runner.plan.target,
                       runname=runner.plan.runname, state="running", host=runner.host, pid=pid,
                       job_id=job_id or "", run_id=runner.run_id, test_id=runner.records.recs[key]["id"],
                       claimed_at=now, heartbeat_at=now)


def track(runner, run):
    runner.jobs.running[run.rec["id"]] = run
    runner.on_event("started", rec=run.rec)


def start_local(runner, batch):
    """Hand committed RUNNING records to the shell; a test whose environment bash cannot
    take (a variable name it refuses) gets a bash of its own."""
    from megatest.launch.shell import ShellGone
    failed = []
    for key, rundir, env, script, job in batch:
        rec, now = runner.records.recs[key], time.time()
        body = launchprep.body(runner, runner.plan.tests[key[0]])
        try:
            try:
                shell = localshell.shell_for(runner, env)
                sent = shell.start(rec["id"], rundir, env, body)
            except ShellGone:
                localshell.drop_shell(runner)           # it died since the pass began: a new one
                shell = localshell.shell_for(runner, env)
                sent = shell.start(rec["id"], rundir, env, body)
        except OSError as err:
            if db.storage_reason(err):
                # the shell's file beside the live db: that place is full or read-only, so
                # the runner stops (runner.run); this record and the rest start next time
                raise OSError(err.errno, err.strerror, os.path.dirname(runner.conn_path)) from None
            failed.append((key, job, err))
            continue
        if sent:
            track(runner, Running(rec, 0, rundir, now, child=False, job=job, shell_pid=shell.pid))
            continue
        try:
            pid = direct.start(rundir, script, env)
        except OSError as err:
            failed.append((key, job, err))
            continue
        runner.jobs.unsaved_pids[rec["id"]] = pid
        track(runner, Running(rec, pid, rundir, now, child=True, job=job))
    if failed:
        with db.transaction(runner.conn):
            for key, job, err in failed:
                runner._set(key, state="COMPLETED", status="ABORT", comment=f"launch failed: {err}")
                db.update_task(runner.conn, job, state="failed", finished_at=time.time())


def spawn(runner, key, rundir, env, script):
    """Start one prepared record: (key, kind, pid, job id, rundir, error)."""
    from megatest.launch import remote
    choice = remote.choice_for(runner.settings, key)
    try:
        remote.write_exec_spec(rundir, env, script, runner.plan.tests[key[0]].runtimelim)
        if choice.kind == "template":
            useshell = (runner.settings.config.get("jobtools", "useshell") or "yes").strip() != "no"
            pid = remote.start_template(choice, runner.plan, runner.records.recs[key], rundir, env,
                                        runner.run_id, useshell)
            return key, "template", pid, None, rundir, ""
        sched = remote.scheduler_module(choice.kind)
        runner.pacer.before_submit()
        words = sched.resources(runner.plan.tests[key[0]].config) if hasattr(sched, "resources") else []
        job_id = sched.submit(list(choice.words), rundir, remote.quoted([remote.exec_path(env), rundir]),
                              runner.job_tag(), words, env, comment=remote.job_comment(runner.records.recs[key]["id"]))
        return key, choice.kind, None, job_id, rundir, ""
    except Exception as err:          # OSError or the scheduler's LaunchError
        if not isinstance(err, OSError) and type(err).__name__ != "LaunchError":
            raise
        return key, choice.kind, None, None, rundir, str(err)


def launcher_kind(runner, key):
    kind = runner.jobs.kinds.get(key)
    if kind is None:
        from megatest.launch import remote
        kind = runner.jobs.kinds[key] = remote.choice_for(runner.settings, key).kind
    return kind


def free_kib(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize // 1024
