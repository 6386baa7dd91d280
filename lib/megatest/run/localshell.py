"""The runner's shell: one long-lived bash beside the live db that starts every local test's
wrapper (cheaper than a fork and exec of Python per test), and what it reports back: each
wrapper's pid and end. Started with the first local test, dropped when it dies; the tests it
never forked are launched again.

Functions of the runner's state, below both launching.py (which sends tests to the shell)
and watching.py (which hears of its end), so neither imports the other for it.
"""
import os

from megatest import states
from megatest.store import db


def shell_for(runner, env):
    """The runner's shell, started with the first local test's environment."""
    if runner.shell is None:
        from megatest.launch.shell import Shell
        runner.shell = Shell(env, os.path.dirname(runner.conn_path))
    return runner.shell


def drop_shell(runner):
    """The shell ended: what it reported is taken, its pipes closed; the next local test
    starts a new one. Tests it never forked are launched again (watching.poll)."""
    if runner.shell is not None:
        shell_events(runner)
        runner.shell.discard()
        runner.shell = None


def shell_events(runner):
    """pids and ends the shell reported: ended wrappers are recorded at once."""
    if runner.shell is None:
        return
    ended = []
    for kind, tid, value in runner.shell.events():
        run = runner.jobs.running.get(tid)
        if run is None or run.launcher != "direct":
            continue
        if kind == "pid":
            run.pid = value
            runner.jobs.unsaved_pids[tid] = value
        else:
            ended.append(run)
    if ended:
        runner._finish(ended)


def save_pids(runner):
    """The pids the shell reported, written in one transaction (a finished test's goes
    with its final record instead)."""
    pids = {tid: pid for tid, pid in runner.jobs.unsaved_pids.items() if tid in runner.jobs.running}
    runner.jobs.unsaved_pids = {}
    if pids:
        with db.transaction(runner.conn):
            for tid, pid in pids.items():
                db.update_test(runner.conn, tid, only_states=states.RUNNING_STATES, pid=pid)
