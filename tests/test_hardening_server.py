"""Issue 9, the server: every request gets a reply (400 for wrong types, 500 with an error id for a
bug), a burst of clients is not reset, --stop/--status find the server whatever the caller's
environment, and a read-only area is one clear line. Real sockets, a real mt-serve, a real area."""
import json
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import mt
from megatest.serve import rpc_client
from megatest.testside import journal, rpc_params, testops
from test_serve import Served, _alive, _zombie, mt_test, served, status_call  # noqa: F401


def raw_call(served, cmd_and_params):
    """(status, reply) of a body given as JSON text (so that it may hold what json.dumps would
    not write), over a fresh connection."""
    return served.post(cmd_and_params.encode())


# ---------------------------------------------------------------- wrong types get 400

STATUS = '{"cmd": "status", "params": {"test": {"id": %s}, "state": %s, "status": %s%s}}'
DEEP = 200_000


@pytest.mark.parametrize("body, message", [
    (STATUS % ("99999999999999999999999", '"COMPLETED"', '"PASS"', ""),
     "bad params for status: expected an integer within SQLite's 64-bit range, "
     "got int 99999999999999999999999 for 'test.id'"),
    (STATUS % ("1.5e300", '"COMPLETED"', '"PASS"', ""),
     "bad params for status: expected an integer within SQLite's 64-bit range, "
     "got float 1.5e+300 for 'test.id'"),
    (STATUS % ("Infinity", '"COMPLETED"', '"PASS"', ""),
     "malformed JSON: Infinity is not a number JSON allows"),
    (STATUS % ("-Infinity", '"COMPLETED"', '"PASS"', ""),
     "malformed JSON: -Infinity is not a number JSON allows"),
    (STATUS % ("1e999", '"COMPLETED"', '"PASS"', ""),
     "malformed JSON: 1e999 is beyond the range of a double"),
    (STATUS % ("TID", '"COMPLETED"', '"PASS"', ', "comment": {"a": 1}'),
     "bad params for status: expected text, got object for 'comment'"),
    (STATUS % ("TID", '"COMPLETED"', '{"a": 1}', ""),
     "bad params for status: expected text, got object for 'status'"),
    (STATUS % ("TID", '"COMPLETED"', '"PASS"', ', "comment": ' + "[" * DEEP + "]" * DEEP),
     "malformed JSON: nested deeper than 32 levels"),
    ('{"cmd": "status", "params": ' + "[" * DEEP + "]" * DEEP + "}",
     "malformed JSON: nested deeper than 32 levels"),
    ('{"cmd": "status", "params": ' + "[" * DEEP + "}",
     "malformed JSON: nested deeper than 32 levels"),
    ('{"cmd": "exec-start", "params": {"test": {"id": TID}, "pid": {"a": 1}}}',
     "bad params for exec-start: expected an integer within SQLite's 64-bit range, "
     "got object for 'pid'"),
    ('{"cmd": "exec-start", "params": {"test": {"id": TID}, "pid": 99999999999999999999999}}',
     "bad params for exec-start: expected an integer within SQLite's 64-bit range, "
     "got int 99999999999999999999999 for 'pid'"),
    ('{"cmd": "comment", "params": {"test": {"id": TID}, "comment": "\\ud800"}}',
     "bad params for comment: expected text, got a lone UTF-16 surrogate for 'comment'"),
    ('{"cmd": "data", "params": {"test": {"id": TID}, "rows": [{"value": 1.5}]}}',
     "bad params for data: expected text, got float 1.5 for 'rows[0].value'"),
    ('{"cmd": "status", "params": {"test": {"target": "a/b", "runname": "r"}, '
     '"state": "COMPLETED", "status": "PASS"}}',
     "bad params for status: missing 'test.testname' (or 'test.id')"),
    ('{"cmd": "queue", "params": {"action": "run", "target": "a/b", "runname": "q", '
     '"testpatt": {"a": 1}}}',
     "bad params for queue: expected text, got object for 'testpatt'"),
    ('{"cmd": "queue", "params": {"action": "run", "target": "a/b", "runname": "q", '
     '"params": {"rerun": ["x"]}}}',
     "bad params for queue: expected text, got array for 'params.rerun'"),
], ids=lambda v: v[:60] if len(v) < 100_000 else f"{v[:40]}...({len(v)} chars)")
def test_wrong_parameter_types_get_400_with_a_message(served, body, message):
    test_id, _ = served.add_test("t1")
    status, reply = raw_call(served, body.replace("TID", str(test_id)))
    assert (status, reply["ok"], reply["error"]) == (400, False, message)
    row = served.row(test_id)
    assert (row["state"], row["status"], row["comment"] or "") == ("RUNNING", "n/a", "")
    with served.conn() as conn:
        assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
    assert served.ping()["pid"] == served.info()["pid"]      # still the same server, serving


