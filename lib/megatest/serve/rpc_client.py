"""The client side of mt-serve: a call over HTTP with bounded back-off, and the journal that keeps
what could not be sent so that nothing is lost.

Standard library only, and cheap to import: `json` and `socket` load on the first call, so
`mt-test` on the home host (which only looks for a journal) never pays for them.

A call that cannot reach the server within its patience is appended, one JSON line, to
`<rundir>/.mt/journal` (fsynced). The journal is replayed in order by the test's next call, by
the runner when the test ends, or by mt-serve when it starts; whatever is still undelivered is
written back by temp-file-and-rename, under `<rundir>/.mt/journal.lock`, so two replayers never
deliver the same line twice at once and a crash never leaves half a journal. Every call is
idempotent (set, upsert), so a line delivered twice after a crash does no harm.
"""
import os
import time

from megatest.errors import MtError
from megatest.testside.journal import Unreachable

SERVER_FILE = "server.json"
TOKEN_FILE = "token"
TOKEN_HEADER = "X-Megatest-Token"
HOST_HEADER = "X-Megatest-Host"
API_PATH = "/api"
FIRST_RETRY_DELAY = 0.1     # s before the second attempt; doubled after each failure
MAX_RETRY_DELAY = 5.0       # s, the back-off's ceiling
PATIENCE = 60.0             # s of retrying before a call goes to the journal
PATIENCE_ENV = "MT_RPC_PATIENCE"   # overrides PATIENCE (seconds), for tests and impatient users
REQUEST_TIMEOUT = 30.0      # s for one request, connect included
RETRY_STATUSES = (502, 503, 504)   # the server is going down, or busy beyond its timeout


def server_file(toppath):
    return os.path.join(toppath, ".mt", SERVER_FILE)


def token_file(toppath):
    return os.path.join(toppath, ".mt", TOKEN_FILE)


def read_server(toppath):
    """The published server.json of an area as a dict, or None when there is none, or half,
    or it does not say where to connect (a port, an address or host name)."""
    import json
    try:
        with open(server_file(toppath)) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or type(info.get("port")) is not int or \
            not 0 < info["port"] < 65536 or not isinstance(server_address(info), str):
        return None
    return info


def read_token(toppath):
    """The area's token; Unreachable when missing (no server ever started), MtError when unreadable."""
    path = token_file(toppath)
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        raise Unreachable(f"no token at {path}: mt-serve has not run for this area") from None
    except OSError as err:
        raise MtError(f"cannot read the area token: {err.strerror}", path=path,
                      hint="the token is readable by its owner (and [server] group)") from None


def patience_from_env(environ=None):
    environ = os.environ if environ is None else environ
    text = environ.get(PATIENCE_ENV)
    try:
        return float(text) if text else PATIENCE
    except ValueError:
        return PATIENCE


class Client:
    """Calls to one area's mt-serve over one kept-alive connection, re-found after a restart."""

    def __init__(self, toppath, patience=None, timeout=REQUEST_TIMEOUT):
        self.toppath = toppath
        self.patience = patience_from_env() if patience is None else patience
        self.timeout = timeout
        self.calls = 0
        self._conn = None
        self._where = None
        self._token = None

    def call(self, cmd, params, patience=None):
        """The call's result; retried with bounded exponential back-off, then Unreachable."""
        patience = self.patience if patience is None else patience
        deadline = time.monotonic() + patience
        delay = FIRST_RETRY_DELAY
        while True:
            try:
                return self.call_once(cmd, params)
            except Unreachable:
                self.close()
                if time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)

    def call_once(self, cmd, params):
        """One attempt: the result, MtError for a refusal, Unreachable for "try again"."""
        import json
        body = json.dumps({"cmd": cmd, "params": params}).encode()
        try:
            conn = self._connection()
            status, data, close = conn.post(API_PATH, body, self._headers())
        except (OSError, ValueError) as err:
            raise Unreachable(f"{self.where()}: {err or type(err).__name__}") from None
        if close:
            self.close()
        self.calls += 1
        return self._result(status, data, cmd)

    def where(self):
        return "%s:%s" % self._where if self._where else "mt-serve"

    def close(self):
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def _connection(self):
        if self._conn is None:
            info = read_server(self.toppath)
            if info is None:
                raise Unreachable(f"no {server_file(self.toppath)}: mt-serve is not running")
            self._where = (server_address(info), int(info["port"]))
            self._token = read_token(self.toppath)
            self._conn = Connection(*self._where, timeout=self.timeout)
        return self._conn

    def _headers(self):
        return {"Content-Type": "application/json", TOKEN_HEADER: self._token,
                HOST_HEADER: os.uname().nodename}

    def _result(self, status, data, cmd):
        import json
        try:
            reply = json.loads(data)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):         # not mt-serve's answer: say what came instead
            reply = {"error": data[:200].decode(errors="replace")}
        if status == 200 and reply.get("ok"):
            return reply.get("result")
        if status in RETRY_STATUSES:
            raise Unreachable(f"{self.where()}: {status} {reply.get('error', '')}",
                              answer=reply.get("error", ""))
        if status == 401:
            self._token = None
            self.close()       # the token may have been replaced: read it again next time
        raise MtError(f"mt-serve at {self.where()} refused {cmd!r}: {reply.get('error', status)}",
                      path=reply.get("path"), hint=reply.get("hint"))


class Connection:
    """HTTP/1.1 POSTs over one kept-alive socket. Hand-made because http.client imports email
    and ssl (24 ms, paid by every mt-test off the home host); the server is ours and always
    answers with Content-Length."""

    MAX_LINE = 65536

    def __init__(self, host, port, timeout):
        import socket
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def post(self, path, body, headers):
        """(status, body, server closes) of one request; OSError or ValueError when broken."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status_line = self.file.readline(self.MAX_LINE)
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        words = status_line.split(None, 2)
        if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
            raise ValueError(f"not an HTTP reply: {status_line[:80]!r} (is {self.host} mt-serve?)")
        status = int(words[1])
        length, close = None, False
        while True:
            line = self.file.readline(self.MAX_LINE)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                close = value.lower() == "close"
        data = self.file.read(length) if length is not None else self.file.read()
        if length is not None and len(data) < length:
            raise ConnectionResetError("the server closed the connection mid-reply")
        return status, data, close or length is None

    def close(self):
        self.file.close()
        self.sock.close()


def server_address(info):
    """Where to connect: the bound address, or the host name when it bound every interface."""
    address = info.get("address") or ""
    return info.get("host") if address in ("", "0.0.0.0", "::") else address


def call(area, cmd, params, patience=None):
    """One call to an area's server (AREA: an Area or its top path), for commands run once
    (mt-run --queue): the result, or MtError when the server cannot be reached."""
    toppath = getattr(area, "toppath", area)
    client = Client(toppath, patience)
    try:
        return client.call(cmd, params)
    except Unreachable as err:
        raise MtError(f"cannot reach the area server: {err}",
                      hint=f"on the home host: mt-serve --ensure --area {toppath}") from None
    finally:
        client.close()
