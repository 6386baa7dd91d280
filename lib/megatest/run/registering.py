"""Registering a run: its keys and row, the runner's task (one runner per run), every record
the plan selects (items expanded unless they wait for their waitons), loaded into the
mirror, and the resets that --rerun, [setup] rules and unfinished records ask for. All in
the one transaction of `register`: a refused run leaves nothing behind.

Functions of the runner (runner.py) and its state (state.py).
"""
import os
import time

from megatest import states
from megatest.config.patterns import compile_testpatt
from megatest.errors import MtError
from megatest.launch import direct
from megatest.store import db


def register(runner):
    """Run, keys, runner task, every selected record and the resets: one transaction."""
    p, conn = runner.plan, runner.conn
    with db.transaction(conn):
        stored = db.register_keys(conn, runner.settings.keys)
        if stored != runner.settings.keys:
            raise MtError(f"the keys in [fields] ({'/'.join(runner.settings.keys)}) differ from "
                          f"the keys of existing runs ({'/'.join(stored)})",
                          runner.area.config_path)
        runner.run_id = db.register_run(conn, runner.settings.keys, p.keyvals, p.runname,
                                        p.env.get("USER", ""))
        _claim_runner(runner)
        names = []
        for name, t in p.tests.items():
            db.set_test_meta(conn, name, {**t.meta, "iterated": "yes" if t.iterated else "no"})
            names.append((name, ""))
            runner.records.iterated[name] = t.iterated
            if t.iterated and not t.deferred:
                names.extend((name, path) for path, _ in expansion(runner, t))
        db.register_tests(conn, runner.run_id, names)
        db.set_run(conn, runner.run_id, state="running")
        match = compile_testpatt(p.testpatt)
        rows = db.tests_of_run(conn, runner.run_id, include_deleted=True)
        _refuse_archived(runner, [r for r in rows if r["archived"] and
                                  r["state"] != "DELETED" and match(r["testname"], r["item_path"])])
        for row in rows:
            _load(runner, dict(row), match)
        _apply_resets(runner)


def _refuse_archived(runner, rows):
    """Records whose directories are in an archive are not run again in place: their new
    directories would stand where a restore puts the archived ones back."""
    if not rows:
        return
    from megatest.store import archived
    p = runner.plan
    active = archived.active_archive(runner.conn, runner.run_id)
    where = f" in {active['archive_path']}" if active else ""
    raise MtError(f"run {p.target}/{p.runname} is archived{where}: {len(rows)} of the selected "
                  "records have their directories there",
                  hint=f"mt-clean --restore --target {p.target} --runname {p.runname}   "
                       "(then run it again), or use a new run name")


def expansion(runner, t, environ=None):
    """The items of iterated test T that the run selects, expanded now (with ENVIRON when
    late: its waitons have run), into the mirror."""
    from megatest.run.runplan import expand
    selected, total = expand(t, runner.plan, environ=environ)
    runner.records.expanded[t.name] = True
    runner.records.item_values.update({(t.name, path): item for path, item in selected})
    if total and not selected:
        runner.records.no_item.add(t.name)
    runner.records.item_total[t.name] = total
    return selected


def _claim_runner(runner):
    """One runner per run: refuse when another live mt-run here drives it, mark stale ones."""
    from megatest.errors import MtError
    for task in db.active_runners(runner.conn, runner.plan.target, runner.plan.runname):
        if task["host"] == runner.host and task["pid"] and direct.pid_alive(task["pid"]) \
                and task["pid"] != os.getpid():
            raise MtError(f"run {runner.plan.target}/{runner.plan.runname} is already being run by "
                          f"mt-run pid {task['pid']} on {runner.host}",
                          hint="wait for it, or stop it first; running the command again "
                               "later resumes")
        db.update_task(runner.conn, task["id"], state="stale", finished_at=time.time())
    runner.task_id = db.add_task(runner.conn, "runner", action="run", target=runner.plan.target,
                                 runname=runner.plan.runname, testpatt=runner.plan.testpatt,
                                 state="running", host=runner.host, pid=os.getpid(),
                                 run_id=runner.run_id, heartbeat_at=time.time())


def _load(runner, row, match):
    """ROW into the mirror when the run selects it (toplevels always: they stand for their test)."""
    key = (row["testname"], row["item_path"])
    t = runner.plan.tests.get(row["testname"])
    if t is None:
        return
    if row["item_path"] == "" or match(row["testname"], row["item_path"]):
        runner.records.recs[key] = row
        runner.records.selected.add(key)
        if row["item_path"]:
            runner.records.expanded[row["testname"]] = True


def _apply_resets(runner):
    """Records this run starts over: --rerun, --rerun-clean, --rerun-all, [setup]
    allow-auto-rerun, unfinished and removed ones, and blocked or removed rollups."""
    s, o = runner.settings, runner.opts
    tops = []
    for key in sorted(runner.records.selected):
        r = runner.records.recs[key]
        if r["item_path"] == "" and runner.records.iterated.get(r["testname"]):
            # a rollup starts over when blocked last time or removed (mt-clean): left
            # DELETED, waiters would take it for a finished test that failed
            if (r["state"] == "NOT_STARTED" and r["status"] in states.BLOCKED_STATUSES) or \
                    r["state"] == "DELETED":
                reset(runner, r)
                tops.append(r["testname"])
            continue
        state, status = r["state"], r["status"]
        if states.is_running(state):
            continue
        wanted = (
            o.rerun_all
            or status in o.rerun
            or (o.rerun_clean and (state in s.cleanrerun_states or status in s.cleanrerun_statuses))
            or any((not a or a == state) and (not b or b == status) for a, b in s.allow_auto_rerun)
            or state in ("INCOMPLETE", "DELETED")
            or (state == "NOT_STARTED" and status not in ("n/a", ""))
        )
        if wanted and not (state == "NOT_STARTED" and status in ("n/a", "")):
            reset(runner, r)
    for name in tops:                 # its items may all be final already (kept by mt-clean)
        runner._rollup(name)


def reset(runner, r):
    """Start R over: NOT_STARTED/n/a in the db and the mirror, one attempt more."""
    db.reset_test(runner.conn, r["id"])
    r.update(state="NOT_STARTED", status="n/a", comment="", pid=None)
    r["attempt"] = (r.get("attempt") or 0) + 1
