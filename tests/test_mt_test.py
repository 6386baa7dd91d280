"""mt-test end to end: the real command in a child process against a real live database."""
import os
import subprocess
import sys
import time

import pytest

from megatest.commands import test as mt_test
from megatest.config.area import Area
from megatest.launch import testenv, triggers
from megatest.store import db

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(REPO, "lib")
RUNNER = "import sys; from megatest.commands.entry import run_command; sys.exit(run_command('test', sys.argv[1:]))"


class Area_:
    """A tiny area with one run (a/r of key os) and its records, plus a way to call mt-test."""

    def __init__(self, tmp_path):
        self.top = tmp_path / "area"
        self.top.mkdir()
        (self.top / "megatest.config").write_text("[fields]\nos TEXT\n")
        self.environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": LIB,
                        "MT_TMPDIR": str(tmp_path / "tmp"), "HOME": str(tmp_path)}
        self.area = Area(str(self.top))
        self.conn = db.open_area_db(self.area, self.environ)
        keys = db.register_keys(self.conn, ["os"])
        self.run_id = db.register_run(self.conn, keys, ["a"], "r", "me")
        self.db_path = self.area.live_db_path(self.environ)

    def add_test(self, name, item_path="", state="RUNNING", status="n/a"):
        db.register_tests(self.conn, self.run_id, [(name, item_path)])
        row = db.find_test(self.conn, self.run_id, name, item_path)
        rundir = self.top / "runs" / name / item_path
        rundir.mkdir(parents=True, exist_ok=True)
        db.update_test(self.conn, row["id"], state=state, status=status, rundir=str(rundir))
        return row["id"], str(rundir)

    def env_for(self, test_id, rundir, name, item_path=""):
        ident = testenv.TestIdentity(str(self.top), "a", "r", name, item_path, self.db_path,
                                     self.run_id, test_id, rundir)
        return dict(self.environ, MT_CMDINFO=testenv.encode_cmdinfo(ident), MT_TEST_NAME=name,
                    MT_ITEMPATH=item_path, MT_TEST_RUN_DIR=rundir)

    def mt(self, *args, env=None, cwd=None, stdin=None):
        return subprocess.run([sys.executable, "-c", RUNNER, *args], env=env or self.environ,
                              cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60)

    def test_row(self, test_id):
        return db.get_test(self.conn, test_id)


@pytest.fixture
def area(tmp_path):
    made = Area_(tmp_path)
    yield made
    made.conn.close()


@pytest.fixture
def t1(area):
    test_id, rundir = area.add_test("t1")
    return test_id, rundir, area.env_for(test_id, rundir, "t1")


# ---------------------------------------------------------------- status

def test_status_sets_state_status_comment_and_last_update(area, t1):
    test_id, rundir, env = t1
    before = time.time()
    proc = area.mt("status", "COMPLETED", "PASS", "--comment", "all good", env=env)
    assert (proc.returncode, proc.stderr) == (0, "")
    row = area.test_row(test_id)
    assert (row["state"], row["status"], row["comment"]) == ("COMPLETED", "PASS", "all good")
    assert row["last_update"] >= before


@pytest.mark.parametrize("given, stored", [("0", "PASS"), ("1", "FAIL"), ("42", "FAIL"),
                                           ("WEIRD", "WEIRD")])
def test_numeric_status_is_an_exit_code(area, t1, given, stored):
    test_id, _, env = t1
    assert area.mt("status", "RUNNING", given, env=env).returncode == 0
    assert area.test_row(test_id)["status"] == stored


def test_status_sets_exactly_what_it_is_given(area, t1):
    test_id, _, env = t1
    assert area.mt("status", "COMPLETED", "PASS", env=env).returncode == 0
    assert area.mt("status", "WEIRD", "FAIL", "-m", "custom", env=env).returncode == 0
    row = area.test_row(test_id)
    assert (row["state"], row["status"], row["comment"]) == ("WEIRD", "FAIL", "custom")


def test_status_does_not_undo_a_kill_request(area):
    test_id, rundir = area.add_test("k", state="KILLREQ")
    proc = area.mt("status", "COMPLETED", "PASS", env=area.env_for(test_id, rundir, "k"))
    assert proc.returncode == 1
    assert "is KILLREQ" in proc.stderr
    assert area.test_row(test_id)["state"] == "KILLREQ"


def test_item_status_rolls_up_the_toplevel(area):
    area.add_test("roll", "", state="RUNNING")
    ids = {}
    for n in (1, 2):
        ids[n], rundir = area.add_test("roll", f"item/{n}", state="COMPLETED", status="PASS")
    top = db.find_test(area.conn, area.run_id, "roll", "")
    env = area.env_for(ids[2], rundir, "roll", "item/2")
    assert area.mt("status", "COMPLETED", "FAIL", env=env).returncode == 0
    top = area.test_row(top["id"])
    assert (top["state"], top["status"], top["pass_count"], top["fail_count"]) == \
        ("COMPLETED", "FAIL", 1, 1)
    assert area.mt("status", "RUNNING", "PASS", env=env).returncode == 0
    assert (area.test_row(top["id"])["state"], area.test_row(top["id"])["status"]) == \
        ("RUNNING", "PASS")


