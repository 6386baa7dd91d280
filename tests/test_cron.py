"""Cron for real: the two crontab lines of an area (`mt-sync --crontab`, `mt-serve --crontab`)
installed in the real cron daemon start, with nothing else started by hand, a syncer that keeps
megatest.db within 5 s of the live db (also across the minute when cron starts the next
mt-sync) and exactly one server.

Needs Linux and cron; as root it installs cron from the distribution's packages when missing
(skipped only when apt has no network) and starts the daemon when it is not running (and stops
it again). The root crontab is saved and restored; the processes cron started are killed.
"""
import fcntl
import os
import pwd
import random
import shutil
import sqlite3
import subprocess
import time

import pytest

from conftest import mt, write_area
from megatest.config.area import Area
from megatest.serve import rpc_client
from megatest.store import db, sync

pytestmark = pytest.mark.slow

CRON_WAIT = 130.0        # s for cron to start both lines (it reads a new crontab at the next minute)
LAG_LIMIT = 5.0          # s: the longest a change may wait before megatest.db shows it
BOUNDARY_BEFORE = 4.0    # s before the next minute at which the hand-over check starts writing
BOUNDARY_AFTER = 12.0    # s after it at which the check stops
CRON_LOCK = "/tmp/megatest-test-cron.lock"
LOCK_WAIT = 240.0        # s to wait for another run of this test on this host
NETWORK_WORDS = ("Temporary failure resolving", "Could not resolve", "Failed to fetch",
                 "Network is unreachable", "Unable to connect", "Connection failed",
                 "Could not connect", "No route to host", "Connection timed out")


# ---------------------------------------------------------------- cron itself

def _cron_binary():
    for path in ("/usr/sbin/cron", "/usr/sbin/crond"):
        if os.access(path, os.X_OK):
            return path
    return shutil.which("cron") or shutil.which("crond")


