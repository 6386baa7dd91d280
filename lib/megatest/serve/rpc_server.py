"""mt-serve's server: the live database of an area, offered as JSON over HTTP to the processes
that run off the home host (rpc_http.py: the protocol, the token, the calls), plus the area's
background jobs (actions, dead-test sweep, sync). This module is the server's life.

One server per area, chosen by a lock held for the server's life (locks.try_hold); the lock
file stays in place (see locks). `<area>/.mt/server.json` says where it listens and which lock
it holds; it is rewritten by temp-file-and-rename every HEARTBEAT_INTERVAL, so a reader never
sees half. `mt-serve --status` and `--stop` find the server through it, whatever MT_TMPDIR,
USER or [setup] dbdir the caller has (they decide where this caller would look for the lock).
"""
import json
import logging
import os
import socket
import threading
import time

from megatest import fsutil
from megatest.errors import MtError
from megatest.serve.rpc_client import server_file, token_file
from megatest.serve.rpc_http import READ_TIMEOUT, HTTPServer, Service
from megatest.store import db, locks
from megatest.testside import testops

HEARTBEAT_INTERVAL = 3.0           # s between rewrites of server.json
ACTION_POLL_INTERVAL = 1.5         # s between polls of the tasks table for queued actions
SWEEP_INTERVAL = 10.0              # s between dead-test sweeps (and journal deliveries)
SYNC_INTERVAL = 5.0                # s, the longest a change waits for megatest.db
STALE_AFTER = 5 * HEARTBEAT_INTERVAL   # a server.json older than this is a dead server's
ERROR_LOG_INTERVAL = 60.0          # s: a background job repeats the same error at most this often
LOCK_NAME = "server.lock"
TOKEN_BYTES = 32

log = logging.getLogger("megatest.rpc_server")


# ---------------------------------------------------------------- files: lock, token, server.json

def lock_path(area, settings):
    return os.path.join(area.live_dir(None, settings.dbdir or None), LOCK_NAME)


def is_running(area, settings):
    """Does a server of this area hold its lock (on this host, the home host)?"""
    return locks.is_held(lock_path(area, settings))


def ensure_token(area, group=""):
    """The area's token, created once (0600; 0640 and chgrp with [server] group) if absent;
    MtError naming the token when the area cannot take it (read-only, full)."""
    path = token_file(area.toppath)
    if not os.path.exists(path):
        try:
            _create_token(path, group)
        except OSError as err:
            raise MtError(f"cannot create the area token: {err.strerror}", path=path,
                          hint="mt-serve writes <area>/.mt: make the area writable") from None
    with open(path) as f:
        return f.read().strip()


def _create_token(path, group):
    """Written to a temp file first and then hard-linked into place: link() fails when the
    name exists, so two starters agree on one token and nobody reads a half-written one."""
    import secrets
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.write(fd, (secrets.token_hex(TOKEN_BYTES) + "\n").encode())
            os.fsync(fd)
            if group:
                _share_with_group(fd, group, path)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)              # also when writing failed: nothing half-written stays


def _share_with_group(fd, group, path):
    import grp
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise MtError(f"[server] group {group!r} is not a group on this host", path=path) from None
    os.fchown(fd, -1, gid)
    os.fchmod(fd, 0o640)


def write_server_file(area, info, fsync=False):
    fsutil.write_atomic(server_file(area.toppath), json.dumps(info, sort_keys=True) + "\n",
                        mode=0o644, fsync=fsync)


def remove_server_file(area, pid):
    """Remove server.json if it is still the one PID published (never a successor's)."""
    from megatest.serve.rpc_client import read_server
    info = read_server(area.toppath)
    if info and info.get("pid") == pid:
        try:
            os.unlink(server_file(area.toppath))
        except FileNotFoundError:
            pass


def default_address():
    """This host's address for others to reach: its name's address, else the address of the
    interface the default route leaves by (a UDP connect sends nothing), else loopback."""
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        address = ""
    if address and not address.startswith("127."):
        return address
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.254.254.254", 9))
            return probe.getsockname()[0]
    except OSError:
        return address or "127.0.0.1"


# ---------------------------------------------------------------- one running server

