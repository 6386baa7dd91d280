"""mt-serve's server: the live database of an area, offered as JSON over HTTP to the processes
that run off the home host, plus the area's background jobs (actions, dead-test sweep, sync).

Protocol: `POST /api` with `{"cmd": NAME, "params": {...}}` and the area token in the
X-Megatest-Token header. Replies are JSON: 200 `{"ok": true, "result": ...}`; otherwise
`{"ok": false, "error": TEXT}` with 400 (malformed), 401 (token), 404 (path or command),
405 (method), 411/413 (length), 422 (the call was refused: its record is gone...), 503 (busy or
stopping: try again) or 500 (a bug). Calls are those of testops plus "ping" and "queue".

One server per area, chosen by a lock held for the server's life (locks.try_hold); the lock
file stays in place (see locks). `<area>/.mt/server.json` says where it listens; it is
rewritten by temp-file-and-rename every HEARTBEAT_INTERVAL, so a reader never sees half.
"""
import hmac
import http.server
import json
import logging
import os
import socket
import sqlite3
import threading
import time

from megatest import db, fsutil, locks, testops
from megatest.errors import MtError
from megatest.rpc_client import API_PATH, HOST_HEADER, TOKEN_HEADER, server_file, token_file

MAX_BODY_BYTES = 4 * 1024 * 1024   # a request body larger than this gets 413
DRAIN_LIMIT = 16 * 1024 * 1024     # a refused body up to this size is read and dropped, so the
                                   # client sees the reply instead of a reset connection
READ_TIMEOUT = 30.0                # s a connection may stall mid-request
HEARTBEAT_INTERVAL = 3.0           # s between rewrites of server.json
ACTION_POLL_INTERVAL = 1.5         # s between polls of the tasks table for queued actions
SWEEP_INTERVAL = 10.0              # s between dead-test sweeps (and journal deliveries)
SYNC_INTERVAL = 5.0                # s, the longest a change waits for megatest.db
STALE_AFTER = 5 * HEARTBEAT_INTERVAL   # a server.json older than this is a dead server's
ERROR_LOG_INTERVAL = 60.0          # s: a background job repeats the same error at most this often
LOCK_NAME = "server.lock"
TOKEN_BYTES = 32
BUSY_WORDS = ("locked", "busy")

log = logging.getLogger("megatest.rpc_server")


# ---------------------------------------------------------------- files: lock, token, server.json

def lock_path(area, settings):
    return os.path.join(area.live_dir(None, settings.dbdir or None), LOCK_NAME)


def is_running(area, settings):
    """Does a server of this area hold its lock (on this host, the home host)?"""
    return locks.is_held(lock_path(area, settings))


