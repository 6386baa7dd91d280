"""`mt-serve --view`: the dashboard alone, on any host, beside the area's real server.

One area run once (a/b r1) and served by the real mt-serve on 127.0.0.1; viewers are the
real `mt-serve --view` in the foreground. "Another host" is simulated as the rest of the
suite does it: `.mt/homehost` names elsewhere.invalid while the viewer runs, so its reads
go to this host's copy of megatest.db and its pages name the home host. The real server,
started while this host was the home host, keeps syncing megatest.db meanwhile."""
import contextlib
import http.client
import json
import os
import re
import select
import signal
import subprocess

import pytest

from conftest import BIN, mt, write_area
from megatest.serve import rpc_client
from test_dashboard import TESTS, Client, make_dash, wait_for

AWAY = "elsewhere.invalid"
TOKEN_HEADER = rpc_client.TOKEN_HEADER
START_WAIT = 30.0


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    made = make_dash(tmp_path_factory.mktemp("view"))
    wait_for(lambda: os.path.exists(made.area.shared_db_path), "megatest.db")
    yield made
    made.stop()


class View:
    """A running `mt-serve --view`: its process, the line it printed and a browser for it."""

    def __init__(self, proc, line):
        self.proc, self.line = proc, line
        port = int(re.search(r" at http://127\.0\.0\.1:(\d+)/ ", line).group(1))
        self.info = {"address": "127.0.0.1", "port": port}

    def client(self):
        return Client(self.info)

    def api(self, path, token):
        reply = self.client().get(path, headers={TOKEN_HEADER: token})
        assert reply.status == 200, reply.text
        return reply.json()


@contextlib.contextmanager
def viewing(dash):
    proc = subprocess.Popen([str(BIN / "mt-serve"), "--view", "--area", str(dash.top),
                             "--bind", "127.0.0.1", "--port", "0"], env=dash.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], START_WAIT)
        line = proc.stdout.readline() if ready else ""
        assert line, f"mt-serve --view printed nothing: {proc.stderr.read() if proc.poll() else ''}"
        yield View(proc, line)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def away(dash):
    """The area's recorded home host is another host for a while."""
    record = os.path.join(dash.area.state_dir, "homehost")
    before = open(record).read()
    with open(record, "w") as f:
        f.write(AWAY + "\n")
    try:
        yield
    finally:
        with open(record, "w") as f:
            f.write(before)


def logged_in(view, token):
    client = view.client()
    assert client.get("/").status == 303                     # reads need the token here too
    client.login(token)
    return client, client.csrf("/")


def test_off_the_home_host_it_shows_the_copy_and_names_the_home_host(home):
    real = home.info["pid"]
    with away(home), viewing(home) as view:
        top = home.area.toppath
        assert re.fullmatch(
            rf"mt-serve --view: dashboard of {re.escape(top)} at http://127\.0\.0\.1:\d+/ "
            rf"\(reads \S+/readcopy\.db, this host's copy of {re.escape(top)}/megatest\.db "
            rf"\(the home host is {AWAY}\); actions go to the area's server\)\n", view.line)
        client, _ = logged_in(view, home.token)
        page = client.get("/")
        assert page.status == 200 and 'data-run-head="1"' in page.text
        assert '<p class="note" id="away">Served off the home host: this area&#x27;s home ' \
               f'host is {AWAY}.' in page.text
        grid = view.api("/api/grid", home.token)
        assert grid["source"].endswith("readcopy.db")
        assert [r["runname"] for r in grid["runs"]] == ["r1"]
        assert client.get("/static/dashboard.css").status == 200
        # the viewer took nothing of the real server's: same server.json, same pid
        assert home.info["pid"] == real != view.proc.pid


def test_a_change_in_the_live_db_reaches_the_view_once_megatest_db_is_synced(home):
    test_id = home.record("good/1")
    with away(home), viewing(home) as view:
        assert view.api(f"/api/test/{test_id}", home.token)["state"] == "COMPLETED"
        with home.conn() as conn:
            conn.execute("UPDATE tests SET comment='seen from afar' WHERE id=?", (test_id,))
            conn.commit()
        wait_for(lambda: view.api(f"/api/test/{test_id}", home.token)["comment"] ==
                 "seen from afar", "the change to reach the view's copy", timeout=30)


