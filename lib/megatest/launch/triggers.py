"""Testconfig [triggers]: commands started in the background when a record's state or status changes.

The runner writes the test's [triggers] section into `<rundir>/.mt/triggers` once; `mt-test`
only has to look at that one file, so a test without triggers pays a single failed open().
Standard library only: `mt-test` imports this on every call (behaviour.md §11.11).
"""
import os
import time

SPEC_NAME = os.path.join(".mt", "triggers")
LOG_NAME = "last-trigger.log"
SPEC_HEADER = "# mt triggers v1: KEY<TAB>COMMAND, one per line, \\n and \\\\ escaped\n"
ENV_NAMES = ("MT_TEST_NAME", "MT_TEST_RUN_DIR", "MT_ITEMPATH")


def spec_path(rundir):
    return os.path.join(rundir, SPEC_NAME)


def keys_for(state, status):
    """The [triggers] keys a change to STATE/STATUS fires, in firing order."""
    return [f"{state}/{status}", f"{state}/", f"/{status}"]


def write_spec(rundir, triggers):
    """Store TRIGGERS ({key: command}) for the record at RUNDIR; an empty dict removes the file.

    Keys never hold whitespace (they are config keys); commands may hold newlines
    (continuation lines), hence the escaping.
    """
    path = spec_path(rundir)
    if not triggers:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = [SPEC_HEADER]
    for key, command in triggers.items():
        lines.append(f"{key}\t{_escape(str(command))}\n")
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as out:
            out.write("".join(lines))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_spec(rundir):
    """The {key: command} stored for RUNDIR; {} when there is none."""
    try:
        with open(spec_path(rundir)) as spec:
            text = spec.read()
    except OSError:
        return {}
    table = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or "\t" not in line:
            continue
        key, command = line.split("\t", 1)
        table[key] = _unescape(command)
    return table


def fire(rundir, test_id, state, status, environ=None):
    """Start every trigger that STATE/STATUS selects; return the keys started.

    Each runs as `CMD <test-id> <run-dir> <key>` through /bin/sh, in RUNDIR, in its own
    session (it outlives `mt-test`), output appended to RUNDIR/last-trigger.log. A trigger
    that cannot start is noted in that log: it never changes the test, and never raises.
    """
    if not rundir:
        return []
    table = read_spec(rundir)
    if not table:
        return []
    environ = os.environ if environ is None else environ
    started = []
    for key in keys_for(state, status):
        command = table.get(key)
        if command and _start(rundir, test_id, key, command, environ):
            started.append(key)
    return started


def _start(rundir, test_id, key, command, environ):
    import shlex  # only when a trigger really fires
    import subprocess

    line = " ".join([command, shlex.quote(str(test_id)), shlex.quote(rundir), shlex.quote(key)])
    env = dict(environ)
    env["MT_TEST_RUN_DIR"] = rundir
    for name in ENV_NAMES:
        env.setdefault(name, "")
    try:
        with open(os.path.join(rundir, LOG_NAME), "a") as log:
            log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} trigger {key}: {line}\n")
            log.flush()
            subprocess.Popen(["/bin/sh", "-c", line], cwd=rundir, env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return True
    except (OSError, ValueError) as err:
        try:
            with open(os.path.join(rundir, LOG_NAME), "a") as log:
                log.write(f"# trigger {key} could not start: {err}\n")
        except OSError:
            pass
        return False


def _escape(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def _unescape(text):
    out, chars = [], iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)