def ensure_token(area, group=""):
    """The area's token, created once (0600; 0640 and chgrp with [server] group) if absent.

    Written to a temp file first and then hard-linked into place: link() fails when the name
    exists, so two starters agree on one token and nobody reads a half-written one."""
    path = token_file(area.toppath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        import secrets
        tmp = f"{path}.tmp-{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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
            os.unlink(tmp)
    with open(path) as f:
        return f.read().strip()


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
    from megatest.rpc_client import read_server
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


# ---------------------------------------------------------------- the service: calls and counters

class Service:
    """What the server knows and does: the area, the token, the counters, and one call."""

    def __init__(self, area, settings, token, db_path):
        self.area, self.settings, self.token, self.db_path = area, settings, token.encode(), db_path
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.counts = {}        # cmd or refusal -> requests
        self.hosts = {}         # client host (as it names itself) -> requests
        self.addresses = {}     # client address -> requests
        self._lock = threading.Lock()

    def token_ok(self, given):
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token)

    def count(self, what, host=None, address=None):
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1
            if host is None:
                return
            first = host not in self.hosts
            self.hosts[host] = self.hosts.get(host, 0) + 1
            self.addresses[address] = self.addresses.get(address, 0) + 1
        if first:
            log.info("first call host=%s address=%s cmd=%s", host, address, what)

    def metrics(self):
        with self._lock:
            return {"requests": dict(self.counts), "hosts": dict(self.hosts),
                    "addresses": dict(self.addresses)}

    def handle(self, conn_of, cmd, params, host, address):
        """(HTTP status, reply) for one call; conn_of() gives the calling thread's connection."""
        self.last_activity = time.monotonic()
        if cmd != "ping" and cmd != "queue" and cmd not in testops.OPERATIONS:
            self.count("unknown-cmd")
            return 404, _error(f"no such command {cmd!r}")
        self.count(cmd, host, address)
        try:
            return 200, {"ok": True, "result": self._call(conn_of, cmd, params)}
        except MtError as err:
            return 422, _error(err.message, path=err.path, hint=err.hint)
        except KeyError as err:
            return 400, _error(f"bad params for {cmd}: missing {err}")
        except (TypeError, ValueError, AttributeError) as err:
            return 400, _error(f"bad params for {cmd}: {err}")
        except sqlite3.OperationalError as err:
            if any(word in str(err) for word in BUSY_WORDS):
                return 503, _error(f"database busy: {err}")
            log.exception("call failed cmd=%s", cmd)
            return 500, _error(f"database error: {err}")

    def _call(self, conn_of, cmd, params):
        if cmd == "ping":
            return self.ping()
        if cmd == "queue":
            return self.queue(conn_of(), params)
        return testops.execute(conn_of(), cmd, params, self.db_path)

    def ping(self):
        return {"host": socket.gethostname(), "pid": os.getpid(), "started": self.started,
                "uptime": time.time() - self.started, **self.metrics()}

    def queue(self, conn, params):
        """Queue an action (mt-run --queue, mt-clean --queue) for the poller; its task id."""
        from megatest import actions
        for name in ("action", "target", "runname"):
            if not isinstance(params[name], str) or not params[name]:
                raise ValueError(f"{name} must be non-empty text")
        extra = params.get("params") or {}
        if not isinstance(extra, dict):
            raise TypeError("params.params must be an object")
        request = params.get("request")
        if request is not None and not isinstance(request, str):
            raise TypeError("request must be text")
        return actions.queue(conn, params["action"], params["target"], params["runname"],
                             params.get("testpatt") or "%", extra, request=request)


def _error(message, path=None, hint=None):
    reply = {"ok": False, "error": message}
    if path:
        reply["path"] = path
    if hint:
        reply["hint"] = hint
    return reply


# ---------------------------------------------------------------- HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    """One client connection (kept alive across calls) with its own database connection."""
    protocol_version = "HTTP/1.1"
    server_version = "mt-serve"
    timeout = READ_TIMEOUT
    disable_nagle_algorithm = True      # headers and body leave in two writes: without this,
                                        # Nagle and the client's delayed ACK add 40 ms a reply

    def setup(self):
        super().setup()
        self._conn = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self._conn is not None:
                self._conn.close()

    def db_connection(self):
        if self._conn is None:
            self._conn = db.connect(self.server.service.db_path)
        return self._conn

    def do_POST(self):
        service = self.server.service
        if self.path != API_PATH:
            return self._refuse(404, f"no such path {self.path!r}: POST {API_PATH}", "bad-path")
        if not service.token_ok(self.headers.get(TOKEN_HEADER, "")):
            return self._refuse(401, f"missing or wrong {TOKEN_HEADER}", "unauthorized")
        length = self._length()
        if length is None:
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True       # the client went away mid-body
            return
        call = _parse(body)
        if isinstance(call, str):
            service.count("malformed")
            return self._reply(400, _error(call))
        address = self.client_address[0]
        status, reply = service.handle(self.db_connection, call["cmd"], call["params"],
                                       self.headers.get(HOST_HEADER) or address, address)
        self._reply(status, reply)

    def do_GET(self):
        self._refuse(405, f"use POST {API_PATH}", "bad-method")

    do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _length(self):
        """The body's declared length, or None after refusing the request."""
        if self.headers.get("Transfer-Encoding"):
            return self._refuse(411, "chunked bodies are not accepted: send Content-Length",
                                "bad-length", drain=False)
        text = self.headers.get("Content-Length")
        try:
            length = int(text)
        except (TypeError, ValueError):
            return self._refuse(411, "Content-Length required", "bad-length", drain=False)
        if length < 0:
            return self._refuse(400, "negative Content-Length", "bad-length", drain=False)
        if length > MAX_BODY_BYTES:
            return self._refuse(413, f"body of {length} bytes exceeds {MAX_BODY_BYTES}", "too-large")
        return length

    def _refuse(self, status, message, what, drain=True):
        """Reply STATUS and close, reading a modest unread body first (see DRAIN_LIMIT)."""
        self.server.service.count(what)
        if drain:
            self._drain()
        self._reply(status, _error(message), close=True)

    def _drain(self):
        try:
            left = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return
        if left > DRAIN_LIMIT:
            return
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)

    def _reply(self, status, reply, close=False):
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if log.isEnabledFor(logging.DEBUG):
            log.debug("http client=%s %s", self.client_address[0], fmt % args)