def test_fallback_identity_from_mt_names(area):
    test_id, rundir = area.add_test("plain")
    env = dict(area.environ, MT_RUN_AREA_HOME=str(area.top), MT_TARGET="a", MT_RUNNAME="r",
               MT_TEST_NAME="plain", MT_ITEMPATH="", MT_TEST_RUN_DIR=rundir)
    assert area.mt("status", "COMPLETED", "0", env=env).returncode == 0
    assert area.test_row(test_id)["status"] == "PASS"


# ---------------------------------------------------------------- data (§17.37)

def test_data_load_rollup_and_auto(area, t1, tmp_path):
    test_id, _, env = t1
    csv = tmp_path / "d.csv"
    csv.write_text("c,v,1.2,1.3,0.1\nc,w,1.2,1.9,>\n")
    proc = area.mt("data", "load", str(csv), env=env)
    assert (proc.returncode, proc.stderr) == (0, "")
    data = {r["variable"]: r["status"] for r in db.data_of_test(area.conn, test_id)}
    assert data == {"v": "pass", "w": "fail"}
    row = area.test_row(test_id)
    assert (row["status"], row["pass_count"], row["fail_count"]) == ("n/a", 1, 1)

    proc = area.mt("data", "load", "-", env=env, stdin="c,v,5,1.3,0.1,V\n")
    assert proc.returncode == 0
    rows = db.data_of_test(area.conn, test_id)
    assert len(rows) == 2
    v = [r for r in rows if r["variable"] == "v"][0]
    assert (str(v["value"]), v["units"], v["status"]) == ("5", "V", "fail")

    assert area.mt("status", "COMPLETED", "AUTO", env=env).returncode == 0
    row = area.test_row(test_id)
    assert (row["state"], row["status"], row["fail_count"], row["pass_count"]) == \
        ("COMPLETED", "FAIL", 2, 0)


def test_spec_example_after_auto_is_fail_with_one_failure(area, t1):
    test_id, _, env = t1
    area.mt("data", "load", "-", env=env, stdin="c,v,1.2,1.3,0.1\nc,w,1.2,1.9,>\n")
    area.mt("data", "load", "-", env=env, stdin="c,v,1.25,1.3,0.1\n")
    assert area.mt("status", "COMPLETED", "AUTO", env=env).returncode == 0
    row = area.test_row(test_id)
    assert (row["status"], row["fail_count"], row["pass_count"]) == ("FAIL", 1, 1)


def test_auto_without_data_stays_auto(area, t1):
    test_id, _, env = t1
    assert area.mt("status", "COMPLETED", "AUTO", env=env).returncode == 0
    assert area.test_row(test_id)["status"] == "AUTO"


def test_data_set_one_row(area, t1):
    test_id, _, env = t1
    proc = area.mt("data", "set", "m", "c", "1.2", "--expected", "1.2", "--tol", "<=",
                   "--units", "A", env=env)
    assert proc.returncode == 0, proc.stderr
    (row,) = db.data_of_test(area.conn, test_id)
    assert (row["category"], row["variable"], row["units"], row["status"]) == ("m", "c", "A", "pass")
    assert area.test_row(test_id)["pass_count"] == 1


def test_bad_tol_is_reported_and_the_row_kept_without_status(area, t1):
    test_id, _, env = t1
    proc = area.mt("data", "load", "-", env=env, stdin="m,x,1,2,~\nm,y,1,1,0\n")
    assert proc.returncode == 2
    assert proc.stderr == "mt-test: error: stdin: row m,x: bad tol comparator ~\n"
    data = {r["variable"]: r["status"] for r in db.data_of_test(area.conn, test_id)}
    assert data == {"x": "", "y": "pass"}


def test_missing_csv_names_the_file(area, t1, tmp_path):
    _, _, env = t1
    missing = str(tmp_path / "nope.csv")
    proc = area.mt("data", "load", missing, env=env)
    assert proc.returncode == 2
    assert proc.stderr == f"mt-test: error: {missing}: cannot read test data: No such file or directory\n"


# ---------------------------------------------------------------- steps

