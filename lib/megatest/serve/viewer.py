"""`mt-serve --view`: the dashboard alone, on any host, next to (never instead of) the area's
server.

Users on a workstation that is not the home host want the results there: the area is on a
shared disk and megatest.db is synced to it. A viewer serves the dashboard's pages, /api and
/static (dashboard.py, unchanged) and reads what every read off the home host reads
(report.grid -> store.readcopy: this host's refreshed copy of megatest.db, with the note
naming the home host; on the home host, the live database read-only). It owns nothing of
the area: it claims no home host, takes no server lock, writes no server.json and runs no
sweeper, action poller or sync, so any number of viewers may run beside the one server.
It answers no test calls (rpc_http refuses them naming --view). Actions from its pages go
to the area's real server as the client call "queue", as `mt-run --queue` does off the
home host, so they become tasks rows on the home host exactly as they would from the
server's own pages.
"""
import logging
import os
import threading

from megatest.errors import MtError
from megatest.serve import webauth
from megatest.serve.rpc_client import Client, read_server, read_token, token_file
from megatest.serve.rpc_http import READ_TIMEOUT, HTTPServer, Service
from megatest.store import homehost, readcopy
from megatest.testside.journal import Unreachable

FORWARD_PATIENCE = 3.0     # s an action waits for the area server: a page should not hang
                           # for the client's minute of patience when no server runs

log = logging.getLogger("megatest.rpc_server")


class NoServer(webauth.Refused):
    """An action a viewer cannot hand on: no server answers for the area (503), or it
    refused the call (502). One line, shown on the page or in the JSON reply."""


def area_token(area):
    """The area's token for the login; MtError (exit 2) when it is missing, empty or
    unreadable. A viewer never creates it: the token is the area server's to make."""
    path = token_file(area.toppath)
    try:
        token = read_token(area.toppath)
    except Unreachable:
        token = ""
    if not token:
        raise MtError(f"no area token at {path}: the login needs it",
                      hint="start the area's server once on the home host "
                           f"(mt-serve --ensure --area {area.toppath})")
    return token


def forward(area, settings, action, target, runname, testpatt, params, request=None):
    """Queue an action on the area's server; its task id, or NoServer with one line."""
    home = homehost.home_host(area, settings) or "the home host"
    # no server.json: no server, and nothing to wait for; a stale one gets the patience
    client = Client(area.toppath, patience=FORWARD_PATIENCE if read_server(area.toppath) else 0)
    call = {"action": action, "target": target, "runname": runname, "testpatt": testpatt,
            "params": params, "request": request or os.urandom(8).hex()}
    try:
        return client.call("queue", call)
    except Unreachable:
        raise NoServer(503, f"no mt-serve runs for this area on {home}: start it with "
                            "mt-serve --ensure there") from None
    except MtError as err:
        raise NoServer(502, err.message) from None
    finally:
        client.close()


def reads_from(area, settings):
    """What the viewer reads, for its start line: the live database, this host's copy of
    megatest.db (naming the home host), or nothing yet."""
    try:
        path = readcopy.path_for_reading(area, settings)
    except MtError as err:
        return f"cannot read the database yet ({err.message})"
    if path is None:
        return "no database yet (no run has been made)"
    home = homehost.home_host(area, settings)
    if home and not homehost.is_home(home):
        return f"{path}, this host's copy of {area.shared_db_path} (the home host is {home})"
    return path


class Viewer:
    """A running `mt-serve --view`: an HTTP server of the dashboard, nothing else."""

    def __init__(self, area, settings, bind=None, port=0):
        from megatest.serve.rpc_server import default_address
        self.area, self.settings = area, settings
        self.bind = bind or (settings.config.get("server", "hostname") or "").strip() \
            or default_address()
        self.port = port
        self.stop = threading.Event()
        self.httpd = self._thread = None

    def start(self):
        """Listen; MtError (exit 2) for a missing token or an address that cannot be had."""
        token = area_token(self.area)
        service = Service(self.area, self.settings, token, None, forward=forward)
        try:
            self.httpd = HTTPServer((self.bind, self.port), service)
        except OSError as err:
            raise MtError(f"cannot listen on {self.bind}:{self.port}: {err.strerror}",
                          hint="choose another address or port: mt-serve --view --bind ADDR "
                               "--port N") from None
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        name="mt-serve-view", daemon=True)
        self._thread.start()
        log.info("viewing area=%s address=%s port=%d pid=%d", self.area.toppath, self.bind,
                 self.port, os.getpid())

    def describe(self):
        """The one line printed at start: where it listens and what it reads."""
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return (f"mt-serve --view: dashboard of {self.area.toppath} at "
                f"http://{host}:{self.port}/ (reads {reads_from(self.area, self.settings)}; "
                "actions go to the area's server)")

    def wait(self):
        while not self.stop.wait(1.0):
            pass

    def close(self):
        self.stop.set()
        if self.httpd is not None:
            if self._thread is not None:
                self.httpd.shutdown()
                self._thread.join(timeout=READ_TIMEOUT)
            self.httpd.server_close()
