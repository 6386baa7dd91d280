"""The web dashboard over HTTP, without a browser: reads open or token-only, login and its
cookie, CSRF and origin checks on every POST, actions as tasks rows, the path checks of
run-directory files, the change feed, the off-home note, and one-line errors.

One area, run once by the real mt-run, served by the real mt-serve; requests go through
http.client with a cookie jar of our own, so every header is seen as a browser sends it."""
import contextlib
import html
import http.client
import json
import os
import re
import signal
import time
from urllib.parse import urlencode

import pytest

from conftest import BIN, mt, write_area
from megatest.config.area import Area
from megatest.serve import rpc_client
from megatest.store import db

TESTS = {
    "good": "[items]\nN 1 2\n\n[ezsteps]\nmeasure echo measuring $N; "
            "mt-test data set perf speed 10 --expected 12 --tol 3\n",
    "bad": '[ezsteps]\nbreak echo "error: it broke at line 7"; exit 1\n',
    "links": "[ezsteps]\nlink ln -s /etc/passwd passwd-link && ln -s / root-link && echo linked\n",
}
TOKEN_HEADER = rpc_client.TOKEN_HEADER


class Reply:
    def __init__(self, response, body):
        self.status, self.headers, self.body = response.status, response.msg, body

    @property
    def text(self):
        return self.body.decode()

    def json(self):
        return json.loads(self.body)


class Client:
    """One browser's worth of state: the server's address and the cookies it set."""

    def __init__(self, info):
        self.host, self.port = rpc_client.server_address(info), info["port"]
        self.cookies = {}

    @property
    def origin(self):
        return f"http://{self.host}:{self.port}"

    def request(self, method, path, form=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        heads = dict(headers or {})
        if self.cookies:
            heads["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            heads["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, heads)
            response = conn.getresponse()
            reply = Reply(response, response.read())
        finally:
            conn.close()
        for value in reply.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            if "Max-Age=0" in rest:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = rest.split(";")[0]
        return reply

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, **kw):
        return self.request("POST", path, form=form, **kw)

    def csrf(self, path="/login"):
        page = self.get(path).text
        return re.search(r'<meta name="csrf-token" content="([^"]*)">', page).group(1)

    def login(self, token):
        reply = self.post("/login", {"csrf": self.csrf(), "token": token, "next": "/"})
        assert reply.status == 303, reply.text
        return reply


