"""The runner's shell: one long-lived bash per runner forks the wrapper of every local test.

Starting bash for each test costs an exec and bash's start-up in the test (about 1 ms here)
and a vfork that stalls the runner; forking a bash that already runs costs a fraction of
that. The shell runs in its own session and each wrapper in its own process group
(`set -m`), so tests outlive both the runner and the shell, and each wrapper still records
its pid, steps and exit in its run directory's .mt-steps (launch/direct.py), where
whichever runner is alive finds them.

Commands reach the shell through a regular file, because bash reads a pipe one byte per
system call and a file in blocks, with a byte on a pipe to wake it up. It answers on
another pipe: `pid <test id> <pid>` once a wrapper is forked and `done <test id> <exit>`
when the wrapper ends. A test's environment travels as its difference from the shell's.
"""
import os
import re

from megatest.launch import direct
from megatest.launch.direct import bash_word

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ShellGone(OSError):
    """The shell ended: what was sent to it is not run (the caller starts another)."""

_SERVER = r'''cd / || exit 1
set -m
trap '' PIPE
''' + direct.FUNCTIONS + r'''
finish() { printf 'exit %s %s\n' "$1" "$EPOCHREALTIME" >&3; trap '' PIPE; printf 'done %s %s\n' "$MT_JOB" "$1" >&4 2>/dev/null; exit 0; }
mt_job() {
  { trap - PIPE; MT_JOB=$1; eval "$3"; PATH="$PATH:."
    cd "$2" && exec 3>>.mt-steps || { printf 'done %s 97\n' "$1" >&4; exit 97; }
    printf 'pid %s %s\n' "$BASHPID" "$EPOCHREALTIME" >&3
    "$4"
  } < /dev/null 5<&- &
  printf 'pid %s %s\n' "$1" "$!" >&4
  disown
}
pending=
while :; do
  while :; do
    IFS= read -r line; rc=$?; line=$pending$line
    if [ "$rc" = 0 ]; then pending=; eval "$line"; else pending=$line; break; fi
  done
  read -r -n 1 _ <&5 || exit 0
done
'''


class Shell:
    """One runner's shell. start() never blocks on the test; events() says what happened."""

    def __init__(self, env, workdir):
        os.makedirs(workdir, exist_ok=True)
        path = os.path.join(workdir, f"shell-{os.getpid()}.cmd")
        if os.path.lexists(path):
            os.unlink(path)
        self.cmd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        notify_r, notify_w = os.pipe()
        wake_r, wake_w = os.pipe()
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, path, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.path.join(workdir, "shell.log"),
             os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, notify_w, 4),
            (os.POSIX_SPAWN_DUP2, wake_r, 5),
        ]
        try:
            self.pid = os.posix_spawn(direct.BASH, [direct.BASH, "-c", _SERVER, direct.SHELL_NAME],
                                      env, file_actions=actions, setsid=True,
                                      setsigdef=direct.DEFAULT_SIGNALS)
        finally:
            os.close(notify_w)
            os.close(wake_r)
            os.unlink(path)          # both ends hold it open; nothing is left behind
        os.set_blocking(notify_r, False)
        os.set_blocking(wake_w, False)
        self.notify, self.wake = notify_r, wake_w
        self.base = dict(env)
        self.bodies = {}             # body calls -> name of the shell function running them
        self.partial = b""

    def start(self, test_id, rundir, env, calls):
        """Fork the wrapper of one test; False when its environment cannot be said in bash
        (a variable name bash refuses): the caller starts that one on its own."""
        exports = self._exports(env)
        if exports is None:
            return False
        calls = tuple(calls)
        lines = []
        name = self.bodies.get(calls)
        if name is None:
            name = self.bodies[calls] = f"mt_body{len(self.bodies)}"
            lines.append(f"{name}() {{ {'; '.join(calls)}; }}")
        lines.append(f"mt_job {int(test_id)} {bash_word(rundir)} {bash_word(exports)} {name}")
        os.write(self.cmd, ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
        try:
            os.write(self.wake, b".")
        except BlockingIOError:
            pass                     # the pipe is full of wake-ups the shell has yet to read
        except BrokenPipeError:
            raise ShellGone(f"the runner's shell (pid {self.pid}) has ended") from None
        return True

    def _exports(self, env):
        base, parts = self.base, []
        for key, value in env.items():
            if base.get(key) != value:
                if not _NAME.match(key):
                    return None
                parts.append(f"export {key}={bash_word(value)}")
        for key in base.keys() - env.keys():
            if not _NAME.match(key):
                return None
            parts.append(f"unset {key}")
        return "; ".join(parts)

    def events(self):
        """[(kind, test id, number)]: ("pid", id, pid) and ("done", id, exit code)."""
        chunks = [self.partial]
        while True:
            try:
                data = os.read(self.notify, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        data = b"".join(chunks)
        lines = data.split(b"\n")
        self.partial = lines.pop()
        out = []
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] in (b"pid", b"done"):
                try:
                    out.append((parts[0].decode(), int(parts[1]), int(parts[2])))
                except ValueError:
                    continue
        return out

    def close(self, wait=2.0):
        """No more tests: the shell forks what it was sent, then ends; the tests go on."""
        for fd in (self.cmd, self.wake):
            try:
                os.close(fd)
            except OSError:
                pass
        self.cmd = self.wake = -1
        self.reap(wait)

    def discard(self):
        """The shell ended (reaped): give back its pipes too."""
        self.close(wait=0)
        try:
            os.close(self.notify)
        except OSError:
            pass

    def reap(self, wait):
        """Wait up to `wait` s for the shell itself (not its tests) to end; True if it did."""
        import time
        deadline = time.time() + wait
        while True:
            try:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return True          # reaped already (the runner's own wait)
            if pid:
                return True
            if time.time() >= deadline:
                return False
            time.sleep(0.005)