def test_right_types_still_pass_the_schema(served):
    test_id, _ = served.add_test("t1")
    calls = [("status", {**status_call(test_id), "comment": "c"}),
             ("data", {"test": {"id": test_id}, "rows": [{"category": "c", "variable": "v",
                                                          "value": "1"}]}),
             ("exec-beat", {"test": {"id": test_id, "target": "a/b", "runname": "r",
                                     "testname": "t1", "item_path": ""}}),
             ("queue", {"action": "run", "target": "a/b", "runname": "q",
                        "params": {"rerun": "FAIL", "rerun_all": False}})]
    for cmd, params in calls:
        status, reply = served.call(cmd, params)
        assert status == 200, reply


def test_every_call_has_a_parameter_schema():
    assert set(rpc_params.PARAMS) == set(testops.OPERATIONS) | {"ping", "queue"}


def test_a_4mb_body_of_brackets_is_refused_quickly(served):
    from megatest.serve import rpc_http
    depth = rpc_http.MAX_BODY_BYTES // 2 - 20
    body = '{"cmd": "ping", "params": {"x": ' + "[" * depth + "]" * depth + "}}"
    start = time.monotonic()
    status, reply = raw_call(served, body)
    assert (status, reply["error"]) == (400, "malformed JSON: nested deeper than 32 levels")
    assert time.monotonic() - start < 5


# ---------------------------------------------------------------- a bug gets 500 and an id

def test_an_unexpected_error_is_500_with_an_id_that_is_in_the_log(served):
    test_id, _ = served.add_test("t1")
    with served.conn() as conn:          # a state no release leaves: the table of tests gone
        conn.execute("ALTER TABLE tests RENAME TO tests_gone")
    status, reply = served.call("status", status_call(test_id))
    assert status == 500 and reply["ok"] is False
    error_id = re.fullmatch(r"internal server error \(error id=([0-9a-f]{12}) in the mt-serve "
                            r"log\)", reply["error"]).group(1)
    log = open(served.top / "logs" / "mt-serve.log").read()
    entry = log[log.index(f"error id={error_id}"):]
    assert "Traceback (most recent call last)" in entry.split("\n", 2)[1]
    assert "no such table: tests" in entry
    assert served.ping()["requests"]["internal-error"] == 1      # and it still answers


def test_a_damaged_server_database_is_503_and_the_test_keeps_its_call(served):
    """Not the caller's fault and not a bug: the test journals the call (it was lost as a 500
    before) and the reply names the file and how to rebuild it."""
    test_id, rundir = served.add_test("t1")
    with open(served.db_path + ".garbage", "wb") as f:
        f.write(b"this is not an SQLite database" * 1000)
    os.replace(served.db_path + ".garbage", served.db_path)     # new connections fail
    status, reply = served.call("status", status_call(test_id))
    assert (status, reply["ok"]) == (503, False)
    assert reply["error"] == (f"the server's database cannot take the call now: the database "
                              f"{served.db_path} is damaged (file is not a database)")
    assert reply["hint"].startswith("move it aside with its -wal and -shm files")
    env = served.test_env(test_id, rundir, "t1", patience="0.3")
    out = mt_test(env, "status", "COMPLETED", "PASS")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"mt-test: note: mt-serve \(\S+\): the server's database cannot take "
                        r"the call now: the database \S+ is damaged \(file is not a database\); "
                        r"status kept in \S+/journal and delivered later\n", out.stderr), out.stderr
    kept = open(journal.journal_path(rundir)).read()
    assert '"COMPLETED"' in kept and '"PASS"' in kept
    assert served.ping()["requests"].get("internal-error", 0) == 0