def _parse(body):
    """{"cmd": str, "params": dict} from a body, or the text saying what is wrong with it."""
    try:
        call = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        return f"malformed JSON: {err}"
    if not isinstance(call, dict) or not isinstance(call.get("cmd"), str):
        return 'expected an object {"cmd": NAME, "params": {...}}'
    params = call.get("params", {})
    if not isinstance(params, dict):
        return "params must be an object"
    return {"cmd": call["cmd"], "params": params}


class HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, service):
        self.service = service
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        log.warning("connection error client=%s", client_address[0], exc_info=True)


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
        from megatest import sync
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
                "area": self.area.toppath, **self.service.metrics()}

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
            from megatest import actions
        except ImportError:
            return
        if actions.poll_once(self.area, self.settings, conn, children=self.children,
                             bin_dir=bin_dir()) or self.children:
            self.service.last_activity = time.monotonic()

    def sweep_once(self, conn):
        """Deliver the journals of running tests, then mark the dead ones DEAD."""
        from megatest import states, sweeper
        rows = db.running_records(conn, states.RUNNING_STATES)
        if rows:
            self.service.last_activity = time.monotonic()
        for directory in {r["shortdir"] for r in rows if r["shortdir"]}:
            delivered = testops.deliver_journal(conn, directory)
            if delivered:
                log.info("journal delivered=%d dir=%s", delivered, directory)
        sweeper.sweep_once(conn, self.host, self.settings.deadtime)


def bin_dir():
    """Where the project's commands are: beside this interpreter (the venv), else beside argv[0]."""
    import sys
    here = os.path.dirname(sys.executable)
    if os.path.exists(os.path.join(here, "mt-run")):
        return here
    return os.path.dirname(os.path.abspath(sys.argv[0]))


# ---------------------------------------------------------------- status and stop, from outside

def other_server(area):
    """server.json of a live server on this host whose lock this process cannot see (it uses
    another live database directory: MT_TMPDIR or [setup] dbdir differ), or None."""
    from megatest import rpc_client
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


def status(area, settings, home):
    """The running server's server.json (with "alive"), or None. On the home host the lock
    decides; else (or when the lock is in another live database directory) a ping does."""
    from megatest import rpc_client
    info = rpc_client.read_server(area.toppath)
    if home and is_running(area, settings):
        return dict(info or {}, alive=True)
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
    """SIGTERM the server holding the lock and wait for it to let go: "stopped", "none" or
    "still running"."""
    import signal
    from megatest import rpc_client
    if not is_running(area, settings):
        return "none"
    info = rpc_client.read_server(area.toppath) or {}
    pid = info.get("pid")
    if not pid or not _is_server_process(pid):
        return "still running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not is_running(area, settings) and _gone(pid):
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
    """Guard against a recycled pid: the process must be an mt-serve."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"serve" in f.read()
    except OSError:
        return False