def test_test_calls_to_a_view_are_refused_naming_view(home):
    with viewing(home) as view:
        conn = http.client.HTTPConnection("127.0.0.1", view.info["port"], timeout=30)
        body = json.dumps({"cmd": "ping", "params": {}})
        conn.request("POST", "/api", body, {TOKEN_HEADER: home.token,
                                            "Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 404
        assert json.loads(reply.read()) == {
            "ok": False, "error": "mt-serve --view serves the dashboard only and answers no "
                                  "calls: they go to the area's server (mt-serve on the home host)"}
        conn.close()


def test_an_action_from_a_view_becomes_a_task_of_the_real_server_and_completes(home):
    """On the home host, next to the real server (the suite cannot run the real server
    where the home host is another one): the view hands the rerun on, the server runs it."""
    test_id = home.record("good/2")
    with viewing(home) as view:
        client, csrf = logged_in(view, home.token)
        reply = client.post("/action", {"action": "rerun", "test_id": test_id, "csrf": csrf,
                                        "request": "view-1"},
                            headers={"Origin": client.origin, "Accept": "application/json"})
        assert reply.status == 200, reply.text
        task = reply.json()["task"]
        assert (task["action"], task["target"], task["runname"], task["testpatt"]) == \
            ("run", "a/b", "r1", "good/2")
        again = client.post("/action", {"action": "rerun", "test_id": test_id, "csrf": csrf,
                                        "request": "view-1"},
                            headers={"Accept": "application/json"})
        assert again.json()["task"]["id"] == task["id"]            # queued once
        done = f"/api/actions?ids={task['id']}"
        wait_for(lambda: view.api(done, home.token)["actions"][0]["state"] in ("done", "failed"),
                 "the rerun to end")
        assert view.api(done, home.token)["actions"][0]["state"] == "done"
        assert view.api(f"/api/test/{test_id}", home.token)["attempt"] == 2
        # a browser without script: 303 to the view's actions page, which lists the task
        run_id = view.api("/api/grid", home.token)["runs"][0]["run_id"]
        reply = client.post("/action", {"action": "kill", "run_id": run_id, "csrf": csrf},
                            headers={"Origin": client.origin})
        assert reply.status == 303 and reply.headers["Location"].startswith("/actions#task-")
        kill = int(reply.headers["Location"].rsplit("-", 1)[1])
        assert f'data-task="{kill}"' in client.get("/actions").text
        wait_for(lambda: home.api(f"/api/actions?ids={kill}")["actions"][0]["state"] == "done",
                 "mt-clean --kill to end")


def test_an_action_from_afar_is_a_tasks_row_on_the_home_host(home):
    """Off the home host the view hands the action to the server as well; the row it
    becomes reaches the view's actions page once megatest.db is synced. (Here the server's
    mt-clean then refuses, since this host is not the named home host: the row ends failed;
    the completing case is the test above.)"""
    run_id = home.api("/api/grid")["runs"][0]["run_id"]
    with away(home), viewing(home) as view:
        client, csrf = logged_in(view, home.token)
        reply = client.post("/action", {"action": "kill", "run_id": run_id, "csrf": csrf},
                            headers={"Accept": "application/json"})
        assert reply.status == 200, reply.text
        task = reply.json()["task"]["id"]
        with home.conn() as conn:
            row = conn.execute("SELECT kind, action, target, runname FROM tasks WHERE id=?",
                               (task,)).fetchone()
        assert tuple(row) == ("action", "kill", "a/b", "r1")
        wait_for(lambda: f'data-task="{task}"' in client.get("/actions").text,
                 "the task to reach the view's copy", timeout=30)
        # the server claims and ends it; its end, too, reaches the view through the copy
        wait_for(lambda: view.api(f"/api/actions?ids={task}", home.token)["actions"][0]["state"]
                 in ("done", "failed"), "the task's end to reach the view's copy", timeout=60)


def test_with_no_server_an_action_fails_with_one_line(home):
    test_id = home.record("good/1")
    home.serve("--stop")
    with home.conn() as conn:
        before = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
    try:
        with away(home), viewing(home) as view:
            client, csrf = logged_in(view, home.token)
            line = (f"no mt-serve runs for this area on {AWAY}: start it with "
                    "mt-serve --ensure there")
            reply = client.post("/action", {"action": "rerun", "test_id": test_id,
                                            "csrf": csrf}, headers={"Accept": "application/json"})
            assert reply.status == 503 and reply.json() == {"ok": False, "error": line}
            page = client.post("/action", {"action": "rerun", "test_id": test_id,
                                           "csrf": csrf}, headers={"Origin": client.origin})
            assert page.status == 503 and line in page.text and "Traceback" not in page.text
            assert rpc_client.read_server(home.area.toppath) is None   # the view wrote none
        with home.conn() as conn:
            assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == before
    finally:
        out = home.serve("--ensure", "--bind", "127.0.0.1")
        assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("port, message", [
    ("70000", "--port must be at most 65535, got 70000"),
    ("x", "--port expects an integer, got 'x'"),
    ("-1", "--port must be at least 0, got -1"),
])
def test_a_bad_port_is_one_line_and_exit_2(tmp_path, mt_env, port, message):
    top = write_area(tmp_path / "area", TESTS)
    out = mt("serve", "--view", "--area", top, "--port", port, env=mt_env)
    assert (out.returncode, out.stdout, out.stderr) == (2, "", f"mt-serve: error: {message}\n")


def test_without_the_area_token_it_is_one_line_and_exit_2(tmp_path, mt_env):
    top = write_area(tmp_path / "area", TESTS)
    out = mt("serve", "--view", "--area", top, "--bind", "127.0.0.1", env=mt_env)
    path = os.path.join(os.path.realpath(top), ".mt", "token")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines()[0] == \
        f"mt-serve: error: no area token at {path}: the login needs it"
    assert not os.path.exists(os.path.join(os.path.realpath(top), ".mt", "homehost"))
