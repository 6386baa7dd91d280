"""Queued actions: rows in the tasks table that the area server executes on the home host.

A user on any host (or a dashboard, or cron) queues "start this run" or "remove these runs";
the server claims each row atomically (compare-and-set on state) and runs the matching
command here, so the work happens where the live database is.
"""
import json
import os
import subprocess
import time

from megatest.store import db

KINDS = {
    "run": "mt-run",          # params: rerun, rerun_clean, rerun_all
    "clean-rerun": "mt-run",
    "remove": "mt-clean",
    "kill": "mt-clean",
}


def queue(conn, action, target, runname, testpatt="%", params=None, request=None):
    """Insert a queued action; returns its task id. REQUEST (the caller's id for this one
    request) makes a retried call whose reply was lost return the first call's task."""
    if action not in KINDS:
        raise ValueError(f"unknown action {action!r}")
    params = dict(params or {})
    if request:
        params["request"] = str(request)
    with db.transaction(conn):
        if request:
            task_id = db.action_of_request(conn, json.dumps(params["request"]))
            if task_id:
                return task_id
        return db.add_task(conn, "action", action=action, target=target, runname=runname,
                           testpatt=testpatt or "%", params=json.dumps(params), state="new")


def command_for(area, task, bin_dir):
    """The argv that carries out one action (names and patterns passed as separate words)."""
    params = json.loads(task["params"] or "{}")
    exe = os.path.join(bin_dir, KINDS[task["action"]])
    argv = [exe, "--area", area.toppath, "--target", task["target"], "--runname", task["runname"],
            "--testpatt", task["testpatt"] or "%"]
    if task["action"] == "run":
        argv.append("--quiet")
        if params.get("rerun"):
            argv += ["--rerun", params["rerun"]]
        if params.get("rerun_all"):
            argv.append("--rerun-all")
        if params.get("rerun_clean"):
            argv.append("--rerun-clean")
    elif task["action"] == "clean-rerun":
        argv += ["--quiet", "--rerun-clean"]
    elif task["action"] == "kill":
        argv.append("--kill")
    return argv


def poll_once(area, settings, conn, children=None, bin_dir=None, host=None):
    """Claim and start new actions; record the ones that ended. Returns actions started.

    children maps task id -> Popen for the actions this process started (kept by the caller)."""
    from megatest.launch.launchprep import bin_dir as commands_dir
    from megatest.store.homehost import this_host
    children = {} if children is None else children
    bin_dir = bin_dir or commands_dir()
    host = host or this_host()
    for task_id, proc in list(children.items()):
        code = proc.poll()
        if code is not None:
            with db.transaction(conn):
                db.update_task(conn, task_id, state="done" if code in (0, 1) else "failed",
                               exit_code=code, finished_at=time.time())
            del children[task_id]
    started = 0
    for task in db.new_actions(conn):
        if not db.claim_task(conn, task["id"], host, os.getpid()):
            continue                          # another server claimed it first
        logdir = os.path.join(area.toppath, "logs")
        os.makedirs(logdir, exist_ok=True)
        log = open(os.path.join(logdir, f"action-{task['id']}-{task['action']}.log"), "a")
        try:
            proc = subprocess.Popen(command_for(area, task, bin_dir), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as err:
            with db.transaction(conn):
                db.update_task(conn, task["id"], state="failed", finished_at=time.time(),
                               params=json.dumps({"error": str(err)}))
            continue
        finally:
            log.close()
        with db.transaction(conn):
            db.update_task(conn, task["id"], state="running", pid=proc.pid)
        children[task["id"]] = proc
        started += 1
    return started
