"""mt-serve: the token, bad requests, one server per area, mt-test through the server, the journal,
kill -9 of the server mid-run, and direct and served writers at once."""
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, mt, write_area
from megatest.config.area import Area
from megatest.launch import testenv
from megatest.serve import rpc_client
from megatest.store import db
from megatest.testside import journal

ELSEWHERE = "elsewhere.invalid"      # a home host that is not this one: mt-test goes through mt-serve


class Served:
    """An area with one run (a/b, r) and its records, plus its server (stopped at the end)."""

    def __init__(self, root, env):
        self.top = write_area(root, {"t": "[ezsteps]\ns1 true\n"})
        self.env, self.area = env, Area(os.path.realpath(self.top))
        conn = db.open_area_db(self.area, env)
        keys = db.register_keys(conn, ["arch", "os"])
        self.run_id = db.register_run(conn, keys, ["a", "b"], "r", "me")
        conn.close()
        self.db_path = self.area.live_db_path(env)

    def add_test(self, name, state="RUNNING"):
        """A record and its run directory; returns (test id, run dir)."""
        rundir = os.path.join(self.top, "runs", name)
        os.makedirs(rundir, exist_ok=True)
        with self.conn() as conn:
            db.register_tests(conn, self.run_id, [(name, "")])
            test_id = db.find_test(conn, self.run_id, name, "")["id"]
            db.update_test(conn, test_id, state=state, rundir=rundir, shortdir=rundir)
        return test_id, rundir

    def test_env(self, test_id, rundir, name, remote=True, patience="20"):
        ident = testenv.TestIdentity(str(self.area.toppath), "a/b", "r", name, "", self.db_path,
                                     self.run_id, test_id, rundir)
        env = dict(self.env, MT_CMDINFO=testenv.encode_cmdinfo(ident), MT_TEST_RUN_DIR=rundir,
                   MT_RPC_PATIENCE=patience)
        if remote:
            env["MT_HOMEHOST"] = ELSEWHERE
        return env

    def conn(self):
        return _Conn(self.db_path)

    def row(self, test_id):
        with self.conn() as conn:
            return dict(db.get_test(conn, test_id))

    def data(self, test_id):
        with self.conn() as conn:
            return {(r["category"], r["variable"]): r["value"] for r in db.data_of_test(conn, test_id)}

    def serve(self, *args):
        return mt("serve", "--area", self.top, *args, env=self.env)

    def info(self):
        return rpc_client.read_server(str(self.area.toppath))

    def token(self):
        return open(rpc_client.token_file(str(self.area.toppath))).read().strip()

    def post(self, body, headers=None, token=True, path="/api", method="POST"):
        """(status, reply) of one raw HTTP request to the running server."""
        info = self.info()
        conn = http.client.HTTPConnection(rpc_client.server_address(info), info["port"], timeout=10)
        heads = dict(headers or {})
        if token is True:
            heads[rpc_client.TOKEN_HEADER] = self.token()
        elif token:
            heads[rpc_client.TOKEN_HEADER] = token
        try:
            conn.request(method, path, body, heads)
            reply = conn.getresponse()
            return reply.status, json.loads(reply.read() or b"{}")
        finally:
            conn.close()

    def call(self, cmd, params=None, **kw):
        return self.post(json.dumps({"cmd": cmd, "params": params or {}}), **kw)

    def ping(self):
        status, reply = self.call("ping")
        assert status == 200, reply
        return reply["result"]


class _Conn:
    def __init__(self, path):
        self.conn = db.connect(path)

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