def test_step_rows_and_logfile(area, t1):
    test_id, _, env = t1
    assert area.mt("step", "s1", "start", env=env).returncode == 0
    assert area.mt("step", "s1", "end", "--status", "0", "--logfile", "s1.log", env=env).returncode == 0
    assert area.mt("step", "s1", "end", "--status", "2", "-m", "again", env=env).returncode == 0
    steps = [(s["stepname"], s["state"], s["status"], s["comment"])
             for s in db.steps_of_test(area.conn, test_id)]
    assert steps == [("s1", "start", "n/a", ""), ("s1", "end", "2", "again")]
    assert area.test_row(test_id)["final_logf"] == "s1.log"


def test_step_end_loads_the_checker_dat(area, t1):
    test_id, rundir, env = t1
    with open(os.path.join(rundir, "s1.dat"), "w") as dat:
        dat.write("[final]\nexit-code 0\nexit-status PASS\nmessage all fine\n"
                  "[speed]\nmeasured 12\nexpected 10\ntolerance 5\n")
    assert area.mt("step", "s1", "end", "--status", "0", env=env).returncode == 0
    data = {r["variable"]: (r["category"], r["status"], r["comment"])
            for r in db.data_of_test(area.conn, test_id)}
    assert data == {"final": ("s1", "PASS", "all fine"), "speed": ("s1", "pass", "")}
    assert area.test_row(test_id)["pass_count"] == 2


def test_setlog(area, t1):
    test_id, _, env = t1
    assert area.mt("setlog", "out/final.html", env=env).returncode == 0
    assert area.test_row(test_id)["final_logf"] == "out/final.html"


# ---------------------------------------------------------------- runstep (§17.38)

def test_runstep_logs_both_streams_and_fails(area, t1):
    test_id, rundir, env = t1
    proc = area.mt("runstep", "s1", "echo hi; echo e >&2; exit 3", env=env, cwd=rundir)
    assert proc.returncode != 0
    with open(os.path.join(rundir, "s1.log")) as log:
        assert log.read().split() == ["hi", "e"]
    steps = [(s["stepname"], s["state"], s["status"]) for s in db.steps_of_test(area.conn, test_id)]
    assert steps == [("s1", "start", "n/a"), ("s1", "end", "3")]


def test_runstep_argv_after_double_dash(area, t1):
    test_id, rundir, env = t1
    proc = area.mt("runstep", "s2", "--", "printf", "%s|", "a b", "c", env=env, cwd=rundir)
    assert proc.returncode == 0, proc.stderr
    with open(os.path.join(rundir, "s2.log")) as log:
        assert log.read() == "a b|c|"
    end = [s for s in db.steps_of_test(area.conn, test_id) if s["state"] == "end"][0]
    assert (end["status"], end["logfile"]) == ("0", "s2.log")


def test_runstep_without_log_checker_fails_the_step(area, t1):
    test_id, rundir, env = t1
    env = dict(env, PATH="/usr/bin:/bin")
    proc = area.mt("runstep", "s3", "--logpro", "s3.logpro", "true", env=env, cwd=rundir)
    assert proc.returncode == 1
    end = [s for s in db.steps_of_test(area.conn, test_id) if s["state"] == "end"][0]
    assert end["comment"] == "log checker not found"


def test_runstep_with_a_log_checker(area, t1, tmp_path):
    test_id, rundir, env = t1
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "logpro"
    fake.write_text("#!/bin/sh\n# fake checker: WARN, writes the report and the .dat\n"
                    "base=$(basename \"$2\" .html)\ncat > \"$2\"\n"
                    "printf '[final]\\nexit-code 2\\nexit-status WARN\\nmessage one warning\\n' > \"$base.dat\"\n"
                    "exit 2\n")
    fake.chmod(0o755)
    env = dict(env, PATH=f"{bindir}:/usr/bin:/bin")
    proc = area.mt("runstep", "s4", "--logpro", "rules.logpro", "echo ok", env=env, cwd=rundir)
    assert proc.returncode == 0, proc.stderr
    end = [s for s in db.steps_of_test(area.conn, test_id) if s["state"] == "end"][0]
    assert (end["status"], end["comment"], end["logfile"]) == ("2", "WARN: one warning", "s4.html")
    assert area.test_row(test_id)["final_logf"] == "s4.html"
    with open(os.path.join(rundir, "s4.html")) as html:
        assert html.read() == "ok\n"


# ---------------------------------------------------------------- triggers

def _wait_for(path, text, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path) and text in open(path).read():
            return open(path).read()
        time.sleep(0.05)
    return open(path).read() if os.path.exists(path) else ""


def test_trigger_fires_on_completed_pass(area, t1):
    test_id, rundir, env = t1
    triggers.write_spec(rundir, {"COMPLETED/PASS": "echo fired", "/FAIL": "echo never"})
    assert area.mt("status", "COMPLETED", "PASS", env=env).returncode == 0
    log = _wait_for(os.path.join(rundir, "last-trigger.log"), f"fired {test_id} {rundir} COMPLETED/PASS")
    assert f"fired {test_id} {rundir} COMPLETED/PASS" in log
    assert "never" not in log


