"""The HTTP side of mt-serve: the token check, parsing and size limits, one call, the reply.

Protocol: `POST /api` with `{"cmd": NAME, "params": {...}}` and the area token in the
X-Megatest-Token header. Replies are JSON: 200 `{"ok": true, "result": ...}`; otherwise
`{"ok": false, "error": TEXT}` with 400 (malformed), 401 (token), 404 (path or command),
405 (method), 411/413 (length), 422 (the call was refused: its record is gone...), 503 (busy,
stopping, or its database full, read-only or damaged: try again, the client journals) or 500 (a bug: the reply names an error id that the server log shows with
the traceback). Calls are those of testops plus "ping" and "queue"; rpc_params checks the body
and each call's parameters before the call runs. Every GET (but of /api) and the dashboard's POSTs (dashboard.POST_PATHS) go
to the web dashboard (dashboard.py), which answers them itself. A Service made with forward
(mt-serve --view, viewer.py) is that dashboard alone: every other POST gets 404 naming --view.
"""
import hmac
import http.server
import json
import logging
import os
import secrets
import socket
import sqlite3
import threading
import time
from urllib.parse import urlsplit

from megatest.errors import MtError
from megatest.serve.rpc_client import API_PATH, HOST_HEADER, TOKEN_HEADER
from megatest.store import db
from megatest.testside import rpc_params, testops

MAX_BODY_BYTES = 4 * 1024 * 1024   # a request body larger than this gets 413
DRAIN_LIMIT = 16 * 1024 * 1024     # a refused body up to this size is read and dropped, so the
                                   # client sees the reply instead of a reset connection
READ_TIMEOUT = 30.0                # s a connection may stall mid-request
LISTEN_BACKLOG = 1024              # connections the kernel queues before accept() (capped by
                                   # net.core.somaxconn). socketserver's 5 dropped most of 100
                                   # simultaneous clients, 128 still made 200 retry for 1 s
                                   # (bench/rpc.py --burst-only)
BUSY_WORDS = ("locked", "busy")

log = logging.getLogger("megatest.rpc_server")


# ---------------------------------------------------------------- the service: calls and counters

class Service:
    """What the server knows and does: the area, the token, the counters, and one call."""

    def __init__(self, area, settings, token, db_path, forward=None):
        self.area, self.settings, self.token, self.db_path = area, settings, token.encode(), db_path
        # mt-serve --view (viewer.py): the dashboard only, no calls; its actions go to
        # forward(area, settings, action, target, runname, testpatt, params, request=) -> task id
        self.forward = forward
        self.view = forward is not None
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.counts = {}        # cmd or refusal -> requests
        self.hosts = {}         # client host (as it names itself) -> requests
        self.addresses = {}     # client address -> requests
        self._lock = threading.Lock()
        from megatest.serve.dashboard import Dashboard
        self.dashboard = Dashboard(self)

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
        if cmd not in rpc_params.PARAMS:
            self.count("unknown-cmd")
            return 404, _error(f"no such command {cmd!r}")
        try:
            rpc_params.check(cmd, params)
        except rpc_params.BadRequest as err:
            self.count("bad-params")
            return 400, _error(str(err))
        self.count(cmd, host, address)
        try:
            return 200, {"ok": True, "result": self._call(conn_of, cmd, params)}
        except MtError as err:
            if isinstance(err, (db.StorageError, db.DamagedError)):
                return 503, _unavailable(err.message, err.hint)
            return 422, _error(err.message, path=err.path, hint=err.hint)
        except KeyError as err:
            return 400, _error(f"bad params for {cmd}: missing {err}")
        except (TypeError, ValueError) as err:
            return 400, _error(f"bad params for {cmd}: {err}")
        except sqlite3.DatabaseError as err:
            if any(word in str(err) for word in BUSY_WORDS):
                return 503, _error(f"database busy: {err}")
            reason, damage = db.storage_reason(err), db.damaged(err)
            if reason or damage:
                return 503, _unavailable(reason or damage.message, damage and damage.hint)
            return 500, self.internal_error(cmd)
        except Exception:              # a bug: the client gets a reply, the log the traceback
            return 500, self.internal_error(cmd)

    def internal_error(self, what):
        """The reply to a request that failed unexpectedly. A fresh id goes in the reply and,
        with the traceback, in the server log, so a user's report leads to the cause."""
        error_id = secrets.token_hex(6)
        log.error("error id=%s request=%s", error_id, what, exc_info=True)
        self.count("internal-error")
        return _error(f"internal server error (error id={error_id} in the mt-serve log)")

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
        from megatest.serve import actions
        for name in ("action", "target", "runname"):
            if not params[name]:
                raise ValueError(f"{name} must be non-empty text")
        return actions.queue(conn, params["action"], params["target"], params["runname"],
                             params.get("testpatt") or "%", params.get("params") or {},
                             request=params.get("request"))


def _unavailable(message, hint):
    """The reply when the server's own storage refuses (full, read-only, damaged): a 503, so
    the client keeps the call in its journal and delivers it once the storage is back."""
    return _error(f"the server's database cannot take the call now: {message}", hint=hint)


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
            self._drop_db_connection()

    def db_connection(self):
        if self._conn is None:
            self._conn = db.connect(self.server.service.db_path)
        return self._conn

    def do_POST(self):
        """One call. Whatever goes wrong before the reply, the client gets one (500 for a bug);
        a socket error means the client is gone and there is nobody left to answer."""
        from megatest.serve.dashboard import POST_PATHS
        if urlsplit(self.path).path in POST_PATHS:
            return self._dashboard()
        try:
            self._post()
        except OSError:
            raise
        except Exception:
            self._drop_db_connection()
            self._reply(500, self.server.service.internal_error(self.path), close=True)

    def _post(self):
        service = self.server.service
        if service.view:
            return self._refuse(404, "mt-serve --view serves the dashboard only and answers no "
                                     "calls: they go to the area's server (mt-serve on the home "
                                     "host)", "view-only")
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
        try:
            call = rpc_params.parse(body)
        except rpc_params.BadRequest as err:
            service.count("malformed")
            return self._reply(400, _error(str(err)))
        address = self.client_address[0]
        status, reply = service.handle(self.db_connection, call["cmd"], call["params"],
                                       self.headers.get(HOST_HEADER) or address, address)
        if status == 500:
            self._drop_db_connection()     # it may be what failed: the next call opens a new one
        self._reply(status, reply)

    def _drop_db_connection(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def do_GET(self):
        if urlsplit(self.path).path != API_PATH:
            return self._dashboard()
        self._refuse(405, f"use POST {API_PATH}", "bad-method")

    def _dashboard(self):
        service = self.server.service
        service.last_activity = time.monotonic()
        service.count("dashboard")
        service.dashboard.handle(self)

    def do_PUT(self):
        self._refuse(405, f"use POST {API_PATH}", "bad-method")

    do_DELETE = do_HEAD = do_PATCH = do_PUT

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


class HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, service):
        self.service = service
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        log.warning("connection error client=%s", client_address[0], exc_info=True)