# ---------------------------------------------------------------- a burst of clients

CLIENTS = 200
SYN_RETRY = 0.9       # s: a connect this slow waited for the resend of a dropped SYN (1 s)


def test_200_simultaneous_clients_all_connect_at_once_and_get_replies(served):
    """With socketserver's listen backlog of 5, most of them waited 1 s for a SYN resend, and
    many got no reply at all."""
    info = served.info()
    where = (rpc_client.server_address(info), info["port"])
    headers = {rpc_client.TOKEN_HEADER: served.token()}
    gate, outcomes = threading.Barrier(CLIENTS), []

    def client():
        gate.wait()
        start = time.monotonic()
        try:
            conn = rpc_client.Connection(*where, timeout=20)
            connected = time.monotonic() - start
            status = conn.post("/api", b'{"cmd": "ping", "params": {}}', headers)[0]
            conn.close()
            outcomes.append((status, connected))
        except OSError as err:
            outcomes.append((type(err).__name__, time.monotonic() - start))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in outcomes] == [200] * CLIENTS
    slow = sorted(connected for _, connected in outcomes if connected >= SYN_RETRY)
    assert not slow, f"{len(slow)} connects waited for a SYN resend"


# ---------------------------------------------------------------- finding the server

@pytest.mark.parametrize("change", [{"MT_TMPDIR": "other-tmp"}, {"USER": "someone-else"},
                                    {"MT_TMPDIR": None}])
def test_status_and_stop_find_the_server_whatever_the_callers_environment(served, tmp_path,
                                                                          change):
    env = dict(served.env)
    for name, value in change.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(tmp_path / value) if name == "MT_TMPDIR" else value
    pid = served.info()["pid"]
    out = mt("serve", "--area", served.top, "--status", env=env)
    assert out.returncode == 0 and f"pid: {pid}\n" in out.stdout, out.stdout + out.stderr
    out = mt("serve", "--area", served.top, "--stop", env=env)
    assert (out.returncode, out.stdout, out.stderr) == (0, "mt-serve: stopped\n", "")
    assert not _alive(pid) or _zombie(pid)
    out = mt("serve", "--area", served.top, "--status", env=served.env)
    assert out.returncode == 1 and "no server running" in out.stdout


def test_a_server_json_naming_a_lock_nobody_holds_is_no_server(served, tmp_path):
    """A stale server.json (the server died without removing it) whose pid is now another
    mt-serve: the lock it names decides, so --stop kills nothing."""
    info = served.info()
    other = subprocess.Popen(["sh", "-c", "sleep 30", "mt-serve"])   # looks like an mt-serve
    try:
        fake = dict(info, pid=other.pid, lock=str(tmp_path / "nobody" / "server.lock"))
        os.makedirs(tmp_path / "nobody")
        open(fake["lock"], "w").close()
        served.serve("--stop")
        with open(rpc_client.server_file(str(served.area.toppath)), "w") as f:
            json.dump(fake, f)
        env = dict(served.env, MT_TMPDIR=str(tmp_path / "other-tmp"))
        out = mt("serve", "--area", served.top, "--stop", env=env)
        assert (out.returncode, out.stdout) == (0, f"mt-serve: no server running for "
                                                   f"{served.area.toppath}\n")
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


# ---------------------------------------------------------------- a read-only area

@pytest.fixture
def read_only(tmp_path):
    """make(path): path made read-only, undone at the end; make.reason is the error the
    commands then meet. As root (which ignores file modes) a read-only bind mount over
    itself ("Read-only file system"); otherwise chmod -R a-w ("Permission denied")."""
    mounted, chmodded = [], []

    def make(path):
        path = str(path)
        if not make.as_root:
            subprocess.run(["chmod", "-R", "a-w", path], check=True)
            chmodded.append(path)
            return path
        for argv in (["mount", "--bind", path, path], ["mount", "-o", "remount,bind,ro", path]):
            out = subprocess.run(argv, capture_output=True, text=True)
            if out.returncode != 0:
                pytest.skip(f"cannot bind-mount read-only: {out.stderr.strip()}")
            if argv[1] == "--bind":
                mounted.append(path)
        return path

    make.as_root = os.geteuid() == 0
    make.reason = "Read-only file system" if make.as_root else "Permission denied"
    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", path], check=True)
    for path in chmodded:
        subprocess.run(["chmod", "-R", "u+w", path], check=True)


