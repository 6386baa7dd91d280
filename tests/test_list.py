"""mt-list end to end: real areas run by the real mt-run, listed by the real mt-list."""
import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from megatest.config.area import Area
from megatest.config.parse import read_config
from megatest.store import db

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

CONFIG = """\
[fields]
arch TEXT
os TEXT

[setup]
max_concurrent_jobs 4
linktree #{mtrah lt}

[disks]
disk0 #{mtrah disk0}
"""
RUNCONFIGS = """\
[default]
X 1
W $X-w

[a/b]
Y 2

[a/%]
Z 9

[c/d]
Y 3
"""
TESTS = {
    "t1": "[ezsteps]\ns1 echo hi\n",
    "t2": "[requirements]\nwaiton t1\n[items]\nV 1 2\n[ezsteps]\ncheck test $V = 1\n",
}


def command_env(tmp):
    """The project's commands first on PATH, live databases under tmp, nothing else MT_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', SYSTEM_PATH)}"
    env["MT_TMPDIR"] = str(tmp / "livedb")
    return env


def mt(command, *args, env, cwd=None):
    exe = shutil.which(f"mt-{command}", path=env["PATH"])
    assert exe and exe.startswith(str(BIN)), f"mt-{command} not found in {BIN}"
    return subprocess.run([exe, *map(str, args)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def listed(*args, env, cwd=None):
    out = mt("list", *args, env=env, cwd=cwd)
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
    return out.stdout


def write_area(top, tests=TESTS, runconfigs=RUNCONFIGS):
    (top / "disk0").mkdir(parents=True)
    (top / "megatest.config").write_text(CONFIG)
    if runconfigs is not None:
        (top / "runconfigs.config").write_text(runconfigs)
    for name, body in tests.items():
        (top / "tests" / name).mkdir(parents=True)
        (top / "tests" / name / "testconfig").write_text(body)
    return top


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """One area, two runs: a/b r (t1 PASS, t2/1 PASS, t2/2 FAIL) and c/d r2 (t1 only)."""
    tmp = tmp_path_factory.mktemp("list")
    top = write_area(tmp / "area")
    env = command_env(tmp)
    first = mt("run", "--area", top, "--target", "a/b", "--runname", "r", "--quiet", env=env)
    assert first.returncode == 1, first.stdout + first.stderr
    second = mt("run", "--area", top, "--target", "c/d", "--runname", "r2", "--testpatt", "t1",
                "--quiet", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    return top, env


def runs_json(top, env, *args):
    return json.loads(listed("runs", "--area", top, "--json", *args, env=env))


def by_name(run):
    return {t["testname"] + (f"/{t['item_path']}" if t["item_path"] else ""): t for t in run["tests"]}


# ---------------------------------------------------------------- runs --json

def test_runs_json_has_the_cli_md_shape(ran):
    top, env = ran
    runs = runs_json(top, env)
    assert [(r["target"], r["runname"]) for r in runs] == [("a/b", "r"), ("c/d", "r2")]
    run = runs[0]
    assert set(run) == {"run_id", "target", "keys", "runname", "state", "status", "user_status",
                        "event_time", "archived", "tests"}
    assert run["archived"] == ""
    assert run["keys"] == {"arch": "a", "os": "b"}
    assert (run["state"], run["status"], run["user_status"]) == ("completed", "FAIL", "n/a")
    assert isinstance(run["run_id"], int) and isinstance(run["event_time"], int)
    assert runs[1]["status"] == "PASS"


def test_runs_json_tests_sorted_with_toplevel_and_all_fields(ran):
    top, env = ran
    run = runs_json(top, env)[0]
    names = [(t["testname"], t["item_path"]) for t in run["tests"]]
    assert names == [("t1", ""), ("t2", ""), ("t2", "1"), ("t2", "2")]
    t1 = run["tests"][0]
    assert set(t1) == {"test_id", "testname", "item_path", "state", "status", "comment", "host",
                       "rundir", "run_duration", "event_time", "job_id",
                       "attempt", "exit_code", "flaky", "outcome"}
    assert (t1["state"], t1["status"]) == ("COMPLETED", "PASS")
    assert (t1["attempt"], t1["exit_code"], t1["flaky"], t1["outcome"]) == (1, 0, False, "pass")
    assert by_name(run)["t2/2"]["outcome"] == "fail"
    assert os.path.isabs(t1["rundir"]) and os.path.isdir(t1["rundir"])
    assert isinstance(t1["run_duration"], (int, float)) and isinstance(t1["event_time"], int)
    statuses = {name: t["status"] for name, t in by_name(run).items()}
    assert statuses == {"t1": "PASS", "t2": "FAIL", "t2/1": "PASS", "t2/2": "FAIL"}
    assert "check" in by_name(run)["t2/2"]["comment"]


@pytest.mark.parametrize("args, expected", [
    (("--target", "a/b"), [("a/b", "r")]),
    (("--target", "a/%"), [("a/b", "r")]),
    (("--target", "c"), [("c/d", "r2")]),                    # fewer parts: other keys free
    (("--target", "%"), [("a/b", "r"), ("c/d", "r2")]),
    (("--runname", "r2"), [("c/d", "r2")]),
    (("--runname", "R%"), [("a/b", "r"), ("c/d", "r2")]),    # % makes it case-insensitive
])
def test_runs_select_by_target_and_runname(ran, args, expected):
    top, env = ran
    assert [(r["target"], r["runname"]) for r in runs_json(top, env, *args)] == expected


def test_runs_matching_nothing_say_so_on_stderr_and_list_nothing(ran):
    top, env = ran
    out = mt("list", "runs", "--area", top, "--json", "--target", "x/%", env=env)
    assert (out.returncode, out.stdout, out.stderr) == (
        0, "[]\n", "mt-list: no run matches --target x/%\n")


@pytest.mark.parametrize("args, expected", [
    (("--testpatt", "t2/2"), ["t2/2"]),
    (("--testpatt", "t2/"), ["t2"]),
    (("--testpatt", "%/"), ["t1", "t2"]),
    (("--testpatt", "t2/~1"), ["t2", "t2/2"]),
    (("--status", "FAIL"), ["t2", "t2/2"]),
    (("--state", "COMPLETED", "--status", "PASS,WARN"), ["t1", "t2/1"]),
])
def test_runs_select_records(ran, args, expected):
    top, env = ran
    run = runs_json(top, env, "--target", "a/b", *args)[0]
    assert list(by_name(run)) == expected


# ---------------------------------------------------------------- --megatest

def test_megatest_text_matches_the_acceptance_regex(ran):
    top, env = ran
    text = listed("runs", "--area", top, "--megatest", "--target", "a/b", env=env)
    assert re.search(r"^\s+Test: t1\s+State: COMPLETED\s+Status: PASS\s+Runtime:\s+\d+s", text, re.M)
    assert re.search(r"^Run: a/b/r status: completed run-id: \d+, number tests: 4 event_time: \d+$",
                     text, re.M)


def test_megatest_text_is_column_exact(ran):
    top, env = ran
    run = runs_json(top, env, "--target", "a/b")[0]
    lines = listed("runs", "--area", top, "--megatest", "--target", "a/b", env=env).splitlines()
    t1 = by_name(run)["t1"]
    assert lines[0] == (f"Run: a/b/r status: completed run-id: {run['run_id']}, number tests: 4 "
                        f"event_time: {run['event_time']}")
    assert lines[1] == (f"  Test: {'t1':<25} State: {'COMPLETED':<15} Status: {'PASS':<15} "
                        f"Runtime: {round(t1['run_duration']):>5}s Time: {t1['event_time']:<22} "
                        f"Host: {t1['host']:<10}")
    item = next(i for i, line in enumerate(lines) if line.startswith("  Test: t2(2) "))
    assert re.match(r"  Test: t2\(2\)\s+State: COMPLETED\s+Status: FAIL ", lines[item])
    assert lines[item + 1].startswith("         cpuload:  ")
    assert lines[item + 2].startswith("         diskfree: ")
    assert lines[item + 3].startswith("         uname:    ")
    assert lines[item + 4] == f"         rundir:   {by_name(run)['t2/2']['rundir']}"
    steps = lines[item + 5:item + 7]
    assert re.match(r"    Step: check {15} State: start {6}Status: n/a {8}Time \d+ *$", steps[0])
    assert re.match(r"    Step: check {15} State: end {8}Status: 1 {10}Time \d+", steps[1])


def test_megatest_details_only_for_records_that_did_not_pass(ran):
    top, env = ran
    lines = listed("runs", "--area", top, "--megatest", "--target", "a/b", env=env).splitlines()
    following = {}
    for line in lines:
        if line.startswith("  Test: "):
            current = line.split()[1]
            following[current] = []
        elif not line.startswith("Run: "):
            following[current].append(line.split()[0])
    assert following == {"t1": [], "t2": ["cpuload:", "diskfree:", "uname:", "rundir:"],
                         "t2(1)": [], "t2(2)": ["cpuload:", "diskfree:", "uname:", "rundir:",
                                                "Step:", "Step:"]}


def test_default_text_is_one_line_per_record(ran):
    top, env = ran
    lines = listed("runs", "--area", top, "--target", "a/b", env=env).splitlines()
    assert lines[0].startswith("a/b/r  completed  FAIL")
    assert [line.split()[:3] for line in lines[1:]] == [
        ["t1", "COMPLETED", "PASS"], ["t2", "COMPLETED", "FAIL"],
        ["t2/1", "COMPLETED", "PASS"], ["t2/2", "COMPLETED", "FAIL"]]
    assert "check" in lines[-1]


# ---------------------------------------------------------------- read-only, minimal environment

def snapshot(*roots):
    """Every path under roots with its size and mtime (what a write would change). A WAL
    reader takes its read mark in the -shm index, so that file is not a sign of a write."""
    seen = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if path.endswith("-shm"):
                    continue
                st = os.lstat(path)
                seen[path] = (st.st_size, st.st_mtime_ns)
    return seen


ALL_LISTINGS = [("runs",), ("runs", "--json"), ("runs", "--megatest"), ("targets",),
                ("targets", "--json"), ("tests",), ("tests", "--json"), ("config",),
                ("config", "--target", "a/b", "--json")]


def test_listings_write_nothing(ran):
    top, env = ran
    live = Path(env["MT_TMPDIR"])
    before = snapshot(top, live)
    for args in ALL_LISTINGS:
        listed(*args, "--area", top, env=env)
    assert snapshot(top, live) == before


@pytest.fixture
def immutable(ran):
    """The area made read-only (chmod a-w; for root, which ignores modes, also chattr +i),
    restored afterwards."""
    top, env = ran
    as_root = os.geteuid() == 0
    if as_root and shutil.which("chattr") is None:
        pytest.skip("no chattr (root ignores file modes: only chattr +i makes the area read-only)")
    def chattr(flag):      # symbolic links (the link tree) have no flags
        return subprocess.run(["find", str(top), "!", "-type", "l", "-exec", "chattr", flag, "{}", "+"],
                              capture_output=True).returncode

    subprocess.run(["chmod", "-R", "a-w", str(top)], check=True)
    try:
        if as_root and chattr("+i") != 0:
            pytest.skip("chattr +i not permitted here (root ignores file modes)")
        yield top, env
    finally:
        if as_root:
            chattr("-i")
        subprocess.run(["chmod", "-R", "u+w", str(top)], check=True)


def test_listings_work_in_a_read_only_area(immutable, tmp_path):
    top, env = immutable
    with pytest.raises(OSError):
        (top / "probe").write_text("x")             # the area really is read-only
    shared_only = dict(env, MT_TMPDIR=str(tmp_path / "no-live-db"))
    for environ in (env, shared_only):
        for args in ALL_LISTINGS:
            listed(*args, "--area", top, env=environ)
        assert len(runs_json(top, environ)) == 2
    assert not (tmp_path / "no-live-db").exists()


def test_listings_work_under_env_i(ran):
    top, env = ran
    minimal = {"PATH": f"{BIN}{os.pathsep}{SYSTEM_PATH}", "HOME": os.environ.get("HOME", "/")}
    for args in ALL_LISTINGS:
        out = listed(*args, "--area", top, env=minimal)
        if "--json" in args:
            json.loads(out)
    run = runs_json(top, minimal, "--target", "a/b")[0]     # the shared megatest.db copy
    assert by_name(run)["t1"]["status"] == "PASS"
    text = listed("runs", "--megatest", env=minimal, cwd=top / "tests" / "t1")  # found upward
    assert re.search(r"^\s+Test: t1\s+State: COMPLETED\s+Status: PASS\s+Runtime:\s+\d+s", text, re.M)


def test_area_from_mt_run_area_home(ran, tmp_path):
    top, env = ran
    out = listed("targets", env=dict(env, MT_RUN_AREA_HOME=str(top)), cwd=tmp_path)
    assert out.splitlines() == ["a/b", "c/d"]


# ---------------------------------------------------------------- no database, deleted records

def test_no_database_yet_lists_nothing(tmp_path):
    top = write_area(tmp_path / "area")
    env = command_env(tmp_path)
    assert listed("runs", "--area", top, env=env) == ""
    assert listed("runs", "--area", top, "--megatest", env=env) == ""
    assert json.loads(listed("runs", "--area", top, "--json", env=env)) == []
    assert not (top / "megatest.db").exists() and not (tmp_path / "livedb").exists()


def test_deleted_runs_and_records_are_hidden(tmp_path):
    top = write_area(tmp_path / "area")
    env = command_env(tmp_path)
    for runname in ("keep", "gone"):
        out = mt("run", "--area", top, "--target", "a/b", "--runname", runname, "--testpatt", "t1,t2/1",
                 "--quiet", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
    conn = db.open_area_db(Area(str(top.resolve())), env)
    keep = db.find_run(conn, "a/b", "keep")
    gone = db.find_run(conn, "a/b", "gone")
    db.update_test(conn, db.find_test(conn, keep["id"], "t2", "1")["id"], state="DELETED")
    db.set_run(conn, gone["id"], state="deleted")
    conn.close()
    runs = runs_json(top, env)
    assert [r["runname"] for r in runs] == ["keep"]
    assert list(by_name(runs[0])) == ["t1", "t2"]
    text = listed("runs", "--area", top, "--megatest", env=env)
    assert "gone" not in text and "t2(1)" not in text and "number tests: 2 " in text


# ---------------------------------------------------------------- targets, tests, config

def test_targets_are_concrete_sections_sorted(ran):
    top, env = ran
    assert listed("targets", "--area", top, env=env).splitlines() == ["a/b", "c/d"]
    assert json.loads(listed("targets", "--area", top, "--json", env=env)) == {"targets": ["a/b", "c/d"]}


def test_targets_without_runconfigs_file(tmp_path):
    top = write_area(tmp_path / "area", runconfigs=None)
    env = command_env(tmp_path)
    assert json.loads(listed("targets", "--area", top, "--json", env=env)) == {"targets": []}


def test_tests_listing(ran):
    top, env = ran
    tests = json.loads(listed("tests", "--area", top, "--json", env=env))
    assert tests == [
        {"name": "t1", "path": str(top / "tests" / "t1"), "waitons": [], "items": []},
        {"name": "t2", "path": str(top / "tests" / "t2"), "waitons": ["t1"], "items": ["V"]}]
    lines = listed("tests", "--area", top, env=env).splitlines()
    assert lines[0].split() == ["t1", str(top / "tests" / "t1")]
    assert lines[1].split() == ["t2", str(top / "tests" / "t2"), "waiton:", "t1", "items:", "V"]


def test_config_json_resolves_megatest_config_and_the_targets_runconfig(ran):
    top, env = ran
    dump = json.loads(listed("config", "--area", top, "--target", "a/b", "--json", env=env))
    assert dump["target"] == "a/b"
    assert dump["config"]["fields"] == {"arch": "TEXT", "os": "TEXT"}
    assert dump["config"]["setup"]["linktree"] == str(top / "lt")        # helper expanded
    assert dump["runconfig"] == {"X": "1", "W": "$X-w", "Y": "2", "Z": "9"}
    other = json.loads(listed("config", "--area", top, "--target", "c/d", "--json", env=env))
    assert other["runconfig"] == {"X": "1", "W": "$X-w", "Y": "3"}
    default = json.loads(listed("config", "--area", top, "--json", env=env))
    assert (default["target"], default["runconfig"]) == (None, {"X": "1", "W": "$X-w"})


def test_config_text_is_ini_that_reads_back(ran, tmp_path):
    top, env = ran
    text = listed("config", "--area", top, "--target", "a/b", env=env)
    dumped = tmp_path / "dump.config"
    dumped.write_text(text)
    back = read_config(dumped, toppath=str(top), environ={})
    dump = json.loads(listed("config", "--area", top, "--target", "a/b", "--json", env=env))
    assert back.sections == {**dump["config"], "a/b": dump["runconfig"]}


def test_config_with_a_bad_target_is_exit_2(ran):
    top, env = ran
    out = mt("list", "config", "--area", top, "--target", "a", env=env)
    assert out.returncode == 2
    assert out.stderr.startswith("mt-list: error: target 'a' has 1 part(s) but the area has 2 keys")


# ---------------------------------------------------------------- usage and missing area

@pytest.mark.parametrize("args, message", [
    (("runs", "--bogus"), "--bogus"),
    (("runs", "--target"), "--target requires an argument"),
    (("frob",), "unknown listing 'frob'"),
    ((), "missing what to list"),
    (("runs", "--json", "--megatest"), "--megatest"),
])
def test_bad_usage_is_exit_2_naming_the_argument(ran, args, message):
    top, env = ran
    out = mt("list", *args, env=env, cwd=top)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("mt-list: error: ") and message in out.stderr.splitlines()[0]
    assert "Traceback" not in out.stderr


def test_missing_area_is_exit_2(tmp_path):
    env = command_env(tmp_path)
    out = mt("list", "runs", "--area", tmp_path / "nowhere", env=env)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == (f"mt-list: error: test area {tmp_path / 'nowhere'} "
                                          "(from --area) does not exist")
    out = mt("list", "runs", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith(f"mt-list: error: no megatest.config found in {tmp_path}")


def test_help_is_exit_0(tmp_path):
    out = mt("list", "--help", env=command_env(tmp_path))
    assert out.returncode == 0 and "mt-list runs" in out.stdout and "--megatest" in out.stdout