def _cron_pids():
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() in ("cron", "crond"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _apt(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=300)


def _install_cron():
    """apt-get install cron; skip when apt cannot reach its mirrors, fail on anything else."""
    if os.geteuid() != 0:
        pytest.skip("cron is not installed, and installing it needs root")
    if not shutil.which("apt-get"):
        pytest.skip("cron is not installed and there is no apt-get to install it with")
    install = ("install", "-y", "--no-install-recommends", "cron")
    out = _apt(*install)
    if out.returncode != 0:                        # e.g. empty package lists: update, then again
        update = _apt("update")
        if update.returncode != 0 and any(w in update.stdout + update.stderr for w in NETWORK_WORDS):
            pytest.skip(f"cron is missing and apt-get update has no network: {update.stderr.strip()[-300:]}")
        out = _apt(*install)
    if out.returncode != 0:
        if any(w in out.stdout + out.stderr for w in NETWORK_WORDS):
            pytest.skip(f"cron is missing and apt-get has no network: {out.stderr.strip()[-300:]}")
        pytest.fail(f"apt-get install cron failed ({out.returncode}): {out.stderr.strip()[-1000:]}")
    assert _cron_binary() and shutil.which("crontab"), "apt-get installed cron but not cron/crontab"


def _open_lock(path):
    """A descriptor to flock `path` by, whoever made it: read-only (flock needs no more), since
    another user's file in /tmp cannot be opened for writing (its mode, fs.protected_regular);
    one made here is left writable by all (0o666 after the umask) for the next user."""
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:            # another session made it just now
        return os.open(path, os.O_RDONLY)
    os.fchmod(fd, 0o666)
    return fd


@pytest.fixture
def cron_lock():
    """One run of this test at a time on this host: two would share the crontab and the daemon
    (one restores the crontab the other saved, or stops the cron the other relies on)."""
    fd = _open_lock(CRON_LOCK)
    deadline = time.monotonic() + LOCK_WAIT
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip(f"another run of this test has held {CRON_LOCK} for {LOCK_WAIT:.0f} s")
                time.sleep(1.0)
        yield
    finally:
        os.close(fd)


@pytest.fixture
def cron(cron_lock):
    """A running cron daemon; one this fixture started is stopped again by its pid."""
    if not os.path.isdir("/proc"):
        pytest.skip("needs Linux (/proc)")
    if not (_cron_binary() and shutil.which("crontab")):
        _install_cron()
    started = None
    if not _cron_pids():
        if os.geteuid() != 0:
            pytest.skip("cron is not running, and starting it needs root")
        started = subprocess.Popen([_cron_binary(), "-f"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        time.sleep(0.5)
        assert started.poll() is None, f"{_cron_binary()} -f exited {started.returncode}"
    try:
        yield
    finally:
        if started is not None:
            started.terminate()
            try:
                started.wait(10)
            except subprocess.TimeoutExpired:
                started.kill()
                started.wait()


class Crontab:
    """This user's crontab: install(lines) replaces it, restore() puts the saved one back."""

    def __init__(self):
        old = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
        self.saved = old.stdout if old.returncode == 0 else None
        self.changed = False

    def install(self, lines):
        text = "".join(line + "\n" for line in lines)
        self.changed = True
        out = subprocess.run(["crontab", "-"], input=text, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout == text

    def restore(self):
        if not self.changed:
            return
        if self.saved is not None:
            subprocess.run(["crontab", "-"], input=self.saved, capture_output=True, text=True,
                           check=True)
        else:
            subprocess.run(["crontab", "-r"], capture_output=True, text=True)
        self.changed = False


@pytest.fixture
def crontab(cron):
    tab = Crontab()
    try:
        yield tab
    finally:
        tab.restore()


# ---------------------------------------------------------------- processes of the area

def area_processes(toppath):
    """{pid: argv} of the mt-sync / mt-serve processes whose argv names this area (the
    script is argv[1], or argv[2] after the interpreter's -S)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if toppath in argv and any(os.path.basename(a) in ("mt-sync", "mt-serve") for a in argv[:3]):
            found[int(entry)] = argv
    return found


def servers(toppath):
    return sorted(pid for pid, argv in area_processes(toppath).items()
                  if any(os.path.basename(a) == "mt-serve" for a in argv[:3])
                  and not {"--ensure", "--status", "--stop", "--crontab"} & set(argv))


def syncers(toppath):
    return sorted(pid for pid, argv in area_processes(toppath).items()
                  if any(os.path.basename(a) == "mt-sync" for a in argv[:3]))


def kill_area_processes(toppath, seconds=10.0):
    """SIGTERM (then SIGKILL) each mt-sync / mt-serve of this area, by pid, until none is left."""
    deadline = time.monotonic() + seconds
    sent_term = set()
    while True:
        left = area_processes(toppath)
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, 15 if pid not in sent_term and time.monotonic() < deadline - 3 else 9)
                sent_term.add(pid)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            return
        time.sleep(0.2)


def lock_holder(path):
    """pid holding a flock on path (from /proc/locks), or None."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        words = line.split()
        if "->" not in words and len(words) >= 6 and words[1] == "FLOCK" and words[5] == dev:
            return int(words[4])
    return None


# ---------------------------------------------------------------- the test

def shared_comment(shared, test_id):
    try:
        conn = sqlite3.connect(f"file:{shared}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT status, comment FROM tests WHERE id=?", (test_id,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return tuple(row) if row else None


def write_and_wait(live_conn, shared, test_id, status, comment, limit=LAG_LIMIT + 2):
    """Commit a status change on the live db; seconds until megatest.db shows it (or None)."""
    with db.transaction(live_conn):
        assert db.set_test_state(live_conn, test_id, status=status, comment=comment) is not None
    start = time.time()
    while time.time() - start < limit:
        if shared_comment(shared, test_id) == (status, comment):
            return time.time() - start
        time.sleep(0.05)
    return None


def test_cron_lines_keep_area_synced_and_served(tmp_path, mt_env, crontab):
    me = pwd.getpwuid(os.geteuid()).pw_name
    env = dict(mt_env, USER=me, LOGNAME=me)          # as cron sets them: same live db path
    top = write_area(tmp_path / "area", {"t": "[ezsteps]\ns1 true\n"})
    out = mt("run", "--area", top, "--target", "a/b", "--runname", "r", "--quiet", env=env)
    assert out.returncode == 0, out.stderr
    area = Area(os.path.realpath(top))
    toppath, shared = area.toppath, area.shared_db_path
    live = area.live_db_path(env)

    lines = []
    for command, word in (("sync", "--for 60"), ("serve", "--ensure")):
        out = mt(command, "--crontab", "--area", toppath, env=env)
        assert out.returncode == 0, out.stderr
        line = out.stdout.strip()
        assert "\n" not in line and line.startswith("* * * * * ") and word in line, line
        assert f"MT_TMPDIR={env['MT_TMPDIR']}" in line, line      # cron's jobs find the same live db
        assert "%" not in line, line                               # cron turns % into a newline
        lines.append(line)
    assert not area_processes(toppath), "nothing may run for the area before cron starts it"

    t0 = time.time()
    crontab.install(lines)
    try:
        # cron reads the new crontab at the next minute and starts both lines
        while time.time() - t0 < CRON_WAIT:
            if syncers(toppath) and servers(toppath) and \
                    mt("serve", "--status", "--area", toppath, env=env).returncode == 0:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"cron did not start mt-sync and mt-serve within {CRON_WAIT:.0f} s; "
                        f"running: {area_processes(toppath)}")
        started = time.time()
        first_minute = started - started % 60          # the minute cron started them in

        conn = db.connect(live)
        test_id = conn.execute("SELECT id FROM tests WHERE testname='t'").fetchone()[0]
        first_lag = write_and_wait(conn, shared, test_id, "FAIL", "cron check 1")
        assert first_lag is not None and first_lag <= LAG_LIMIT, \
            f"megatest.db showed the change after {first_lag} s"

        # exactly one server answers
        status = mt("serve", "--status", "--area", toppath, env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        info = rpc_client.read_server(toppath)
        assert info and f"pid: {info['pid']}" in status.stdout, (info, status.stdout)
        client = rpc_client.Client(toppath, patience=5, timeout=5)
        try:
            client.call("ping", {})
        finally:
            client.close()
        again = mt("serve", "--ensure", "--area", toppath, env=env)
        assert again.returncode == 0 and "already running" in again.stdout, again.stdout + again.stderr
        assert servers(toppath) == [info["pid"]], area_processes(toppath)

        # across the next minute: cron starts a new mt-sync while the first one ends its 60 s
        boundary = first_minute + 60
        if boundary - time.time() < BOUNDARY_BEFORE:
            boundary += 60
        time.sleep(max(0.0, boundary - BOUNDARY_BEFORE - time.time()))
        lock = sync.lock_path(area, env)
        lags, holders, n = [], [], 0
        rng = random.Random()
        while time.time() < boundary + BOUNDARY_AFTER:
            n += 1
            at = time.time() - boundary
            holder = lock_holder(lock)
            holder = "mt-serve" if holder == info["pid"] else f"mt-sync {holder}" if holder else "nobody"
            if not holders or holders[-1][1] != holder:
                holders.append((round(at, 1), holder))
            lag = write_and_wait(conn, shared, test_id, "PASS" if n % 2 else "FAIL", f"hand-over {n}")
            lags.append((round(at, 1), None if lag is None else round(lag, 2)))
            time.sleep(rng.uniform(0.05, 0.6))           # no phase lock with the syncer's checks
        conn.close()
        print(f"\ncron started both after {started - t0:.0f} s; first change in megatest.db after "
              f"{first_lag:.2f} s; across the minute (s after it, lag s): {lags}; "
              f"sync lock held by (from s after the minute): {holders}")
        late = [(at, lag) for at, lag in lags if lag is None or lag > LAG_LIMIT]
        assert not late, f"(s after the minute, lag s) over {LAG_LIMIT:g} s: {late}; all: {lags}"
        assert len(syncers(toppath)) <= 1 and servers(toppath) == [info["pid"]], area_processes(toppath)
    finally:
        crontab.restore()                 # first, so that cron starts nothing more
        try:
            mt("serve", "--stop", "--area", toppath, env=env, timeout=30)
        finally:
            kill_area_processes(toppath)
