"""`megatest`, Megatest's single-dash command line: each switch family as a user sees it, the
real command in a child process on real areas; the test-side switches from inside real tests."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import BIN, REPO, records, runs_json, write_area
from megatest.config.area import Area
from megatest.store import db

LIB = REPO / "lib"
TESTS = {
    "pass1": "[ezsteps]\ns1 echo hi\n",
    "fails": "[ezsteps]\ncheck false\n",
    # every test-side switch a Megatest runscript uses, from inside a real test
    "calls": "[setup]\nrunscript main.sh\n",
    "auto": "[setup]\nrunscript main.sh\n",
    "iter": "[items]\nN 1 2\n\n[ezsteps]\ntop $MT_MEGATEST -set-toplog summary.html\n",
    "where": "[ezsteps]\nshow echo $MT_MEGATEST > mt_megatest.txt\n",
}
CALLS_SH = """\
#!/bin/sh
$MT_MEGATEST -step prep :state start :status n/a -setlog prep.log
echo prepared > prep.log
$MT_MEGATEST -step prep :state end :status 0 -m "prep done"
$MT_MEGATEST -runstep count "echo one; echo two >&2; exit 2" -m "counting"
echo $? > runstep.rc
$MT_MEGATEST -set-values :category perf :variable speed :value 10.2 :expected 10 :tol 0.5 :units GHz
printf 'perf,power,2.9,3,0.2,W\\n' | $MT_MEGATEST -load-test-data
$MT_MEGATEST -setlog count.log
$MT_MEGATEST -test-status :state COMPLETED :status PASS -m "all steps done" -summarize-items 2> notes.txt
"""
AUTO_SH = """\
#!/bin/sh
$MT_MEGATEST -set-values :category perf :variable speed :value 12 :expected 10 :tol 0.5
$MT_MEGATEST -test-status :state COMPLETED :status AUTO
"""
RUNCONFIGS = "[default]\nFOO bar\n\n[a/b]\nFOO baz\n\n[x/y]\nBAR 1\n"


def megatest(*args, env, cwd, input=None, timeout=120):
    return subprocess.run([str(BIN / "megatest"), *map(str, args)], env=env, cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=timeout)


def ok(*args, env, cwd, input=None):
    out = megatest(*args, env=env, cwd=cwd, input=input)
    assert out.returncode == 0, out.stderr
    return out


def refused(*args, env, cwd):
    out = megatest(*args, env=env, cwd=cwd)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    return out.stderr


def base_env(root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    env.update(MT_TMPDIR=str(root / "livedb"), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
               USER="tester")
    return env


def make(root, tests=None, scripts=None):
    top = write_area(root, tests or TESTS, runconfigs=RUNCONFIGS)
    for name, text in ({"calls": CALLS_SH, "auto": AUTO_SH} if scripts is None else scripts).items():
        path = top / "tests" / name / "main.sh"
        path.write_text(text)
        path.chmod(0o755)
    return top


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """One area run twice by `megatest -run`: a/b/r1 (every test) and a/c/r2 (pass1 only)."""
    root = tmp_path_factory.mktemp("megatest")
    top, env = make(root / "area"), base_env(root)
    first = megatest("-run", "-target", "a/b", "-runname", "r1", "-testpatt", "%", env=env, cwd=top)
    megatest("-run", "-target", "a/c", "-runname", "r2", "-testpatt", "pass1", env=env, cwd=top)
    return top, env, first


@pytest.fixture
def small(tmp_path):
    """A fresh area with one finished run a/b/r (pass1 PASS, fails FAIL), to change."""
    top = make(tmp_path / "area", {k: TESTS[k] for k in ("pass1", "fails")}, scripts={})
    env = base_env(tmp_path)
    megatest("-run", "-target", "a/b", "-runname", "r", env=env, cwd=top)
    return top, env


def live_conn(top, env):
    return db.open_for_reading(Area(str(top)), env)


# ---------------------------------------------------------------- runs

def test_run_registers_and_finishes_every_selected_test_and_exits_0_despite_a_failure(ran):
    top, env, first = ran
    assert first.returncode == 0, first.stderr          # Megatest's -run: 0 even when tests fail
    got = {name: (r["state"], r["status"]) for name, r in
           records(top, env, "--target", "a/b", "--runname", "r1").items()}
    assert got == {"pass1": ("COMPLETED", "PASS"), "fails": ("COMPLETED", "FAIL"),
                   "calls": ("COMPLETED", "PASS"), "auto": ("COMPLETED", "FAIL"),
                   "iter": ("COMPLETED", "PASS"), "iter/1": ("COMPLETED", "PASS"),
                   "iter/2": ("COMPLETED", "PASS"), "where": ("COMPLETED", "PASS")}


def test_run_testpatt_selects(ran):
    top, env, _ = ran
    assert set(records(top, env, "--target", "a/c")) == {"pass1"}


def test_runtests_takes_the_pattern_and_itempatt_narrows_it(tmp_path):
    top, env = make(tmp_path / "area"), base_env(tmp_path)
    out = ok("-runtests", "iter", "-itempatt", "2", "-target", "a/b", "-runname", "rt", env=env, cwd=top)
    assert "-runtests is deprecated" in out.stderr and "iter/2" in out.stderr
    assert set(records(top, env)) == {"iter", "iter/2"}


def test_reqtarg_needs_a_runconfigs_section_and_registers_nothing(tmp_path):
    top, env = make(tmp_path / "area", {"pass1": TESTS["pass1"]}, scripts={}), base_env(tmp_path)
    err = refused("-run", "-reqtarg", "q/q", "-runname", "r", env=env, cwd=top)
    assert "megatest: error: [q/q] is not a section of" in err and "runconfigs.config" in err
    assert runs_json(top, env) == []
    ok("-run", "-reqtarg", "x/y", "-runname", "r", env=env, cwd=top)
    assert records(top, env)["pass1"]["status"] == "PASS"


def test_rerun_relaunches_the_failed_record_only(small):
    top, env = small
    before = records(top, env)
    ok("-run", "-target", "a/b", "-runname", "r", "-rerun", "FAIL", env=env, cwd=top)
    after = records(top, env)
    assert after["pass1"]["event_time"] == before["pass1"]["event_time"]
    assert after["fails"]["event_time"] >= before["fails"]["event_time"]
    conn = live_conn(top, env)
    assert conn.execute("SELECT attempt FROM tests WHERE testname='fails'").fetchone()[0] == 1
    conn.close()


def test_run_without_target_or_runname_is_a_usage_error(small):
    top, env = small
    assert "megatest: error: -run needs -target TARGET" in refused("-run", "-runname", "x", env=env, cwd=top)
    assert "megatest: error: -run needs -runname NAME" in refused("-run", "-target", "a/b", env=env, cwd=top)


def test_run_wait_alone_waits_for_the_run_to_finish(tmp_path):
    top = make(tmp_path / "area", {"slow": "[ezsteps]\nnap sleep 1.5\n"}, scripts={})
    env = base_env(tmp_path)
    runner = subprocess.Popen([str(BIN / "megatest"), "-run", "-target", "a/b", "-runname", "w"],
                              env=env, cwd=top, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not runs_json(top, env) or not runs_json(top, env)[0]["tests"]:
            assert time.time() < deadline, "the run never registered"
            time.sleep(0.1)
        ok("-run-wait", "-target", "a/b", "-runname", "w", env=env, cwd=top)
        assert records(top, env)["slow"]["state"] == "COMPLETED"
    finally:
        runner.wait(timeout=60)


# ---------------------------------------------------------------- -list-runs and other queries

def test_list_runs_text_is_megatests_line_for_line(ran):
    top, env, _ = ran
    text = ok("-list-runs", "r1", "-target", "a/b", "-testpatt", "pass1,fails", env=env, cwd=top).stdout
    dump = json.loads(ok("-list-runs", "r1", "-dumpmode", "json", env=env, cwd=top).stdout)["a/b"]["r1"]
    run_id = dump["meta"]["id"]
    tests = {t["testname"]: t for t in dump["data"].values()}
    p, f = tests["pass1"], tests["fails"]
    conn = live_conn(top, env)
    steps = conn.execute("SELECT state, status, event_time FROM test_steps WHERE test_id=? "
                         "ORDER BY id", (f["id"],)).fetchall()
    conn.close()

    def test_line(name, t):
        return (f"  Test: {name.ljust(25)} State: {t['state'].ljust(15)} Status: {t['status'].ljust(15)} "
                f"Runtime: {str(t['run_duration']).rjust(5)}s Time: {str(t['event_time']).ljust(22)} "
                f"Host: {t['host'].ljust(10)}")
    expected = [
        # the run line Megatest really prints: its default -fields, #f for an empty one
        f"Run: a/b/r1 arch: a os: b id: {run_id} runname: r1 state: completed status: n/a "
        f"owner: {dump['meta']['owner'] or '#f'} event_time: {dump['meta']['event_time']} comment: #f "
        f"fail_count: {dump['meta']['fail_count']} pass_count: {dump['meta']['pass_count']} ",
        test_line("fails", f),
        f"         cpuload:  {float(f['cpuload'])}",
        f"         diskfree: {f['diskfree']}",
        f"         uname:    {f['uname']}",
        f"         rundir:   {top}/lt/a/b/r1/fails",
    ] + [f"    Step: {'check'.ljust(20)} State: {state.ljust(10)} Status: {status.ljust(10)} "
         f"Time {str(int(when)).ljust(22)}" for state, status, when in steps] + [test_line("pass1", p)]
    assert text.splitlines() == expected


def test_list_runs_items_state_filter_and_target_pattern(ran):
    top, env, _ = ran
    text = ok("-list-runs", "r%", "-target", "a/%", "-status", "PASS", "-testpatt", "iter,pass1",
              env=env, cwd=top).stdout
    names = re.findall(r"^  Test: (\S+)", text, re.M)
    assert names == ["iter", "iter(1)", "iter(2)", "pass1", "pass1"]
    assert re.findall(r"^Run: (\S+) ", text, re.M) == ["a/b/r1", "a/c/r2"]


def test_list_runs_json_has_megatests_shape(ran):
    top, env, _ = ran
    dump = json.loads(ok("-list-runs", "%", "-dumpmode", "json", env=env, cwd=top).stdout)
    assert set(dump) == {"a/b", "a/c"} and set(dump["a/c"]) == {"r2"}
    meta = dump["a/b"]["r1"]["meta"]
    assert meta["arch"] == "a" and meta["os"] == "b" and meta["runname"] == "r1"
    assert meta["owner"] == "tester" and meta["status"] == "n/a"
    assert all(isinstance(v, str) for v in meta.values())
    data = dump["a/b"]["r1"]["data"]
    row = next(t for t in data.values() if t["testname"] == "calls")
    assert data[str(row["id"])] is row
    assert {"id", "run_id", "testname", "item_path", "state", "status", "event_time", "host",
            "cpuload", "diskfree", "uname", "rundir", "shortdir", "final_logf", "comment",
            "run_duration", "attemptnum", "archived"} == set(row)
    assert (row["state"], row["status"], row["comment"]) == ("COMPLETED", "PASS", "all steps done")


def test_list_targets_and_list_db_targets(ran):
    top, env, _ = ran
    assert ok("-list-targets", env=env, cwd=top).stdout == "a/b\nx/y\n"
    assert json.loads(ok("-list-targets", "-dumpmode", "json", env=env, cwd=top).stdout) == ["a/b", "x/y"]
    assert ok("-list-targets", "-target", "x/%", env=env, cwd=top).stdout == "x/y\n"
    assert ok("-list-db-targets", env=env, cwd=top).stdout == "a/b\na/c\n"
    got = json.loads(ok("-list-db-targets", "-dumpmode", "json", env=env, cwd=top).stdout)
    assert got == {"targets": ["a/b", "a/c"]}


def test_show_config_and_runconfig(ran):
    top, env, _ = ran
    assert ok("-show-config", "-section", "setup", "-var", "max_concurrent_jobs", env=env,
              cwd=top).stdout == "4\n"
    assert "[fields]\narch TEXT\nos TEXT\n" in ok("-show-config", env=env, cwd=top).stdout
    config = json.loads(ok("-show-config", "-dumpmode", "json", env=env, cwd=top).stdout)
    assert config["fields"] == {"arch": "TEXT", "os": "TEXT"}
    assert ok("-show-runconfig", "-target", "a/b", env=env, cwd=top).stdout.startswith("[a/b]\nFOO baz\n")
    assert json.loads(ok("-show-runconfig", "-dumpmode", "json", env=env, cwd=top).stdout) == \
        {"default": {"FOO": "bar"}}
    assert ok("-show-runconfig", "-section", "a/b", "-var", "FOO", env=env, cwd=top).stdout == "baz\n"
    # a variable missing from [x/y] comes from [default], as in Megatest
    assert ok("-show-runconfig", "-section", "x/y", "-var", "FOO", env=env, cwd=top).stdout == "bar\n"
    assert ok("-show-runconfig", "-section", "x/y", "-var", "NONE", env=env, cwd=top).stdout == ""
    assert "-section and -var go together" in refused("-show-config", "-section", "setup", env=env, cwd=top)
    assert "-dumpmode sexp" in refused("-show-config", "-dumpmode", "sexp", env=env, cwd=top)


def test_test_paths_newest_first_and_test_files(ran):
    top, env, _ = ran
    paths = ok("-test-paths", "-target", "a/b", ":runname", "r1", "-testpatt", "pass1,fails",
               env=env, cwd=top).stdout.splitlines()
    assert sorted(paths) == [f"{top}/lt/a/b/r1/fails", f"{top}/lt/a/b/r1/pass1"]
    when = {t["testname"]: t["event_time"] for t in json.loads(
        ok("-list-runs", "r1", "-dumpmode", "json", env=env, cwd=top).stdout)["a/b"]["r1"]["data"].values()}
    assert [when[os.path.basename(p)] for p in paths] == sorted(when[os.path.basename(p)] for p in paths)[::-1]
    assert ok("-test-paths", "-target", "a/%", "-testpatt", "pass1", "-status", "PASS", env=env,
              cwd=top).stdout.count("\n") == 2
    files = ok("-test-files", "*.log", "-target", "a/b", "-runname", "r1", "-testpatt", "calls",
               env=env, cwd=top).stdout.splitlines()
    assert files == [f"{top}/lt/a/b/r1/calls/{n}" for n in ("count.log", "prep.log", "runscript.log")]


def test_test_paths_inside_a_test_default_to_its_target_and_run(ran):
    top, env, _ = ran
    inside = dict(env, MT_TARGET="a/c", MT_RUNNAME="r2")
    assert ok("-test-paths", env=inside, cwd=top).stdout == f"{top}/lt/a/c/r2/pass1\n"


# ---------------------------------------------------------------- changes

def test_remove_runs(small):
    top, env = small
    out = ok("-remove-runs", "-target", "a/b", "-runname", "r", "-testpatt", "fails", env=env, cwd=top)
    assert "a/b/r: removed 1 record" in out.stdout
    assert set(records(top, env)) == {"pass1"}
    assert not (top / "lt" / "a" / "b" / "r" / "fails").exists()
    assert "not supported here" in refused("-remove-runs", "-target", "a/b", "-runname", "r",
                                           "-state", "COMPLETED", env=env, cwd=top)


def test_set_state_status_with_filters_and_triggers(small):
    top, env = small
    trigger = top / "trig.out"
    spec = top / "lt" / "a" / "b" / "r" / "pass1" / ".mt" / "triggers"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(f"# mt triggers v1\nCOMPLETED/WAIVED\techo fired >> {trigger}\n")
    out = ok("-set-state-status", "COMPLETED,WAIVED", "-target", "a/b", "-runname", "r",
             "-testpatt", "%", "-status", "PASS", env=env, cwd=top)
    assert "a/b/r: 1 record set to COMPLETED/WAIVED" in out.stdout
    got = records(top, env)
    assert (got["pass1"]["status"], got["fails"]["status"]) == ("WAIVED", "FAIL")
    deadline = time.time() + 10
    while not (trigger.exists() and trigger.read_text().endswith("/pass1 COMPLETED/WAIVED\n")):
        assert time.time() < deadline, "trigger did not fire"
        time.sleep(0.05)
    assert "give STATE,STATUS" in refused("-set-state-status", "COMPLETED", "-target", "a/b",
                                          "-runname", "r", env=env, cwd=top)


def test_lock_protects_a_run_until_unlock(small):
    top, env = small
    assert "locked a/b/r" in ok("-lock", "-target", "a/b", "-runname", "r", env=env, cwd=top).stdout
    out = ok("-set-state-status", "NOT_STARTED,n/a", "-target", "a/b", "-runname", "r", env=env, cwd=top)
    assert "a/b/r: locked, skipped" in out.stdout
    ok("-remove-runs", "-target", "a/b", "-runname", "r", env=env, cwd=top)
    assert set(records(top, env)) == {"pass1", "fails"}
    ok("-unlock", "-target", "a/b", "-runname", "r", env=env, cwd=top)
    ok("-remove-runs", "-target", "a/b", "-runname", "r", env=env, cwd=top)
    assert runs_json(top, env) == []


def test_set_and_get_run_status(small):
    top, env = small
    ok("-set-run-status", "SIGNED_OFF", "-m", "by qa", "-target", "a/b", "-runname", "r", env=env, cwd=top)
    assert ok("-get-run-status", "-target", "a/b", "-runname", "r", env=env, cwd=top).stdout == "SIGNED_OFF\n"
    assert runs_json(top, env)[0]["user_status"] == "SIGNED_OFF"
    out = megatest("-get-run-status", "-target", "a/b", "-runname", "nope", env=env, cwd=top)
    assert out.returncode == 1 and "no run matches" in out.stderr


# ---------------------------------------------------------------- set-up and files

def test_env2file_writes_sh_and_csh(tmp_path):
    env = dict(base_env(tmp_path), GREETING="hello world")
    (tmp_path / "out").mkdir()
    ok("-env2file", "out/myenv", env=env, cwd=tmp_path)
    sh, csh = (tmp_path / "out" / "myenv.sh").read_text(), (tmp_path / "out" / "myenv.csh").read_text()
    assert 'export GREETING="hello world"\n' in sh and 'setenv GREETING "hello world"\n' in csh
    assert "# export HOME=" in sh and "\nexport HOME=" not in sh


def test_create_megatest_area_then_create_test_then_run(tmp_path):
    env = base_env(tmp_path)
    out = ok("-create-megatest-area", env=env, cwd=tmp_path, input="myarea\nOS/RELEASE\n")
    assert f"wrote {tmp_path}/myarea/megatest.config" in out.stdout
    assert "[fields]\nOS TEXT\nRELEASE TEXT\n" in (tmp_path / "myarea" / "megatest.config").read_text()
    area = tmp_path / "myarea"
    assert "tests/hello/testconfig" in ok("-create-test", "hello", env=env, cwd=area).stdout
    ok("-run", "-target", "linux/r1", "-runname", "first", env=env, cwd=area)
    assert records(area, env)["hello"]["status"] == "PASS"
    err = refused("-create-megatest-area", env=env, cwd=tmp_path)   # no answers on stdin
    assert "no keys given" in err


def test_start_dir_and_version_and_help(ran):
    top, env, _ = ran
    assert ok("-start-dir", top, "-list-targets", env=env, cwd="/").stdout == "a/b\nx/y\n"
    assert "non" not in refused("-start-dir", top / "nope", "-list-targets", env=env, cwd="/")
    assert re.fullmatch(r"1\.\d+-py\d+\.\d+\.\d+\n", ok("-version", env=env, cwd=top).stdout)
    for flag in ("--help", "-h"):
        out = ok(flag, env=env, cwd="/")
        usage = out.stdout.split("Usage:", 1)[1]
        assert out.stderr == "" and re.search(r"^  megatest -list-runs RUNPATT", usage, re.M)


# ---------------------------------------------------------------- refused and ignored switches

def test_unknown_switches_and_missing_values_exit_2_naming_them(ran):
    top, env, _ = ran
    assert refused("-list-runs", "%", "-fields", "runs:id", env=env, cwd=top).startswith(
        "megatest: error: unknown switch -fields\n")
    assert refused(":weird", "x", "-list-targets", env=env, cwd=top).startswith(
        "megatest: error: unknown switch :weird\n")
    assert refused("-list-runs", env=env, cwd=top).startswith("megatest: error: -list-runs needs a value\n")
    assert refused("-run", "-target", "-runname", "r", env=env, cwd=top).startswith(
        "megatest: error: -target needs a value\n")
    assert "unexpected argument 'stray'" in refused("-list-targets", "stray", env=env, cwd=top)
    assert "nothing to do" in refused("-target", "a/b", env=env, cwd=top)
    assert "nothing to do" in refused(env=env, cwd=top)


def test_ignored_switches_print_one_line_each(ran):
    top, env, _ = ran
    out = ok("-list-targets", "-transport", "http", "-debug", "3", "-v", "-runname", "r1",
             env=env, cwd=top)
    assert out.stdout == "a/b\nx/y\n"
    assert out.stderr.splitlines() == [
        "megatest: -debug 3: ignored (no debug levels here; errors and warnings are always shown)",
        "megatest: -v: ignored (no verbosity levels here)",
        "megatest: -transport http: ignored (this Megatest has one server, mt-serve, speaking JSON over HTTP)",
        "megatest: -runname r1: ignored (it does nothing with -list-targets)",
    ]


def test_log_sends_all_output_to_a_file(ran, tmp_path):
    top, env, _ = ran
    out = ok("-list-targets", "-v", "-log", tmp_path / "logs" / "mt.log", env=env, cwd=top)
    assert out.stdout == out.stderr == ""
    assert (tmp_path / "logs" / "mt.log").read_text() == \
        "megatest: -v: ignored (no verbosity levels here)\na/b\nx/y\n"


# ---------------------------------------------------------------- inside a test

def test_mt_megatest_is_this_megatest(ran):
    top, env, _ = ran
    named = (top / "lt" / "a" / "b" / "r1" / "where" / "mt_megatest.txt").read_text().strip()
    assert named == str(BIN / "megatest")


def test_test_side_calls_recorded_steps_data_logs_status_and_comment(ran):
    top, env, _ = ran
    rundir = top / "lt" / "a" / "b" / "r1" / "calls"
    assert (rundir / "runstep.rc").read_text() == "2\n"            # the step's own exit code
    assert (rundir / "count.log").read_text() == "one\ntwo\n"       # stdout and stderr
    assert (rundir / "notes.txt").read_text() == (
        "megatest: -summarize-items: ignored (no HTML rollup pages here; the toplevel record is "
        "rolled up on every change)\n")
    conn = live_conn(top, env)
    test = conn.execute("SELECT * FROM tests WHERE testname='calls'").fetchone()
    steps = conn.execute("SELECT stepname, state, status, logfile, comment FROM test_steps "
                         "WHERE test_id=? ORDER BY id", (test["id"],)).fetchall()
    data = conn.execute("SELECT category, variable, value, expected, tol, units, status FROM test_data "
                        "WHERE test_id=? ORDER BY variable", (test["id"],)).fetchall()
    auto = conn.execute("SELECT status, fail_count FROM tests WHERE testname='auto'").fetchone()
    top_log = conn.execute("SELECT final_logf FROM tests WHERE testname='iter' AND item_path=''").fetchone()
    conn.close()
    assert (test["state"], test["status"], test["comment"]) == ("COMPLETED", "PASS", "all steps done")
    assert test["final_logf"] == "count.log"
    assert [tuple(s) for s in steps] == [
        ("prep", "start", "n/a", "prep.log", ""), ("prep", "end", "0", "", "prep done"),
        ("count", "start", "n/a", "", "counting"), ("count", "end", "2", "count.log", "counting")]
    assert [tuple(d) for d in data] == [("perf", "power", "2.9", "3", "0.2", "W", "pass"),
                                        ("perf", "speed", "10.2", "10", "0.5", "GHz", "pass")]
    assert tuple(auto) == ("FAIL", 1)                                # -set-values then AUTO
    assert top_log[0] == "summary.html"                              # -set-toplog from an item


@pytest.mark.skipif(shutil.which("logpro", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}") is None,
                    reason="logpro is not installed (bin/logpro is another engineer's work)")
def test_runstep_with_logpro_makes_the_html_the_final_log(tmp_path):
    script = textwrap.dedent("""\
        #!/bin/sh
        $MT_MEGATEST -runstep count "printf 'alpha\\nbeta\\n' | grep -c a" -logpro count.logpro
        echo $? > rc
        $MT_MEGATEST -runstep nomatch "echo zero" -logpro count.logpro
        echo $? >> rc
        $MT_MEGATEST -test-status :state COMPLETED :status PASS
        """)
    top = make(tmp_path / "area", {"lp": "[setup]\nrunscript main.sh\n"}, scripts={"lp": script})
    (top / "tests" / "lp" / "count.logpro").write_text(
        '(expect:required in "LogFileBody" = 1 "Two lines counted" #/^2$/)\n')
    env = base_env(tmp_path)
    ok("-run", "-target", "a/b", "-runname", "r", env=env, cwd=top)
    rundir = top / "lt" / "a" / "b" / "r" / "lp"
    assert (rundir / "count.html").is_file()
    assert (rundir / "rc").read_text() == "0\n1\n"                  # logpro's exit code
    conn = live_conn(top, env)
    assert conn.execute("SELECT final_logf FROM tests").fetchone()[0] == "nomatch.html"
    conn.close()


def test_test_side_usage_errors_exit_2_before_recording_anything(ran):
    top, env, _ = ran
    assert "not inside a test" in refused("-test-status", ":state", "COMPLETED", ":status", "PASS",
                                          env=env, cwd=top)
    inside = dict(env, MT_RUN_AREA_HOME=str(top), MT_TARGET="a/b", MT_RUNNAME="r1", MT_TEST_NAME="pass1")
    before = records(top, env, "--target", "a/b")["pass1"]
    assert "megatest: error: -step: missing :status" in refused("-step", "s", ":state", "start",
                                                              env=inside, cwd=top)
    assert "-test-status: missing :state and :status" in refused("-test-status", env=inside, cwd=top)
    assert "-runstep s: nothing to run" in refused("-runstep", "s", env=inside, cwd=top)
    assert "-set-values: missing :expected, :tol" in refused("-set-values", ":value", "1",
                                                            env=inside, cwd=top)
    assert "-run cannot be combined with -test-status" in refused(
        "-test-status", ":state", "A", ":status", "B", "-run", env=inside, cwd=top)
    assert records(top, env, "--target", "a/b")["pass1"] == before


def test_megatest_qa_data_switches_are_ignored_with_a_line_and_the_status_recorded(ran):
    top, env, _ = ran
    test_id = records(top, env, "--target", "a/b")["pass1"]["test_id"]
    inside = dict(env, MT_RUN_AREA_HOME=str(top), MT_TARGET="a/b", MT_RUNNAME="r1",
                  MT_TEST_NAME="pass1", MT_ITEMPATH="")
    # the call of Megatest's fullrun/runfirst: :expected_value is no switch, so no data row
    out = ok("-test-status", ":state", "COMPLETED", ":status", "0", "-m", "test level comment",
             ":value", "10e6", ":expected_value", "1.1e6", ":tol", "100e3", ":category", "nada",
             ":first_err", "first", env=inside, cwd=top)
    assert out.stderr.splitlines() == [
        "megatest: :first_err first: ignored (Megatest no longer records it either)",
        "megatest: :expected_value 1.1e6: ignored (not a Megatest switch (Megatest reported it "
        "and went on); use :expected)",
        "megatest: :value 10e6: ignored (a data row needs :value, :expected and :tol)"]
    row = records(top, env, "--target", "a/b")["pass1"]
    assert (row["status"], row["comment"]) == ("PASS", "test level comment")
    conn = live_conn(top, env)
    assert conn.execute("SELECT count(*) FROM test_data WHERE test_id=?", (test_id,)).fetchone()[0] == 0
    conn.close()


# ---------------------------------------------------------------- the dispatcher

def test_every_run_side_action_has_a_handler():
    from megatest.commands import megatest_run, megatest_switches as front
    handled = {s for switches, _, _ in megatest_run.ACTIONS for s in switches} | {"-version"}
    assert handled == front.RUN_ACTIONS
    switches = front.VALUED | front.FLAGS
    assert set(front.TEST_SIDE) <= switches and front.RUN_ACTIONS <= switches


def test_test_side_path_imports_what_mt_test_imports():
    code = ("import sys; before = set(sys.modules); import megatest.commands.megatest, "
            "megatest.commands.megatest_test; print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": str(LIB)},
                         capture_output=True, text=True, check=True).stdout.split()
    ours = {m for m in out if m.startswith("megatest")}
    assert ours == {"megatest", "megatest.commands", "megatest.commands.megatest",
                    "megatest.commands.megatest_switches", "megatest.commands.megatest_test",
                    "megatest.commands.test", "megatest.errors",
                    "megatest.states", "megatest.launch", "megatest.launch.testenv",
                    "megatest.launch.triggers", "megatest.serve", "megatest.serve.testroute"}
    assert not {"docopt", "json", "subprocess", "sqlite3", "megatest.commands.megatest_run"} & set(out)