class Server:
    """A running mt-serve: its lock, HTTP server and background jobs (one thread each)."""

    def __init__(self, area, settings, bind=None, port=0, idle_timeout=None):
        self.area, self.settings = area, settings
        self.bind = bind or (settings.config.get("server", "hostname") or "").strip() or default_address()
        self.port, self.idle_timeout = port, idle_timeout
        self.db_path = settings.live_db_path()
        self.stop = threading.Event()
        self.children = {}          # queued actions this server started: task id -> Popen
        self.host = socket.gethostname()
        self._lock_fd = self.httpd = self.service = self._sync = None
        self._threads = []

    def start(self):
        """Take the area's server lock and start serving; False when another server holds it."""
        os.makedirs(os.path.dirname(lock_path(self.area, self.settings)), exist_ok=True)
        self._lock_fd = locks.try_hold(lock_path(self.area, self.settings))
        if self._lock_fd is None:
            return False
        try:
            refuse_other_server(self.area, self.settings)
            self._start_locked()
        except BaseException:
            self.close()
            raise
        return True

    def _start_locked(self):
        token = ensure_token(self.area, (self.settings.config.get("server", "group") or "").strip())
        db.open_area_db(self.area, dbdir=self.settings.dbdir).close()   # schema, or rebuild
        self.service = Service(self.area, self.settings, token, self.db_path)
        try:
            self.httpd = HTTPServer((self.bind, self.port), self.service)
        except OSError as err:
            raise MtError(f"cannot listen on {self.bind}:{self.port}: {err.strerror}",
                          hint="choose another address or port: mt-serve --bind ADDR --port N") from None
        self.port = self.httpd.server_address[1]
        self.heartbeat_once(None, fsync=True)
        self._spawn("http", self.httpd.serve_forever)
        for name, interval, once in (("heartbeat", HEARTBEAT_INTERVAL, self.heartbeat_once),
                                     ("actions", ACTION_POLL_INTERVAL, self.poll_actions_once),
                                     ("sweep", SWEEP_INTERVAL, self.sweep_once)):
            self._spawn(name, self._monitor, name, interval, once)
        from megatest.store import sync
        self._sync = sync.start_background(self.db_path, self.area.shared_db_path,
                                           sync.lock_path(self.area, dbdir=self.settings.dbdir),
                                           interval=SYNC_INTERVAL)
        log.info("serving area=%s address=%s port=%d pid=%d", self.area.toppath, self.bind,
                 self.port, os.getpid())

    def _spawn(self, name, target, *args):
        thread = threading.Thread(target=target, args=args, name=f"mt-serve-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def info(self):
        return {"host": self.host, "address": self.bind, "port": self.port, "pid": os.getpid(),
                "started": self.service.started, "heartbeat": time.time(),
                "area": self.area.toppath, "lock": lock_path(self.area, self.settings),
                **self.service.metrics()}

    def wait(self):
        """Serve until stop is set or the server has been idle for idle_timeout seconds."""
        while not self.stop.wait(1.0):
            idle = time.monotonic() - self.service.last_activity
            if self.idle_timeout and idle > self.idle_timeout:
                log.info("idle for %.0f s: stopping", idle)
                return

    def close(self):
        self.stop.set()
        if self.httpd is not None:
            if self._threads:                  # shutdown() waits for serve_forever to end
                self.httpd.shutdown()
            self.httpd.server_close()
        if self._sync is not None:
            self._sync[1].set()
            self._sync[0].join()
        for thread in self._threads:
            thread.join(timeout=READ_TIMEOUT)
        if self._lock_fd is not None:
            if self.service is not None:
                remove_server_file(self.area, os.getpid())
            locks.release(self._lock_fd)
            self._lock_fd = None
            log.info("stopped pid=%d", os.getpid())

    # ------------------------------------------------------------ background jobs

    def _monitor(self, name, interval, once):
        """Call ONCE(conn) every INTERVAL until stopped; an error is logged, the same one at
        most every ERROR_LOG_INTERVAL, and the loop goes on."""
        conn, last = None, ("", 0.0)
        try:
            while True:
                try:
                    if conn is None and name != "heartbeat":
                        conn = db.connect(self.db_path)
                    once(conn)
                except Exception as err:     # a job must outlive a bad pass
                    text, now = f"{type(err).__name__}: {err}", time.monotonic()
                    if text != last[0] or now - last[1] >= ERROR_LOG_INTERVAL:
                        log.warning("job=%s failed: %s", name, text)
                        last = (text, now)
                if self.stop.wait(interval):
                    return
        finally:
            if conn is not None:
                conn.close()

    def heartbeat_once(self, conn, fsync=False):
        write_server_file(self.area, self.info(), fsync=fsync)

    def poll_actions_once(self, conn):
        try:
            from megatest.serve import actions
        except ImportError:
            return
        if actions.poll_once(self.area, self.settings, conn, children=self.children) \
                or self.children:
            self.service.last_activity = time.monotonic()

    def sweep_once(self, conn):
        """Deliver the journals of running tests, then mark the dead ones DEAD."""
        from megatest import states
        from megatest.run import sweeper
        rows = db.running_records(conn, states.RUNNING_STATES)
        if rows:
            self.service.last_activity = time.monotonic()
        for directory in {r["shortdir"] for r in rows if r["shortdir"]}:
            delivered = testops.deliver_journal(conn, directory, warn=log.warning)
            if delivered:
                log.info("journal delivered=%d dir=%s", delivered, directory)
        sweeper.sweep_once(conn, self.host, self.settings.deadtime)


# ---------------------------------------------------------------- status and stop, from outside

def other_server(area):
    """server.json of a live server on this host whose lock this process cannot see (it uses
    another live database directory: MT_TMPDIR or [setup] dbdir differ), or None."""
    from megatest.serve import rpc_client
    info = rpc_client.read_server(area.toppath)
    if not info or info.get("host") != socket.gethostname() or info.get("pid") == os.getpid():
        return None
    if time.time() - (info.get("heartbeat") or 0) > STALE_AFTER:
        return None
    return info if _is_server_process(info.get("pid")) else None


def refuse_other_server(area, settings):
    """MtError when a server of this area runs here with another live database directory:
    two servers would write two live databases."""
    other = other_server(area)
    if other:
        raise MtError(f"a server (pid {other['pid']}) already serves this area from another "
                      f"live database directory than {os.path.dirname(settings.live_db_path())}",
                      hint="use the MT_TMPDIR and [setup] dbdir that server uses, "
                           "or stop it there (mt-serve --stop)")


def running(area, settings):
    """server.json of the server running this area on this host (empty before it is first
    written), or None. Found from the area: the lock in this caller's live database
    directory, else the lock server.json names (the server's MT_TMPDIR, USER or [setup]
    dbdir may not be the caller's); a server.json without one (an older server) counts while
    its heartbeat is fresh."""
    from megatest.serve import rpc_client
    info = rpc_client.read_server(area.toppath)
    if is_running(area, settings):
        return info or {}
    if not info or "lock" not in info:
        return other_server(area)
    named = info["lock"]
    if info.get("host") != socket.gethostname() or not isinstance(named, str) or \
            os.path.basename(named) != LOCK_NAME or not _is_server_process(info.get("pid")):
        return None
    return info if locks.is_held(named) else None


def status(area, settings, home):
    """The running server's server.json (with "alive"), or None. On the home host its lock
    decides; else (or when that lock cannot be seen from here) a ping does."""
    from megatest.serve import rpc_client
    info = running(area, settings) if home else None
    if info is not None:
        return dict(info, alive=True)
    info = rpc_client.read_server(area.toppath)
    if info is None:
        return None
    client = rpc_client.Client(area.toppath, patience=0, timeout=5)
    try:
        return dict(info, **client.call("ping", {}), alive=True)
    except rpc_client.Unreachable:
        return None
    finally:
        client.close()


def stop(area, settings, wait=10.0):
    """SIGTERM the area's running server (see running) and wait for it to let go: "stopped",
    "none" or "still running"."""
    import signal
    info = running(area, settings)
    if info is None:
        return "none"
    pid = info.get("pid")
    if not pid or not _is_server_process(pid):
        return "still running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _gone(pid) and running(area, settings) is None:
            return "stopped"
        time.sleep(0.05)
    return "still running"


def _gone(pid):
    """The process has ended (a zombie waiting for its parent counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def _is_server_process(pid):
    """Guard against a recycled pid (or a pid server.json should not have): the process must
    be an mt-serve."""
    if type(pid) is not int or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"serve" in f.read()
    except OSError:
        return False
