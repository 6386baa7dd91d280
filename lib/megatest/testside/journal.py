"""A test's journal: the calls it could not deliver yet, kept in order in RUNDIR/.mt/journal
(one JSON line each, appended and fsynced under a lock) until someone delivers them: the
test's next call, the runner when the test ends, mt-serve when it starts and every sweep.

The file and its locking live here, below both the test's route to mt-serve (serve) and
the runner (run), which deliver it with their own DELIVER. Standard library only.
"""
import os
import time

from megatest.errors import MtError

JOURNAL = os.path.join(".mt", "journal")
JOURNAL_LOCK = JOURNAL + ".lock"


class Unreachable(Exception):
    """The server could not be reached, or answered "try again": the call may be retried.
    ANSWER is the server's own reason when it did answer (its database is full, say)."""

    def __init__(self, message, answer=""):
        super().__init__(message)
        self.answer = answer


def journal_path(rundir):
    return os.path.join(rundir, JOURNAL)


class Replay:
    """What a replay did: calls delivered, calls still kept, messages of refused calls."""

    def __init__(self):
        self.delivered, self.remaining, self.errors = 0, 0, []


def send_or_journal(rundir, cmd, params, deliver, replay_patience=0.0):
    """Deliver one call, after any journal of earlier ones; keep it in the journal when that
    fails. Returns (outcome or None when journaled, Replay of the earlier calls or None).

    DELIVER(cmd, params, patience) raises Unreachable on failure. With a journal present the
    server was down recently: the earlier calls get REPLAY_PATIENCE (one quick attempt by
    default) rather than stalling the test again for the whole back-off."""
    from megatest.store import locks
    replay = None
    if os.path.exists(journal_path(rundir)):
        with locks.held(_lock_path(rundir)):
            replay = _replay_locked(rundir, lambda c, p: deliver(c, p, replay_patience))
            if replay.remaining:
                _append_locked(rundir, cmd, params)
                return None, replay
    try:
        return deliver(cmd, params, None), replay
    except Unreachable:
        append_journal(rundir, cmd, params)
        return None, replay


def append_journal(rundir, cmd, params):
    """Keep one undelivered call at the end of RUNDIR's journal (written, then fsynced)."""
    from megatest.store import locks
    with locks.held(_lock_path(rundir)):
        _append_locked(rundir, cmd, params)


def replay_journal(rundir, deliver):
    """Deliver RUNDIR's journal in order with DELIVER(cmd, params); stop at the first
    Unreachable and keep the rest. A call the server refuses (MtError) is dropped with its
    message in the result's errors: sending it again would only be refused again."""
    from megatest.store import locks
    if not os.path.exists(journal_path(rundir)):
        return Replay()
    with locks.held(_lock_path(rundir)):
        return _replay_locked(rundir, deliver)


def _lock_path(rundir):
    os.makedirs(os.path.join(rundir, ".mt"), exist_ok=True)
    return os.path.join(rundir, JOURNAL_LOCK)


def _append_locked(rundir, cmd, params):
    import json
    line = (json.dumps({"cmd": cmd, "params": params, "at": time.time()}) + "\n").encode()
    fd = os.open(journal_path(rundir), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line           # end a line torn by a crash, so this one stays whole
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _replay_locked(rundir, deliver):
    import json
    result = Replay()
    try:
        with open(journal_path(rundir)) as f:
            lines = f.readlines()
    except FileNotFoundError:
        return result
    done = 0
    try:
        for line in lines:
            try:
                entry = json.loads(line)
                cmd, params = entry["cmd"], entry["params"]
            except (ValueError, KeyError, TypeError):
                done += 1                  # a line torn by a crash mid-append: nothing to send
                continue
            try:
                deliver(cmd, params)
                result.delivered += 1
            except Unreachable:
                break
            except MtError as err:
                result.errors.append(f"{cmd}: {err}")
            done += 1
    finally:
        result.remaining = len(lines) - done
        if done:
            _rewrite(rundir, lines[done:])
    return result


def _rewrite(rundir, lines):
    """Replace the journal by LINES (temp file, fsync, rename); none left: remove it."""
    path = journal_path(rundir)
    if not lines:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as out:
        out.writelines(lines)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def journal_text(rundir):
    """RUNDIR's journal as it is now, or None: what to give back if a delivery rolls back."""
    try:
        with open(journal_path(rundir)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def give_back_journal(rundir, kept):
    """Put back the journal text KEPT before a delivery whose transaction then rolled back
    (the delivery trimmed it), with what was appended since. Calls are idempotent: a line
    given back that had also stayed does no harm."""
    from megatest.store import locks
    with locks.held(_lock_path(rundir)):
        now = journal_text(rundir) or ""
        text = kept if kept.endswith(now) else kept + now
        _rewrite(rundir, text.splitlines(keepends=True))
