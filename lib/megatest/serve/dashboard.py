"""The web dashboard's HTTP side: every GET, and the POSTs to /login, /logout and /action,
that rpc_http's handler passes on.

It routes a path to a page (gridpage, detailpages, pages), to JSON for the pages' script
(/api/...), to an asset (assets/) or to a run directory's file (logfiles), after webauth's
checks; and it turns every failure into a 4xx or 5xx reply of one line, as a page or as
JSON (never a traceback: a bug gets 500 and an error id that the server log shows with
the traceback). Every read is report.grid's; actions become rows in the tasks table
(actions.queue), which the server's action poller carries out; a viewer (mt-serve --view)
hands them to the area's server instead (viewer.forward).
"""
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from megatest.errors import MtError
from megatest.report import grid
from megatest.serve import actions, detailpages, gridpage, logfiles, pages, webauth
from megatest.serve.pages import BadRequest
from megatest.store.db import sqlite3

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
MAX_FORM_BYTES = 64 * 1024      # a login or action form is a few hundred bytes
COPY_CHUNK = 256 * 1024
POST_PATHS = ("/login", "/logout", "/action")
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
               "form-action 'self'; base-uri 'none'")
# a file of a run directory: no script, its own origin (a log's HTML never acts as the
# dashboard), its inline style allowed (logpro's reports have some)
FILE_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
ACTION_KINDS = {"rerun": "run", "kill": "kill", "remove": "remove"}


@dataclass
class Request:
    method: str
    path: str                     # as sent, not decoded
    query: dict                   # name -> [values]
    headers: object
    cookies: dict = field(default_factory=dict)
    form: dict = field(default_factory=dict)      # name -> last value (POST)
    raw: str = ""                 # the request line's target: path and query

    @property
    def wants_json(self):
        return self.path.startswith("/api/") or \
            "application/json" in (self.headers.get("Accept") or "")

    @property
    def target(self):
        """The path and query, for a login's way back."""
        query = urlsplit(self.raw).query
        return self.path + ("?" + query if query else "")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    ctype: str = "text/html; charset=utf-8"
    headers: list = field(default_factory=list)
    file: str = ""                # serve this file's content instead of BODY
    policy: str = PAGE_POLICY