@pytest.fixture
def served(tmp_path, mt_env):
    made = Served(tmp_path / "area", mt_env)
    out = made.serve("--ensure")
    assert out.returncode == 0, out.stdout + out.stderr
    yield made
    made.serve("--stop")
    info = made.info()
    if info and _alive(info["pid"]):
        os.kill(info["pid"], signal.SIGKILL)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_for(check, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def mt_test(env, *args, timeout=60):
    return subprocess.run([str(BIN / "mt-test"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


class Reaped:
    """Child processes that are always killed and reaped, even when an assertion fails."""

    def __init__(self):
        self.procs = []

    def spawn(self, argv, env):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        self.procs.append(proc)
        return proc

    def finish(self, timeout=120):
        outputs = [p.communicate(timeout=timeout) for p in self.procs]
        return [(p.returncode, *out) for p, out in zip(self.procs, outputs)]

    def reap(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.fixture
def reaped():
    children = Reaped()
    yield children
    children.reap()


# ---------------------------------------------------------------- the token and bad requests

def status_call(test_id):
    return {"test": {"id": test_id}, "state": "COMPLETED", "status": "PASS"}


@pytest.mark.parametrize("token", [None, "", "0" * 64, "wrong token with spaces"])
def test_missing_or_wrong_token_is_401_and_nothing_is_written(served, token):
    test_id, _ = served.add_test("t1")
    status, reply = served.call("status", status_call(test_id), token=token)
    assert (status, reply["ok"]) == (401, False)
    assert "X-Megatest-Token" in reply["error"]
    assert served.row(test_id)["state"] == "RUNNING"
    assert served.ping()["requests"]["unauthorized"] == 1


def test_the_right_token_writes(served):
    test_id, _ = served.add_test("t1")
    status, reply = served.call("status", status_call(test_id))
    assert (status, reply["ok"]) == (200, True)
    assert (served.row(test_id)["state"], served.row(test_id)["status"]) == ("COMPLETED", "PASS")


@pytest.mark.parametrize("body, message", [
    ("{not json", "malformed JSON"),
    ("[1, 2]", 'expected an object {"cmd": NAME, "params": {...}}'),
    ('{"cmd": 7}', 'expected an object {"cmd": NAME, "params": {...}}'),
    ('{"cmd": "status", "params": []}', "params must be an object"),
    ('{"cmd": "status", "params": {}}', "bad params for status: missing 'test'"),
    ('{"cmd": "status", "params": {"test": {"id": 1}, "state": 5, "status": "PASS"}}',
     "bad params for status: expected text, got int"),
    ("\xff\xfe", "malformed JSON"),
])
def test_malformed_requests_get_400_and_the_server_keeps_serving(served, body, message):
    status, reply = served.post(body.encode("latin-1"))
    assert status == 400
    assert reply["error"].startswith(message)
    assert served.ping()["pid"] == served.info()["pid"]


def test_unknown_command_path_and_method(served):
    assert served.call("drop_tables")[0] == 404
    assert served.post("{}", path="/other")[0] == 404
    assert served.post(None, method="GET")[0] == 405
    assert served.ping()


def test_oversized_bodies_get_413(served):
    from megatest.serve import rpc_http
    body = b'{"cmd": "ping", "params": {"pad": "' + b"x" * rpc_http.MAX_BODY_BYTES + b'"}}'
    status, reply = served.post(body)
    assert status == 413 and "exceeds" in reply["error"]
    # a declared length far beyond the limit is refused before any of the body is read
    info = served.info()
    conn = http.client.HTTPConnection(rpc_client.server_address(info), info["port"], timeout=10)
    conn.putrequest("POST", "/api")
    conn.putheader(rpc_client.TOKEN_HEADER, served.token())
    conn.putheader("Content-Length", str(10 ** 12))
    conn.endheaders()
    conn.send(b'{"cmd": "ping"')
    assert conn.getresponse().status == 413
    conn.close()
    assert served.ping()["requests"]["too-large"] == 2


def test_a_refused_call_is_422_with_the_reason(served):
    status, reply = served.call("status", status_call(9999))
    assert status == 422 and "test id 9999" in reply["error"]


def test_a_retried_queue_request_queues_one_action(served):
    """A queue call whose reply was lost is sent again with the same request id: one action."""
    call = {"action": "run", "target": "a/b", "runname": "q", "request": "0123abcd"}
    first = served.call("queue", call)
    again = served.call("queue", call)
    other = served.call("queue", {**call, "request": "0123ABCD"})
    assert first[0] == again[0] == other[0] == 200
    assert first[1]["result"] == again[1]["result"] != other[1]["result"]
    with served.conn() as conn:
        assert conn.execute("SELECT count(*) FROM tasks WHERE kind='action'").fetchone()[0] == 2


def test_token_file_is_private(served):
    mode = os.stat(rpc_client.token_file(str(served.area.toppath))).st_mode & 0o777
    assert mode == 0o600


def test_server_group_and_hostname_settings(tmp_path, mt_env):
    import grp
    group = grp.getgrgid(os.getgid()).gr_name
    made = Served(tmp_path / "area", mt_env)
    with open(made.top / "megatest.config", "a") as cfg:
        cfg.write(f"\n[server]\ngroup {group}\nhostname 127.0.0.1\n")
    try:
        assert made.serve("--ensure").returncode == 0
        st = os.stat(rpc_client.token_file(str(made.area.toppath)))
        assert (st.st_mode & 0o777, st.st_gid) == (0o640, os.getgid())
        assert made.info()["address"] == "127.0.0.1"
        assert made.ping()
    finally:
        made.serve("--stop")


# ---------------------------------------------------------------- one server per area

def test_ensure_twice_gives_one_server_and_status_and_stop(served):
    first = served.info()
    again = served.serve("--ensure")
    assert again.returncode == 0 and "already running" in again.stdout
    assert served.info()["pid"] == first["pid"]
    foreground = served.serve()                 # a second server in the foreground exits at once
    assert foreground.returncode == 0 and "already runs" in foreground.stdout
    out = served.serve("--status")
    assert out.returncode == 0
    fields = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert (fields["pid"], fields["port"]) == (str(first["pid"]), str(first["port"]))
    assert set(fields) >= {"host", "address", "port", "pid", "uptime"}
    stopped = served.serve("--stop")
    assert (stopped.returncode, stopped.stdout) == (0, "mt-serve: stopped\n")
    assert not _alive(first["pid"]) or _zombie(first["pid"])
    assert served.info() is None                # server.json goes with a clean stop
    none = served.serve("--status")
    assert none.returncode == 1 and "no server running" in none.stdout


def _zombie(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    except OSError:
        return True


def test_crontab_line(served):
    out = served.serve("--crontab")
    assert out.returncode == 0
    assert out.stdout.startswith("* * * * * ") and "mt-serve --area" in out.stdout
    assert "--ensure" in out.stdout


def test_heartbeat_refreshes_server_json(served):
    before = served.info()["heartbeat"]
    wait_for(lambda: served.info()["heartbeat"] > before, timeout=10, what="a new heartbeat")


def test_idle_timeout_stops_the_server(tmp_path, mt_env):
    made = Served(tmp_path / "area", mt_env)
    with open(made.top / "megatest.config", "a") as cfg:
        cfg.write("\n[server]\ntimeout 2s\n")
    assert made.serve("--ensure").returncode == 0
    pid = made.info()["pid"]
    wait_for(lambda: made.serve("--status").returncode == 1, timeout=20, what="the idle stop")
    wait_for(lambda: not _alive(pid) or _zombie(pid), timeout=5, what="the process to end")


def test_serve_refuses_to_run_off_the_home_host(tmp_path, mt_env):
    made = Served(tmp_path / "area", mt_env)
    with open(made.top / "megatest.config", "a") as cfg:
        cfg.write(f"\n[server]\nhomehost {ELSEWHERE}\n")
    out = made.serve("--ensure")
    assert out.returncode == 2
    assert out.stderr.startswith(f"mt-serve: error: mt-serve runs on the area's home host {ELSEWHERE}")


# ---------------------------------------------------------------- mt-test through the server

def test_mt_test_off_the_home_host_goes_through_the_server(served):
    test_id, rundir = served.add_test("t1")
    env = served.test_env(test_id, rundir, "t1")
    for args in (["status", "RUNNING", "n/a", "--comment", "via rpc"],
                 ["step", "s1", "start"], ["step", "s1", "end", "--status", "0", "--logfile", "s1.log"],
                 ["data", "set", "cat", "var", "3", "--expected", "3", "--tol", "0"],
                 ["setlog", "final.html"], ["status", "COMPLETED", "AUTO"]):
        out = mt_test(env, *args)
        assert (out.returncode, out.stderr) == (0, ""), args
    row = served.row(test_id)
    assert (row["state"], row["status"], row["final_logf"], row["pass_count"]) == \
        ("COMPLETED", "PASS", "final.html", 1)
    assert served.data(test_id) == {("cat", "var"): "3"}
    metrics = served.ping()
    assert metrics["requests"]["status"] == 2 and metrics["requests"]["step"] == 2
    assert metrics["hosts"][os.uname().nodename] >= 6
    show = mt_test(env, "show")
    assert "route: mt-serve at " in show.stdout and "reachable, record COMPLETED/PASS" in show.stdout


def test_direct_route_is_shown_on_the_home_host(served):
    test_id, rundir = served.add_test("t1")
    out = mt_test(served.test_env(test_id, rundir, "t1", remote=False), "show")
    assert "route: direct" in out.stdout


def test_a_refused_state_change_through_the_server_exits_1(served):
    test_id, rundir = served.add_test("t1", state="KILLREQ")
    out = mt_test(served.test_env(test_id, rundir, "t1"), "status", "COMPLETED", "PASS")
    assert out.returncode == 1
    assert out.stderr == "mt-test: a/b/r/t1 is KILLREQ: COMPLETED/PASS not recorded\n"


def test_triggers_fire_on_the_calling_host(served):
    test_id, rundir = served.add_test("t1")
    from megatest.launch import triggers
    triggers.write_spec(rundir, {"COMPLETED/PASS": f"echo fired > {rundir}/fired; true"})
    out = mt_test(served.test_env(test_id, rundir, "t1"), "status", "COMPLETED", "PASS")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: os.path.exists(os.path.join(rundir, "fired")), what="the trigger")


# ---------------------------------------------------------------- the journal

def test_unreachable_server_journals_and_the_next_call_delivers_in_order(served):
    test_id, rundir = served.add_test("t1")
    assert served.serve("--stop").returncode == 0
    env = served.test_env(test_id, rundir, "t1", patience="0.3")
    first = mt_test(env, "data", "set", "c", "v", "1")
    assert first.returncode == 0
    assert "mt-serve is unreachable" in first.stderr and "delivered later" in first.stderr
    assert mt_test(env, "data", "set", "c", "v", "2").returncode == 0
    kept = journal.journal_path(rundir)
    assert len(open(kept).readlines()) == 2
    assert served.data(test_id) == {}
    # the server is back, but its sweep has not run yet: the test's next call delivers all
    conn = served.conn()
    with conn as c:
        db.update_test(c, test_id, shortdir="")     # keep the server's sweep out of it
    assert served.serve("--ensure").returncode == 0
    last = mt_test(env, "data", "set", "c", "w", "3")
    assert (last.returncode, last.stderr) == (0, "")
    assert served.data(test_id) == {("c", "v"): "2", ("c", "w"): "3"}
    assert not os.path.exists(kept)


def test_the_server_delivers_journals_of_running_tests_when_it_starts(served):
    test_id, rundir = served.add_test("t1")
    assert served.serve("--stop").returncode == 0
    env = served.test_env(test_id, rundir, "t1", patience="0.2")
    assert mt_test(env, "status", "RUNNING", "WARN", "-m", "from far").returncode == 0
    assert os.path.exists(journal.journal_path(rundir))
    assert served.serve("--ensure").returncode == 0
    wait_for(lambda: served.row(test_id)["status"] == "WARN", what="the journal's delivery")
    assert served.row(test_id)["comment"] == "from far"
    wait_for(lambda: not os.path.exists(journal.journal_path(rundir)), what="the journal to go")


def test_deliver_journal_applies_in_order_for_the_runner(served):
    from megatest.testside import testops
    test_id, rundir = served.add_test("t1")
    ref = {"id": test_id}
    journal.append_journal(rundir, "data", {"test": ref, "rows": [_row("c", "v", "1")]})
    journal.append_journal(rundir, "status", {"test": ref, "state": "COMPLETED", "status": "AUTO"})
    journal.append_journal(rundir, "status", {"test": {"id": 9999}, "state": "X", "status": "Y"})
    with served.conn() as conn:
        assert testops.deliver_journal(conn, rundir) == 2
    assert served.row(test_id)["status"] == "PASS"
    assert not os.path.exists(journal.journal_path(rundir))


def _row(category, variable, value):
    return {"category": category, "variable": variable, "value": value, "expected": "",
            "tol": "", "units": "", "comment": "", "status": "pass", "type": ""}


def test_replay_stops_at_the_first_unreachable_and_keeps_the_rest(tmp_path):
    rundir = str(tmp_path)
    for n in range(4):
        journal.append_journal(rundir, "step", {"n": n})
    seen = []

    def deliver(cmd, params):
        if params["n"] == 2:
            raise rpc_client.Unreachable("down")
        seen.append(params["n"])

    result = journal.replay_journal(rundir, deliver)
    assert (seen, result.delivered, result.remaining) == ([0, 1], 2, 2)
    result = journal.replay_journal(rundir, lambda c, p: seen.append(p["n"]))
    assert (seen, result.remaining) == ([0, 1, 2, 3], 0)
    assert not os.path.exists(journal.journal_path(rundir))


def test_a_line_torn_by_a_crash_is_skipped_and_the_next_append_stays_whole(tmp_path):
    rundir = str(tmp_path)
    journal.append_journal(rundir, "step", {"n": 1})
    with open(journal.journal_path(rundir), "a") as f:
        f.write('{"cmd": "step", "par')                # the crash
    journal.append_journal(rundir, "step", {"n": 2})
    seen = []
    result = journal.replay_journal(rundir, lambda c, p: seen.append(p["n"]))
    assert seen == [1, 2] and result.remaining == 0


# ---------------------------------------------------------------- kill -9 mid-run

def test_kill_9_of_the_server_mid_run_loses_nothing(served, reaped):
    test_id, rundir = served.add_test("t1")
    env = served.test_env(test_id, rundir, "t1", patience="30")
    count = 40
    loop = f'for i in $(seq 1 {count}); do mt-test data set c v$i $i || exit 1; done'
    writer = reaped.spawn(["sh", "-c", loop], env)
    wait_for(lambda: len(served.data(test_id)) >= 5, what="the first updates")
    killed = served.info()["pid"]
    os.kill(killed, signal.SIGKILL)
    time.sleep(0.5)                                  # clients now retry against a dead port
    assert served.serve("--ensure").returncode == 0
    code, _, err = reaped.finish()[0]
    assert (code, err) == (0, ""), err                # retried until the new server answered
    assert not os.path.exists(journal.journal_path(rundir))
    assert served.data(test_id) == {("c", f"v{i}"): str(i) for i in range(1, count + 1)}
    assert served.info()["pid"] != killed


def test_kill_9_with_no_server_for_a_while_journals_and_the_new_server_delivers(served, reaped):
    test_id, rundir = served.add_test("t1")
    env = served.test_env(test_id, rundir, "t1", patience="0.2")
    os.kill(served.info()["pid"], signal.SIGKILL)
    loop = "for i in $(seq 1 10); do mt-test data set c v$i $i || exit 1; done"
    out = subprocess.run(["sh", "-c", loop], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr.count("delivered later") == 10, out.stderr
    assert len(open(journal.journal_path(rundir)).readlines()) == 10
    assert served.serve("--ensure").returncode == 0    # delivers the journals of running tests
    expected = {("c", f"v{i}"): str(i) for i in range(1, 11)}
    wait_for(lambda: served.data(test_id) == expected, what="the journal's delivery")
    wait_for(lambda: not os.path.exists(journal.journal_path(rundir)), what="the journal to go")


# ---------------------------------------------------------------- direct and served writers at once

def test_20_direct_and_20_served_writers_lose_nothing(served, reaped):
    writers = 20
    tests = [served.add_test(f"w{n}") for n in range(2 * writers)]
    for n, (test_id, rundir) in enumerate(tests):
        env = served.test_env(test_id, rundir, f"w{n}", remote=n >= writers, patience="60")
        script = (f"mt-test data set load n {n} && mt-test step s1 start && "
                  "mt-test step s1 end --status 0 && mt-test status COMPLETED PASS")
        reaped.spawn(["sh", "-c", script], env)
    results = reaped.finish(timeout=300)
    for code, _, err in results:
        assert code == 0 and "locked" not in err and "Traceback" not in err, err
    for n, (test_id, _) in enumerate(tests):
        row = served.row(test_id)
        assert (row["state"], row["status"]) == ("COMPLETED", "PASS"), n
        assert served.data(test_id) == {("load", "n"): str(n)}
    requests = served.ping()["requests"]
    assert requests["status"] == writers and requests["data"] == writers
    assert requests["step"] == 2 * writers


def test_a_second_server_with_another_live_db_dir_is_refused(served, tmp_path):
    other_env = dict(served.env, MT_TMPDIR=str(tmp_path / "elsewhere-tmp"))
    out = mt("serve", "--area", served.top, "--ensure", env=other_env)
    assert out.returncode == 2
    assert out.stderr.startswith(f"mt-serve: error: a server (pid {served.info()['pid']}) "
                                 "already serves this area from another live database directory")
    status = mt("serve", "--area", served.top, "--status", env=other_env)   # found by a ping
    assert status.returncode == 0 and f"pid: {served.info()['pid']}" in status.stdout


@pytest.mark.parametrize("args, message", [
    (["--ensure", "--stop"], "mt-serve: error: bad or missing arguments: --ensure --stop"),
    (["--port", "x"], "mt-serve: error: --port expects an integer, got 'x'"),
    (["--port", "70000"], "mt-serve: error: --port must be at most 65535, got 70000"),
    (["--bogus"], "mt-serve: error: unknown option --bogus"),
])
def test_usage_errors(args, message, mt_env):
    out = mt("serve", *args, env=mt_env)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == message