class Dash:
    """The area, its server and what the tests need to know of them."""

    def __init__(self, top, env):
        self.top, self.env, self.area = top, env, Area(os.path.realpath(top))

    def serve(self, *args):
        return mt("serve", "--area", self.top, *args, env=self.env)

    @property
    def info(self):
        return rpc_client.read_server(str(self.area.toppath))

    @property
    def token(self):
        return open(rpc_client.token_file(str(self.area.toppath))).read().strip()

    def client(self):
        return Client(self.info)

    def api(self, path):
        reply = self.client().get(path, headers={TOKEN_HEADER: self.token})
        assert reply.status == 200, reply.text
        return reply.json()

    def record(self, name):
        """The test id of record NAME ("test" or "test/item") in the run."""
        for row in self.api("/api/grid?expand=%25")["rows"]:
            full = f"{row['test']}/{row['item']}" if row["item"] else row["test"]
            if full == name:
                return row["cells"][0]["id"]
        raise KeyError(name)

    @contextlib.contextmanager
    def conn(self):
        conn = db.connect(self.area.live_db_path(self.env))
        try:
            yield conn
        finally:
            conn.close()

    def stop(self):
        """Stop the server (SIGKILL when --stop could not)."""
        self.serve("--stop")
        info = self.info
        if info:
            try:
                os.kill(info["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


def make_dash(root, config="", tests=TESTS):
    """An area of TESTS run once (a/b r1) and served on 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    env["MT_TMPDIR"] = str(root / "livedb")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    top = write_area(root / "area", tests, config=config)
    out = mt("run", "--area", top, "--target", "a/b", "--runname", "r1", "--quiet", env=env)
    assert out.returncode == 1, out.stdout + out.stderr       # bad fails, on purpose
    made = Dash(top, env)
    out = made.serve("--ensure", "--bind", "127.0.0.1")
    assert out.returncode == 0, out.stdout + out.stderr
    return made


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    made = make_dash(tmp_path_factory.mktemp("dash"))
    yield made
    made.stop()


@pytest.fixture(scope="module")
def open_dash(tmp_path_factory):
    made = make_dash(tmp_path_factory.mktemp("open"), "[server]\ndashboard-reads open\n")
    yield made
    made.stop()


# ---------------------------------------------------------------- reads: token or open

def test_by_default_reads_need_the_token(dash):
    client = dash.client()
    page = client.get("/")
    assert page.status == 303 and page.headers["Location"] == "/login?next=%2F"
    api = client.get("/api/grid")
    assert api.status == 401
    assert api.json() == {"ok": False, "error": "log in first (or send the area token in "
                                                "X-Megatest-Token): reads need the token here"}
    assert client.get("/api/grid", headers={TOKEN_HEADER: "0" * 64}).status == 401
    assert client.get("/api/grid", headers={TOKEN_HEADER: dash.token}).status == 200
    # assets and the login page are open: they hold no data
    assert client.get("/static/dashboard.css").status == 200
    assert client.get("/login").status == 200


def test_open_reads_show_pages_but_acting_still_needs_the_login(open_dash):
    client = open_dash.client()
    page = client.get("/")
    assert page.status == 200 and 'data-run-head="1"' in page.text
    assert 'action="/action"' not in page.text                # no buttons before the login
    test_id = open_dash.record("bad")
    assert client.get(f"/test/{test_id}").status == 200
    refused = client.post("/action", {"action": "rerun", "test_id": test_id})
    assert refused.status == 403 and "no session" in refused.text
    client.csrf()                                              # a session, not logged in
    refused = client.post("/action", {"action": "rerun", "test_id": test_id,
                                      "csrf": client.csrf()})
    assert refused.status == 401 and "log in with the area token first" in refused.text


def test_a_bad_read_policy_is_one_line_and_exit_2(tmp_path, mt_env):
    top = write_area(tmp_path / "area", TESTS, config="[server]\ndashboard-reads maybe\n")
    out = mt("serve", "--area", top, "--ensure", env=mt_env)
    line = (top / "megatest.config").read_text().splitlines().index("dashboard-reads maybe") + 1
    assert out.returncode == 2
    assert out.stderr == (f"mt-serve: error: {os.path.realpath(top)}/megatest.config:{line}: "
                          "[server] dashboard-reads must be open or token, got 'maybe'\n")


# ---------------------------------------------------------------- login, logout, cookie

def test_login_sets_an_httponly_strict_cookie_and_logout_clears_it(dash):
    client = dash.client()
    first = client.get("/login")
    anonymous = dict(client.cookies)
    assert first.headers["Set-Cookie"].endswith("; Path=/; HttpOnly; SameSite=Strict")
    reply = client.login(dash.token)
    assert reply.headers["Location"] == "/"
    assert "HttpOnly" in reply.headers["Set-Cookie"] and "SameSite=Strict" in reply.headers["Set-Cookie"]
    assert client.cookies != anonymous                          # a new session id at login
    page = client.get("/")
    assert page.status == 200 and 'action="/logout"' in page.text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]*)">', page.text).group(1)
    kept = dict(client.cookies)
    out = client.post("/logout", {"csrf": csrf})
    assert out.status == 303 and out.headers["Location"] == "/login"
    assert client.cookies == {}
    assert client.get("/").status == 303
    old = dash.client()                     # a copy of the cookie is worthless after logout
    old.cookies = kept
    assert old.get("/").status == 303


def test_a_wrong_token_does_not_log_in(dash):
    client = dash.client()
    reply = client.post("/login", {"csrf": client.csrf(), "token": "guess", "next": "/"})
    assert reply.status == 401
    assert "wrong token: copy it from .mt/token in the area" in html.unescape(reply.text)
    assert client.get("/").status == 303


def test_login_leads_back_only_to_this_server(dash):
    client = dash.client()
    reply = client.post("/login", {"csrf": client.csrf(), "token": dash.token,
                                   "next": "//evil.example/x"})
    assert reply.headers["Location"] == "/"


# ---------------------------------------------------------------- CSRF and origin

def logged_in(dash):
    client = dash.client()
    client.login(dash.token)
    return client, client.csrf("/")


def test_every_post_needs_the_sessions_csrf_token_and_a_same_origin(dash):
    client, csrf = logged_in(dash)
    test_id = dash.record("good/1")
    form = {"action": "rerun", "test_id": test_id}
    assert client.post("/action", form).status == 403
    assert client.post("/action", dict(form, csrf="x" + csrf[1:])).status == 403
    other = {"Origin": "http://evil.example"}
    assert client.post("/action", dict(form, csrf=csrf), headers=other).status == 403
    other = {"Referer": "http://evil.example/page"}
    assert client.post("/action", dict(form, csrf=csrf), headers=other).status == 403
    assert client.post("/action", dict(form, csrf=csrf), headers={"Origin": "null"}).status == 403
    assert client.post("/logout", {}).status == 403
    with dash.conn() as conn:
        assert conn.execute("SELECT count(*) FROM tasks WHERE kind='action'").fetchone()[0] == 0
    ok = client.post("/action", dict(form, csrf=csrf, request="r-1"),
                     headers={"Origin": client.origin, "Accept": "application/json"})
    assert ok.status == 200, ok.text
    task = ok.json()["task"]
    assert (task["action"], task["target"], task["runname"], task["testpatt"]) == \
        ("run", "a/b", "r1", "good/1")
    # the same form sent again (a double click) queues nothing more
    again = client.post("/action", dict(form, csrf=csrf, request="r-1"),
                        headers={"Accept": "application/json"})
    assert again.json()["task"]["id"] == task["id"]
    wait_for(lambda: dash.api(f"/api/actions?ids={task['id']}")["actions"][0]["state"]
             in ("done", "failed"), "the rerun to end")
    assert dash.api(f"/api/actions?ids={task['id']}")["actions"][0]["state"] == "done"
    detail = dash.api(f"/api/test/{test_id}")
    assert (detail["status"], detail["attempt"]) == ("PASS", 2)


def test_the_token_header_acts_without_a_cookie(dash):
    """A script's POST with the token in the header: nothing for another site to ride on."""
    client = dash.client()
    run_id = dash.api("/api/grid")["runs"][0]["run_id"]
    reply = client.post("/action", {"action": "kill", "run_id": run_id},
                        headers={TOKEN_HEADER: dash.token, "Accept": "application/json"})
    assert reply.status == 200 and reply.json()["task"]["action"] == "kill"
    task = reply.json()["task"]["id"]
    wait_for(lambda: dash.api(f"/api/actions?ids={task}")["actions"][0]["state"] == "done",
             "mt-clean --kill to end")


def test_remove_a_run_from_its_page_without_a_script(open_dash):
    """The form as a browser without JavaScript sends it: 303 to the actions page, where
    the task goes from queued to done; then the run is gone from the grid and the disk."""
    client = open_dash.client()
    client.login(open_dash.token)
    run_id = open_dash.api("/api/grid")["runs"][0]["run_id"]
    page = client.get(f"/run/{run_id}").text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">',
                           page.split('value="remove"')[1].split("</form>")[0]))
    form.update(action="remove", csrf=client.csrf("/"))
    reply = client.post("/action", form, headers={"Origin": client.origin})
    assert reply.status == 303 and reply.headers["Location"].startswith("/actions#task-")
    task = int(reply.headers["Location"].rsplit("-", 1)[1])
    assert f'data-task="{task}"' in client.get("/actions").text
    wait_for(lambda: open_dash.api(f"/api/actions?ids={task}")["actions"][0]["state"] == "done",
             "mt-clean to end")
    assert open_dash.api("/api/grid")["runs"] == []
    assert not (open_dash.top / "disk0" / "a" / "b" / "r1" / "bad").exists()