def _listing(top):
    return sorted(os.path.relpath(os.path.join(d, n), top)
                  for d, dirs, files in os.walk(top) for n in dirs + files)


@pytest.mark.parametrize("args", [["--ensure"], []])
@pytest.mark.parametrize("served_before", [False, True])
def test_serve_on_a_read_only_area_is_one_line_and_exit_2(tmp_path, mt_env, read_only, args,
                                                          served_before):
    made = Served(tmp_path / "area", mt_env)
    if served_before:                           # .mt holds homehost and the token already
        assert made.serve("--ensure").returncode == 0
        assert made.serve("--stop").returncode == 0
    before = _listing(made.top)
    read_only(made.top)
    out = made.serve(*args)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.splitlines() == [
        f"mt-serve: error: cannot write {made.area.state_dir}: {read_only.reason}",
        "  try: mt-serve keeps .mt/token, .mt/server.json and logs/mt-serve.log in the area: "
        "make it writable there"]
    assert _listing(made.top) == before


def test_ensure_with_an_unwritable_log_directory_names_it(tmp_path, mt_env, read_only):
    made = Served(tmp_path / "area", mt_env)
    (made.top / "logs").mkdir()
    read_only(made.top / "logs")
    out = made.serve("--ensure")
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == \
        f"mt-serve: error: cannot write {made.top / 'logs'}: {read_only.reason}"
    assert made.info() is None


def test_stop_and_status_on_a_read_only_area_without_a_server(tmp_path, mt_env, read_only):
    made = Served(tmp_path / "area", mt_env)
    read_only(made.top)
    for flag, code in (("--stop", 0), ("--status", 1)):
        out = made.serve(flag)
        assert (out.returncode, out.stdout, out.stderr) == \
            (code, f"mt-serve: no server running for {made.area.toppath}\n", "")



# ---------------------------------------------------------------- the client, facing something else

@pytest.fixture
def impostor(tmp_path, mt_env):
    """An area whose server.json names a port where something that is not mt-serve answers
    every request with REPLY (set by the test); (Served, set_reply)."""
    import socketserver
    made = Served(tmp_path / "area", mt_env)
    reply = [b""]

    class Answer(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            self.request.sendall(reply[0])

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.makedirs(made.area.state_dir, exist_ok=True)
    with open(rpc_client.token_file(str(made.area.toppath)), "w") as f:
        f.write("0" * 64 + "\n")
    with open(rpc_client.server_file(str(made.area.toppath)), "w") as f:
        json.dump({"host": "localhost", "address": "127.0.0.1", "port": server.server_address[1],
                   "pid": 1, "heartbeat": time.time()}, f)
    yield made, lambda data: reply.__setitem__(0, data)
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("answer, code, message", [
    (b"SSH-2.0-OpenSSH_9.2\r\n", 0, "mt-test: note: mt-serve is unreachable (127.0.0.1:"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", 2,
     "mt-test: error: mt-serve at 127.0.0.1:"),
])
def test_mt_test_facing_something_that_is_not_mt_serve_says_so(impostor, answer, code, message):
    """Before: IndexError or AttributeError tracebacks in mt-test off the home host."""
    made, set_reply = impostor
    set_reply(answer)
    test_id, rundir = made.add_test("t1")
    out = subprocess.run(["mt-test", "status", "COMPLETED", "PASS"], capture_output=True,
                         text=True, timeout=60, env=made.test_env(test_id, rundir, "t1",
                                                                  patience="0.5"))
    assert "Traceback" not in out.stderr
    assert (out.returncode, out.stderr.splitlines()[0][:len(message)]) == (code, message), \
        out.stderr