class Dashboard:
    """The dashboard of one server: its area, settings, checks and assets."""

    def __init__(self, service):
        self.service, self.area, self.settings = service, service.area, service.settings
        cookie = "mt-" + hashlib.sha1(self.area.toppath.encode()).hexdigest()[:12]
        self.gate = webauth.Gate(webauth.read_policy(self.settings), service.token_ok, cookie)
        self.routes = [
            ("GET", r"/", self.grid_page, "read"),
            ("GET", r"/run/(\d+)", self.run_page, "read"),
            ("GET", r"/test/(\d+)", self.test_page, "read"),
            ("GET", r"/file/(\d+)/(.*)", self.file, "read"),
            ("GET", r"/trends", self.trends_page, "read"),
            ("GET", r"/actions", self.actions_page, "read"),
            ("GET", r"/login", self.login_page, "open"),
            ("GET", r"/static/([\w.-]+)", self.asset, "open"),
            ("GET", r"/api/grid", self.api_grid, "read"),
            ("GET", r"/api/changes", self.api_changes, "read"),
            ("GET", r"/api/run/(\d+)", self.api_run, "read"),
            ("GET", r"/api/test/(\d+)", self.api_test, "read"),
            ("GET", r"/api/actions", self.api_actions, "read"),
            ("GET", r"/api/trends", self.api_trends, "read"),
            ("POST", r"/login", self.login, "open"),
            ("POST", r"/logout", self.logout, "open"),
            ("POST", r"/action", self.act, "open"),
        ]
        self._assets = {}

    # ------------------------------------------------------------ the request's life

    def handle(self, handler):
        """Answer one request on HANDLER (rpc_http.Handler), whatever happens."""
        request = None
        try:
            request = self._request(handler)
            if request is None:
                return                      # the body was refused, the reply sent
            reply = self._route(request, handler)
        except Exception as err:            # every failure is a reply of one line
            reply = self._failure(err, request, handler)
        self._send(handler, reply, request)

    def _request(self, handler):
        parts = urlsplit(handler.path)
        request = Request(handler.command, parts.path or "/",
                          parse_qs(parts.query, keep_blank_values=True), handler.headers,
                          cookies(handler.headers.get("Cookie", "")), raw=handler.path)
        if handler.command == "POST":
            length = handler._length()
            if length is None:
                return None
            if length > MAX_FORM_BYTES:
                handler._refuse(413, f"form of {length} bytes exceeds {MAX_FORM_BYTES}",
                                "too-large")
                return None
            body = handler.rfile.read(length)
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise BadRequest("the form is not UTF-8") from None
            request.form = {k: v[-1] for k, v in form.items()}
        return request

    def _route(self, request, handler):
        for method, pattern, view, access in self.routes:
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                if access == "read" and not self.gate.may_read(request):
                    return self._login_first(request)
                return view(request, handler, *match.groups())
        raise grid.NotFound(f"no page {request.path}")

    def _login_first(self, request):
        if request.wants_json:
            raise webauth.Refused(401, "log in first (or send the area token in "
                                       "X-Megatest-Token): reads need the token here")
        return Reply(303, headers=[("Location", pages.href("/login", next=request.target))])

    def _failure(self, err, request, handler):
        status, message = self._status_of(err, request)
        if status == 500:
            handler._drop_db_connection()
        json_reply = request is None or request.wants_json
        if json_reply:
            return Reply(status, json.dumps({"ok": False, "error": message}).encode(),
                         "application/json")
        try:
            frame = self.frame(request)
        except Exception:                   # the area itself may be what failed
            frame = pages.Frame(self.settings.area_name)
        return Reply(status, pages.error(frame, status, message).encode())

    def _status_of(self, err, request):
        if isinstance(err, BadRequest):
            return 400, str(err)
        if isinstance(err, webauth.Refused):
            return err.status, str(err)
        if isinstance(err, logfiles.Forbidden):
            return 403, f"not served: {err}"
        if isinstance(err, grid.NotFound):
            return 404, str(err)
        if isinstance(err, FileNotFoundError):
            return 404, f"no such file in the run directory: {err}"
        if isinstance(err, OSError) and err.filename:
            return 403, f"cannot read {os.path.basename(err.filename)}: {err.strerror}"
        if isinstance(err, MtError):
            return 503, f"cannot read the database now: {err.message}"
        if isinstance(err, sqlite3.DatabaseError):
            return 503, f"cannot read the database now: {err}"
        what = request.path if request else "dashboard"
        return 500, self.service.internal_error(what)["error"]

    # ------------------------------------------------------------ replies

    def _send(self, handler, reply, request):
        handler.send_response(reply.status)
        size = os.path.getsize(reply.file) if reply.file else len(reply.body)
        for name, value in [("Content-Type", reply.ctype), ("Content-Length", str(size)),
                            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                            ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY"),
                            ("Content-Security-Policy", reply.policy), *reply.headers]:
            handler.send_header(name, value)
        if reply.status >= 400 and request is not None and request.method == "POST":
            handler.send_header("Connection", "close")     # an unread body may remain
            handler.close_connection = True
        handler.end_headers()
        if reply.file:
            _copy(reply.file, size, handler.wfile)
        else:
            handler.wfile.write(reply.body)

    def frame(self, request, seq=None, watch="", note=None, reload_ids=""):
        session = self.gate.session(request) if request is not None else None
        if note is None:
            note = grid.away_note(self.area, self.settings)
        return pages.Frame(self.settings.area_name, note, session.csrf if session else "",
                           bool(session and session.logged_in), seq, watch, reload_ids)

    def _page(self, text, headers=()):
        return Reply(body=text.encode(), headers=list(headers))

    def _json(self, value, status=200):
        return Reply(status, json.dumps(value).encode(), "application/json")

    # ------------------------------------------------------------ pages

    def grid_page(self, request, handler):
        f = gridpage.filters(request.query)
        g = grid.grid(self.area, self.settings, f)
        frame = self.frame(request, g["seq"], gridpage.watch_url(f), g["note"])
        return self._page(gridpage.page(frame, f, g))

    def run_page(self, request, handler, run_id):
        run = self._run(int(run_id))
        rates = grid.pass_rates(self.area, self.settings, run["target"]).get(run["target"], [])
        frame = self.frame(request, run["seq"], "/api/changes", run["note"])
        return self._page(detailpages.run_page(frame, run, rates))

    def _run(self, run_id):
        run = grid.run_detail(self.area, self.settings, run_id)
        for t in run["tests"]:
            t["cell"] = grid.cell(t)
        run["colour"], run["label"] = grid.run_look(run["state"], run["status"])
        return run

    def test_page(self, request, handler, test_id):
        t = grid.test_detail(self.area, self.settings, int(test_id))
        frame = self.frame(request, t["seq"], "/api/changes", t["note"], str(t["test_id"]))
        return self._page(detailpages.test_page(frame, t, self.settings))

    def trends_page(self, request, handler):
        rates = grid.pass_rates(self.area, self.settings, _one(request, "target", "%"))
        return self._page(detailpages.trends_page(self.frame(request), rates))

    def actions_page(self, request, handler):
        listed = grid.actions(self.area, self.settings, limit=100)
        seq = grid.sequence(self.area, self.settings)
        return self._page(pages.actions_page(self.frame(request, seq, "/api/changes"), listed))

    def login_page(self, request, handler):
        session = self.gate.session(request)
        headers = []
        if session is None:
            session = self.gate.sessions.new()
            headers.append(("Set-Cookie", self.gate.cookie(session)))
        frame = self.frame(request)
        frame.csrf = session.csrf
        return self._page(pages.login(frame, _next(request.query)), headers)

    def asset(self, request, handler, name):
        text, ctype = self._asset(name)
        etag = '"' + hashlib.sha1(text).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Reply(304, headers=[("ETag", etag)])
        return Reply(body=text, ctype=ctype, headers=[("ETag", etag)])

    def _asset(self, name):
        if name not in self._assets:
            if name == "colours.css":
                self._assets[name] = (colours_css().encode(), "text/css; charset=utf-8")
            else:
                path = os.path.join(ASSETS, name)
                if name.startswith(".") or not os.path.isfile(path):
                    raise grid.NotFound(f"no asset {name}")
                with open(path, "rb") as f:
                    self._assets[name] = (f.read(), _ASSET_TYPES.get(
                        os.path.splitext(name)[1], "application/octet-stream"))
        return self._assets[name]

    def file(self, request, handler, test_id, rel):
        t = grid.record(self.area, self.settings, int(test_id))
        try:
            rel = unquote(rel, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("the path is not UTF-8 once decoded") from None
        real = logfiles.resolve(self.settings, t["rundir"], rel)
        if os.path.isdir(real):
            if rel and not rel.endswith("/"):
                return Reply(301, headers=[("Location", request.path + "/")])
            entries = logfiles.listing(real)
            return self._page(pages.listing(self.frame(request), t, rel, entries))
        return Reply(file=real, ctype=logfiles.content_type(real), policy=FILE_POLICY)

    # ------------------------------------------------------------ JSON

    def api_grid(self, request, handler):
        return self._json(grid.grid(self.area, self.settings, gridpage.filters(request.query)))

    def api_changes(self, request, handler):
        since = gridpage.number(request.query, "since", 0, 0, None)
        f = gridpage.filters(request.query)
        return self._json(grid.changed(self.area, self.settings, f, since))

    def api_run(self, request, handler, run_id):
        return self._json(self._run(int(run_id)))

    def api_test(self, request, handler, test_id):
        return self._json(grid.test_detail(self.area, self.settings, int(test_id)))

    def api_actions(self, request, handler):
        ids = [int(i) for v in request.query.get("ids", []) for i in v.split(",") if i.isdigit()]
        if len(ids) > gridpage.MAX_WORDS:
            raise BadRequest(f"ids names more than {gridpage.MAX_WORDS} actions")
        limit = gridpage.number(request.query, "limit", 20, 1, 1000)
        return self._json({"actions": grid.actions(self.area, self.settings, ids, limit)})

    def api_trends(self, request, handler):
        return self._json(grid.pass_rates(self.area, self.settings,
                                          _one(request, "target", "%")))

    # ------------------------------------------------------------ POST: login, logout, act

    def login(self, request, handler):
        session = self.gate.check_post(request, need_login=False)
        if session is None:                  # the token header: nothing to log into
            raise BadRequest("log in from the login page, with its form")
        try:
            new = self.gate.login(session, request.form.get("token", "").strip())
        except webauth.Refused as err:
            frame = self.frame(request)
            frame.csrf = session.csrf
            page = pages.login(frame, _next({"next": [request.form.get("next", "")]}), str(err))
            return Reply(err.status, page.encode())
        where = _next({"next": [request.form.get("next", "")]})
        return Reply(303, headers=[("Location", where), ("Set-Cookie", self.gate.cookie(new))])

    def logout(self, request, handler):
        session = self.gate.check_post(request, need_login=False)
        self.gate.logout(session)
        return Reply(303, headers=[("Location", "/login"), ("Set-Cookie", self.gate.cookie(None))])

    def act(self, request, handler):
        """Queue a rerun of a record, or a kill or removal of a run, as the tasks table's
        action row; the reply (or the page it leads to) names the task."""
        self.gate.check_post(request)
        kind = request.form.get("action", "")
        if kind not in ACTION_KINDS:
            raise BadRequest(f"action must be one of {', '.join(ACTION_KINDS)}, got {kind!r}")
        if kind == "rerun":
            t = grid.record(self.area, self.settings, _form_id(request, "test_id"))
            run, patt, params = t["run"], pages.test_name(t), {"rerun_all": True}
        else:
            run = grid.run_of(self.area, self.settings, _form_id(request, "run_id"))
            patt, params = "%", {}
        fields = (ACTION_KINDS[kind], run["target"], run["runname"], patt, params)
        asked = request.form.get("request") or None
        if self.service.view:            # mt-serve --view: the area's server queues it
            task_id = self.service.forward(self.area, self.settings, *fields, request=asked)
        else:
            task_id = actions.queue(handler.db_connection(), *fields, request=asked)
        task = grid.actions(self.area, self.settings, [task_id])
        if request.wants_json:
            return self._json({"ok": True, "task": task[0] if task else {"id": task_id}})
        return Reply(303, headers=[("Location", f"/actions#task-{task_id}")])


# ---------------------------------------------------------------- helpers

_ASSET_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml", ".png": "image/png"}


def colours_css():
    """One class per Megatest colour (report.colours), with the text colour that reads on it."""
    from megatest import states
    from megatest.report import colours
    seen = {}
    for state in (*states.STATES, "OTHER"):
        for status in (*states.STATUS_RANK, "OTHER"):
            colour, _ = colours.colour(state, status)
            seen[colour] = colours.text_colour(colour)
    return "".join(f".c{c.lstrip('#').lower()}{{background:{c};color:{text}}}\n"
                   f".c{c.lstrip('#').lower()} a{{color:{text}}}\n"
                   for c, text in sorted(seen.items()))


def cookies(header):
    """{name: value} of a Cookie header (the first of a repeated name)."""
    out = {}
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name and name not in out:
            out[name] = value
    return out


def _one(request, name, default):
    return (request.query.get(name) or [default])[-1] or default


def _form_id(request, name):
    text = request.form.get(name, "")
    if not text.isdigit():
        raise BadRequest(f"{name} must be a record's or run's number, got {text!r}")
    return int(text)


def _next(query):
    """Where a login leads back to: a path of this server, else the grid."""
    where = (query.get("next") or ["/"])[-1]
    if not where.startswith("/") or where.startswith("//") or "\\" in where:
        return "/"
    return where


def _copy(path, size, out):
    """SIZE bytes of PATH to OUT (a log still growing is sent as long as announced)."""
    with open(path, "rb") as f:
        left = size
        while left > 0:
            chunk = f.read(min(COPY_CHUNK, left))
            if not chunk:
                out.write(b"\0" * left)      # it shrank: keep the announced length
                return
            out.write(chunk)
            left -= len(chunk)