@pytest.mark.parametrize("form, message", [
    ({"action": "explode"}, "action must be one of rerun, kill, remove, got 'explode'"),
    ({"action": "rerun", "test_id": "x"}, "test_id must be a record's or run's number, got 'x'"),
    ({"action": "rerun", "test_id": "99999"}, "no test record with id 99999"),
    ({"action": "remove", "run_id": "99999"}, "no run with id 99999"),
])
def test_a_bad_action_is_one_line(dash, form, message):
    client, csrf = logged_in(dash)
    reply = client.post("/action", dict(form, csrf=csrf), headers={"Accept": "application/json"})
    assert reply.status in (400, 404)
    assert reply.json() == {"ok": False, "error": message}


# ---------------------------------------------------------------- run directory files

def raw_get(dash, path):
    """GET PATH exactly as written (http.client sends it unchanged: `..` and `%2F` stay)."""
    return dash.client().get(path, headers={TOKEN_HEADER: dash.token})


def test_a_records_files_are_served_read_only_as_text(dash):
    test_id = dash.record("bad")
    log = raw_get(dash, f"/file/{test_id}/break.log")
    assert log.status == 200 and "error: it broke at line 7" in log.text
    assert log.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert log.headers["Content-Security-Policy"].startswith("sandbox")
    listing = raw_get(dash, f"/file/{test_id}/")
    assert listing.status == 200 and 'href="/file/%d/break.log"' % test_id in listing.text
    page = raw_get(dash, f"/test/{test_id}")
    assert "error: it broke at line 7" in page.text            # the failing log's tail
    assert "export MT_TEST_NAME=" in page.text                  # its environment
    assert raw_get(dash, f"/file/{test_id}/nothing.log").status == 404