def test_trigger_sees_the_test_environment(area, t1):
    test_id, rundir, env = t1
    triggers.write_spec(rundir, {"RUNNING/": "echo \"env=$MT_TEST_NAME:$MT_TEST_RUN_DIR\"; true"})
    assert area.mt("status", "RUNNING", "PASS", env=env).returncode == 0
    log = _wait_for(os.path.join(rundir, "last-trigger.log"), "env=")
    assert f"env=t1:{rundir}" in log


def test_no_trigger_without_a_change(area, t1):
    _, rundir, env = t1
    area.mt("status", "RUNNING", "PASS", env=env)
    triggers.write_spec(rundir, {"RUNNING/PASS": "echo fired"})
    area.mt("status", "RUNNING", "PASS", env=env)
    time.sleep(0.2)
    assert not os.path.exists(os.path.join(rundir, "last-trigger.log"))


def test_trigger_spec_round_trip_and_removal(tmp_path):
    spec = {"COMPLETED/FAIL": "notify 'a b'\nsecond line\twith tab \\ slash", "/PASS": "x"}
    triggers.write_spec(str(tmp_path), spec)
    assert triggers.read_spec(str(tmp_path)) == spec
    triggers.write_spec(str(tmp_path), {})
    assert not os.path.exists(triggers.spec_path(str(tmp_path)))
    assert triggers.fire(str(tmp_path), 1, "COMPLETED", "PASS") == []


def test_keys_for():
    assert triggers.keys_for("COMPLETED", "PASS") == ["COMPLETED/PASS", "COMPLETED/", "/PASS"]


# ---------------------------------------------------------------- errors and help

def test_outside_a_test_exits_2_with_a_message(area):
    proc = area.mt("status", "COMPLETED", "PASS")
    assert proc.returncode == 2
    assert proc.stderr.startswith("mt-test: error: not inside a test: MT_RUN_AREA_HOME, MT_TARGET, "
                                  "MT_RUNNAME, MT_TEST_NAME not set\n")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["status", "COMPLETED"], "status: missing STATUS"),
    (["status", "A", "B", "C"], "status: unexpected argument 'C'"),
    (["status", "A", "B", "--bogus", "x"], "status: unknown option --bogus"),
    (["status", "A", "B", "--comment"], "status: option --comment needs a value"),
    (["step", "s1", "middle"], "step: state must be start or end, got 'middle'"),
    (["data", "frob"], "data: expected 'load' or 'set', got 'frob'"),
    (["runstep", "s1"], "runstep: missing CMD"),
    (["launch"], "unknown command 'launch'"),
    ([], "missing command (status, step, data, runstep, setlog or show)"),
])
def test_bad_usage_exits_2_naming_the_argument(area, args, message):
    proc = area.mt(*args)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == f"mt-test: error: {message}"


def test_help(area):
    proc = area.mt("--help")
    assert (proc.returncode, proc.stdout) == (0, mt_test.USAGE)
    assert area.mt("status", "-h").returncode == 0


def test_show_prints_the_identity(area, t1):
    test_id, rundir, env = t1
    proc = area.mt("show", env=env)
    assert proc.returncode == 0
    assert f"test-id: {test_id}\n" in proc.stdout and f"rundir: {rundir}\n" in proc.stdout
    assert "target: a\nrunname: r\ntest: t1\nitempath: \n" in proc.stdout


def test_usage_text_is_valid_docopt_and_matches_the_hand_parser():
    docopt = pytest.importorskip("docopt")
    forms = [["status", "COMPLETED", "PASS", "--comment", "x"],
             ["step", "s", "end", "--status", "0", "--logfile", "f"],
             ["data", "load", "-"], ["data", "set", "c", "v", "1", "--tol", ">"],
             ["runstep", "s", "--logpro", "r", "--", "echo", "hi"], ["setlog", "f"], ["show"]]
    for argv in forms:
        docopt.docopt(mt_test.USAGE, argv, default_help=False)
        mt_test.parse_args(argv)


def test_hot_path_imports_only_the_standard_library():
    code = ("import sys; before = set(sys.modules); import megatest.commands.test; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": LIB}, capture_output=True,
                         text=True, check=True).stdout.split()
    ours = {m for m in out if m.startswith("megatest")}
    assert ours <= {"megatest", "megatest.commands", "megatest.commands.test", "megatest.store",
                    "megatest.store.db", "megatest.states", "megatest.launch",
                    "megatest.launch.testenv", "megatest.launch.triggers", "megatest.errors",
                    "megatest.serve", "megatest.serve.testroute"}
    heavy = {"docopt", "filelock", "sqlite_utils", "subprocess", "csv", "decimal", "json"}
    assert not heavy & set(out)
