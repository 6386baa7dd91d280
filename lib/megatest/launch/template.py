"""Launching through a command template: `<prefix words> mt-exec RUNDIR` (ssh, nbfake, env).

The launcher process runs detached in its own session with its output appended to the
test's mt_launch.log; the test's own wrapper (mt-exec) reports state, heartbeats and the
result through the area's database or server, so the runner only watches the record.
"""
import os
import shlex

from megatest.launch.choice import substitute

LAUNCH_LOG = "mt_launch.log"


def command(choice, exec_path, rundir, values, useshell=True):
    """argv that starts the launcher; with useshell, one `sh -c` line as Megatest does."""
    words = substitute(list(choice.words), {k: shlex.quote(v) if useshell else v
                                            for k, v in values.items()})
    if useshell:
        line = " ".join(words) + f" {shlex.quote(exec_path)} {shlex.quote(rundir)}"
        return ["/bin/sh", "-c", line]
    return words + [exec_path, rundir]


def start(argv, rundir, env):
    """Start the launcher detached; returns its pid."""
    log = os.path.join(rundir, LAUNCH_LOG)
    with open(log, "a") as f:
        f.write("launch: " + " ".join(shlex.quote(w) for w in argv) + "\n")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)


def first_output_line(rundir):
    """The launcher's first line of output (after the launch line), for 'launch failed'."""
    try:
        with open(os.path.join(rundir, LAUNCH_LOG)) as f:
            lines = [l.strip() for l in f if l.strip() and not l.startswith("launch: ")]
    except OSError:
        return ""
    return lines[0] if lines else ""