@pytest.mark.parametrize("rel, why", [
    ("../../../../megatest.config", "a '..' in a path"),
    ("..%2F..%2F..%2F..%2Fmegatest.config", "a '..' in a path"),
    ("%2e%2e/%2e%2e/x", "a '..' in a path"),
    ("/etc/passwd", "an absolute path"),
    ("%2Fetc%2Fpasswd", "an absolute path"),
    ("passwd-link", "the path leads outside the record's run directory"),
    ("root-link/etc/passwd", "the path leads outside the record's run directory"),
    ("root-link/", "the path leads outside the record's run directory"),
    ("x%00y", "a NUL in a path"),
])
def test_nothing_outside_the_run_directory_is_served(dash, rel, why):
    test_id = dash.record("links")
    reply = raw_get(dash, f"/file/{test_id}/{rel}")
    assert reply.status == 403, reply.text
    assert f"not served: {why}" in html.unescape(reply.text)
    assert "root:" not in reply.text


def test_a_record_whose_rundir_points_outside_the_area_is_refused(dash):
    test_id = dash.record("good/2")
    with dash.conn() as conn:
        before = db.get_test(conn, test_id)["rundir"]
        db.update_test(conn, test_id, rundir="/etc")
    try:
        reply = raw_get(dash, f"/file/{test_id}/passwd")
        assert reply.status == 403
        assert "the record's run directory is outside the area's run directories" in \
            html.unescape(reply.text)
    finally:
        with dash.conn() as conn:
            db.update_test(conn, test_id, rundir=before)


# ---------------------------------------------------------------- the change feed

def test_the_change_feed_gives_what_changed_since_a_number(dash):
    seq = dash.api("/api/grid")["seq"]
    assert dash.api(f"/api/changes?since={seq}")["tests"] == []
    test_id = dash.record("good/1")
    with dash.conn() as conn:
        db.set_test_state(conn, test_id, "RUNNING", "n/a")
    changed = dash.api(f"/api/changes?since={seq}")
    assert changed["seq"] > seq and not changed["reload"]
    mine = [t for t in changed["tests"] if t["id"] == test_id]
    assert mine and mine[0]["state"] == "RUNNING" and mine[0]["show"]
    assert mine[0]["colour"] == "#0983e8" and mine[0]["label"] == "RUNNING"
    # the same change seen through a filter that does not select it
    hidden = dash.api(f"/api/changes?since={seq}&status=FAIL")
    assert [t["show"] for t in hidden["tests"] if t["id"] == test_id] == [False]
    with dash.conn() as conn:
        db.set_test_state(conn, test_id, "COMPLETED", "PASS")
    assert dash.api(f"/api/changes?since={changed['seq']}")["tests"][0]["label"] == "PASS"
    # a number the database has not reached yet: it was rebuilt, the page starts again
    assert dash.api(f"/api/changes?since={10 ** 9}")["reload"] is True


