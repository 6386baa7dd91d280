"""Run one test where a launcher put it: the wrapper of tests started through ssh or a scheduler.

Usage:
  mt-exec RUNDIR
  mt-exec (-h | --help)

RUNDIR is the test's physical run directory (mt-run wrote .mt/exec.json there). mt-exec
takes the same environment the local runner gives a test, marks the record
REMOTEHOSTSTART, runs the runscript and ezsteps through the same bash wrapper, heartbeats
every 10 s, stops the test on a kill request or its runtime limit, and records the result.
On the home host it writes the live database; elsewhere it goes through mt-serve (results
that cannot be sent yet wait in RUNDIR/.mt/journal).
Exit status: 0 the result was recorded; 1 the test could not be run; 2 usage error.
"""
import json
import os
import signal
import socket
import sys
import time

from megatest.errors import MtError, UsageError

HEARTBEAT_INTERVAL = 10.0
WAIT_STEP = 0.2
KILL_GRACE = 5.0
SPEC = ".mt/exec.json"


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        if argv:
            print(__doc__.strip())
            return 0
        raise UsageError("missing RUNDIR", hint="mt-exec RUNDIR")
    rundir = os.path.abspath(argv[0])
    try:
        with open(os.path.join(rundir, SPEC)) as f:
            spec = json.load(f)
    except (OSError, ValueError) as err:
        raise MtError(f"{rundir}: no launch spec ({SPEC}): {err}") from None
    from megatest.launch import testenv
    from megatest.serve.testroute import TestRecord, off_home
    env = spec["env"]
    ident = testenv.decode_cmdinfo(env["MT_CMDINFO"])
    record = TestRecord(ident, env, off_home(env),
                        say=lambda text: sys.stderr.write(f"mt-exec: {text}\n"))
    try:
        return _run(record, rundir, spec, env)
    finally:
        record.close()


def _run(record, rundir, spec, env):
    from megatest.launch import direct
    host = socket.gethostname()
    job_id = os.environ.get("SLURM_JOB_ID") or os.environ.get("LSB_JOBID") or ""
    start = record.call("exec-start", host=host, pid=os.getpid(), uname=" ".join(os.uname()),
                        job_id=job_id)
    if not start.get("run", True) or start.get("journaled"):
        print(f"mt-exec: not running: {start.get('why', 'the area server is unreachable')}")
        return 0 if start.get("why") else 1
    scheduler = {k: v for k, v in os.environ.items() if k.startswith(("SLURM_", "LSB_"))}
    pid = direct.start(rundir, spec["script"], {**scheduler, **env})   # steps see their job
    limit = spec.get("runtimelim")
    began = time.time()
    killed, comment, kill_at, next_beat = "", "", None, began + HEARTBEAT_INTERVAL
    while True:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        now = time.time()
        if now >= next_beat:
            next_beat = now + HEARTBEAT_INTERVAL
            beat = record.call("exec-beat")
            if beat.get("state") == "KILLREQ" and not killed:
                killed, comment, kill_at = "KILLED", "kill requested", now
                direct.signal_group(pid, signal.SIGTERM)
        if limit and not killed and now - began > limit:
            killed, comment, kill_at = "KILLED", f"runtime limit {limit:g}s exceeded", now
            direct.signal_group(pid, signal.SIGTERM)
        if kill_at and now - kill_at > KILL_GRACE:
            direct.signal_group(pid, signal.SIGKILL)
        time.sleep(WAIT_STEP)
    if killed:
        direct.signal_group(pid, signal.SIGKILL)
    outcome = record.call("exec-finish", rundir=rundir, killed=killed, comment=comment)
    return 0 if outcome.get("code", 0) == 0 else 1