@pytest.mark.parametrize("query, message", [
    ("/api/changes?since=x", "since must be a whole number of at least 0, got 'x'"),
    ("/api/grid?columns=0", "columns must be a whole number from 1 to 100, got '0'"),
    ("/api/grid?columns=101", "columns must be a whole number from 1 to 100, got '101'"),
    ("/api/grid?skip=-1", "skip must be a whole number of at least 0, got '-1'"),
])
def test_bad_query_values_are_400_with_one_line(dash, query, message):
    reply = raw_get(dash, query)
    assert reply.status == 400 and reply.json() == {"ok": False, "error": message}


def test_unknown_pages_and_records_are_404_with_one_line(dash):
    for path, message in (("/nowhere", "no page /nowhere"), ("/run/999", "no run with id 999"),
                          ("/test/999", "no test record with id 999"),
                          ("/static/nothing.js", "no asset nothing.js")):
        reply = raw_get(dash, path)
        assert reply.status == 404 and message in reply.text and "Traceback" not in reply.text
    assert raw_get(dash, "/api/run/999").json() == {"ok": False, "error": "no run with id 999"}


# ---------------------------------------------------------------- the grid and its pages

def test_the_grid_folds_items_and_filters(dash):
    grid = dash.api("/api/grid")
    assert [(r["test"], r["item"], r["items"]) for r in grid["rows"]] == \
        [("bad", "", 0), ("good", "", 2), ("links", "", 0)]
    expanded = dash.api("/api/grid?expand=good")
    assert [(r["test"], r["item"]) for r in expanded["rows"]] == \
        [("bad", ""), ("good", ""), ("good", "1"), ("good", "2"), ("links", "")]
    failing = dash.api("/api/grid?status=FAIL")
    assert [r["test"] for r in failing["rows"]] == ["bad"]
    assert dash.api("/api/grid?testpatt=li%25")["rows"][0]["test"] == "links"
    assert dash.api("/api/grid?target=x/y")["runs"] == []


def test_pages_carry_no_inline_script_and_a_strict_policy(dash):
    reply = raw_get(dash, "/")
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in reply.text and " style=" not in reply.text
    assert reply.headers["X-Frame-Options"] == "DENY"
    run_id = dash.api("/api/grid")["runs"][0]["run_id"]
    for path in (f"/run/{run_id}", f"/test/{dash.record('good/1')}", "/trends", "/actions"):
        page = raw_get(dash, path)
        assert page.status == 200 and " style=" not in page.text, path
    data = raw_get(dash, f"/test/{dash.record('good/1')}").text
    assert "<td>perf</td><td>speed</td><td class=\"num\">10</td><td class=\"num\">12</td>" \
           "<td class=\"num\">3</td>" in data                   # value, expected, tol


# ---------------------------------------------------------------- off the home host

def test_a_page_served_off_the_home_host_says_so_and_reads_the_copy(dash):
    """The area's recorded home host becomes another one while the server runs: reads
    then go to this host's copy of megatest.db, and every page names the home host."""
    record = dash.area.state_dir + "/homehost"
    before = open(record).read()
    wait_for(lambda: os.path.exists(dash.area.shared_db_path), "megatest.db")
    try:
        with open(record, "w") as f:
            f.write("elsewhere.invalid\n")
        grid = dash.api("/api/grid")
        assert grid["note"].startswith("Served off the home host: this area's home host is "
                                       "elsewhere.invalid.")
        assert grid["source"].endswith("readcopy.db")
        assert grid["rows"]                                     # the copy has the run
        page = raw_get(dash, "/").text
        assert '<p class="note" id="away">Served off the home host: this area&#x27;s home ' \
               'host is elsewhere.invalid.' in page
        assert "elsewhere.invalid" in dash.api("/api/changes?since=0")["note"]
    finally:
        with open(record, "w") as f:
            f.write(before)
    assert dash.api("/api/grid")["note"] == ""


def wait_for(check, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
