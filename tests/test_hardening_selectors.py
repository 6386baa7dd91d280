"""Issue 9 §4: selectors that match nothing and options that do nothing. A user's typo must
never look like success. Each test here failed before its fix."""
import subprocess

import pytest

from conftest import BIN, mt, records, runs_json

BUILD = "[ezsteps]\ns true\n"
UNIT = "[requirements]\nwaiton build\n\n[items]\nSIZE small big\n\n[ezsteps]\ns true\n"
LATE = "[requirements]\nwaiton build\n\n[items]\nV [system echo x y]\n\n[ezsteps]\ns true\n"
TESTS = {"build": BUILD, "unit": UNIT, "late": LATE}


def run(area, env, runname, *args):
    return mt("run", "--area", area, "--target", "a/b", "--runname", runname, "--quiet", *args,
              env=env, timeout=60)


# ------------------------------------------------------------ test patterns

def test_a_dead_element_is_named_and_the_rest_runs(make_area, mt_env):
    area = make_area(TESTS)
    out = run(area, mt_env, "r", "--testpatt", "build,nosuch")
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "mt-run: warning: --testpatt element 'nosuch' selects no test or item; ignored"]
    assert records(area, mt_env)["build"]["status"] == "PASS"


def test_an_item_that_does_not_exist_refuses_the_run(make_area, mt_env):
    """`unit/huge`: the waiton closure used to run build alone and exit 0 (PASS)."""
    area = make_area(TESTS)
    out = run(area, mt_env, "r", "--testpatt", "unit/huge")
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "mt-run: error: --testpatt 'unit/huge' selects no test or item of this area",
        "  try: unit's items: small big"]
    assert runs_json(area, mt_env) == []          # nothing registered


def test_a_dead_item_element_beside_a_good_one_warns(make_area, mt_env):
    area = make_area(TESTS)
    out = run(area, mt_env, "r", "--testpatt", "unit/small,unit/huge")
    assert out.returncode == 0, out.stderr
    assert "mt-run: warning: --testpatt element 'unit/huge' selects no test or item; ignored" \
        in out.stderr.splitlines()
    assert set(records(area, mt_env)) == {"build", "unit", "unit/small"}


def test_an_item_expanded_at_run_time_is_checked_at_the_end(make_area, mt_env):
    """[system] items are known only once build is done: the run goes on, then the dead
    element is named and, the whole pattern having selected nothing, the exit is 2."""
    area = make_area(TESTS)
    out = run(area, mt_env, "r", "--testpatt", "late/huge")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        "mt-run: warning: --testpatt element 'late/huge' selected no test or item "
        "(its items were expanded during the run)",
        "mt-run: error: --testpatt 'late/huge' selected no test or item"]
    ok = run(area, mt_env, "r2", "--testpatt", "late/huge,late/x")
    assert ok.returncode == 0, ok.stderr
    assert "element 'late/huge' selected no test or item" in ok.stderr
    assert records(area, mt_env, "--runname", "r2")["late/x"]["status"] == "PASS"


def test_megatest_front_end_names_its_own_switch(make_area, mt_env):
    area = make_area(TESTS)
    out = subprocess.run([str(BIN / "megatest"), "-run", "-target", "a/b", "-runname", "r",
                          "-testpatt", "nosuch"], env=mt_env, cwd=area, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == \
        "megatest: error: -testpatt 'nosuch' selects no test of this area"


# ------------------------------------------------------------ states and statuses

def test_rerun_with_an_unknown_status_warns(make_area, mt_env):
    area = make_area({"build": BUILD}, config="[validvalues]\nstatus MYSTATUS\n")
    out = run(area, mt_env, "r", "--rerun", "BOGUS,PASSED,MYSTATUS,FAIL")
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "mt-run: warning: --rerun 'BOGUS' is not a known status; no record will have it",
        "mt-run: warning: --rerun 'PASSED' is not a known status (did you mean PASS?); "
        "no record will have it"]


def test_list_with_an_unknown_state_or_status_warns(make_area, mt_env):
    area = make_area({"build": BUILD})
    assert run(area, mt_env, "r").returncode == 0
    out = mt("list", "runs", "--area", area, "--status", "PASSED", "--state", "COMPLETE",
             env=mt_env)
    assert out.returncode == 0
    assert out.stderr.splitlines() == [
        "mt-list: warning: --state 'COMPLETE' is not a known state (did you mean COMPLETED?)",
        "mt-list: warning: --status 'PASSED' is not a known status (did you mean PASS?)",
        "mt-list: --state COMPLETE --status PASSED selected no record in 1 matching run"]
    known = mt("list", "runs", "--area", area, "--status", "PASS", env=mt_env)
    assert known.stderr == "" and "build" in known.stdout


def test_list_accepts_a_custom_status_that_a_record_has(make_area, mt_env):
    area = make_area({"build": BUILD})
    run(area, mt_env, "r")
    subprocess.run([str(BIN / "megatest"), "-set-state-status", "COMPLETED,MINE", "-target", "a/b",
                    "-runname", "r", "-testpatt", "build"], env=mt_env, cwd=area, check=True,
                   capture_output=True)
    out = mt("list", "runs", "--area", area, "--status", "MINE", env=mt_env)
    assert out.stderr == "" and "MINE" in out.stdout


# ------------------------------------------------------------ options before --dry-run

@pytest.mark.parametrize("bad,message", [
    (["-j", "zero"], "mt-run: error: -j expects an integer, got 'zero'"),
    (["-j", "0"], "mt-run: error: -j must be at least 1, got 0"),
    (["--queue"], "mt-run: error: --dry-run changes nothing, --queue queues a run: give one of them"),
])
def test_options_are_checked_before_dry_run(make_area, mt_env, bad, message):
    area = make_area({"build": BUILD})
    out = run(area, mt_env, "r", "--dry-run", *bad)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [message]
    assert runs_json(area, mt_env) == []                 # --queue used to queue a task


# ------------------------------------------------------------ targets and --area

def test_clean_and_list_share_the_target_rule(make_area, mt_env):
    """A pattern with fewer parts than keys leaves the rest free, in mt-list and mt-clean."""
    area = make_area({"build": BUILD})
    run(area, mt_env, "r")
    assert [r["target"] for r in runs_json(area, mt_env, "--target", "a")] == ["a/b"]
    out = mt("clean", "--area", area, "--target", "a", "--runname", "r", env=mt_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "a/b/r: removed 1 record"
    assert runs_json(area, mt_env, "--target", "a") == []       # the run is gone


@pytest.mark.parametrize("command", [["list", "targets"], ["run", "--target", "a/b",
                                                          "--runname", "r", "--dry-run"]])
def test_area_may_name_the_config_file(make_area, mt_env, command):
    area = make_area({"build": BUILD})
    out = mt(*command, "--area", area / "megatest.config", env=mt_env)
    assert out.returncode == 0, out.stderr


# ------------------------------------------------------------ names too long for a directory

@pytest.mark.parametrize("target,runname,what,size", [
    ("a/b", "x" * 300, "--runname '" + "x" * 40 + "...'", 300),
    ("a/" + "y" * 256, "r", "target part '" + "y" * 40 + "...'", 256),
])
def test_a_name_longer_than_name_max_is_refused_at_start(make_area, mt_env, target, runname,
                                                         what, size):
    """It used to fail only at launch ("File name too long"), the run registered."""
    area = make_area({"build": BUILD})
    out = mt("run", "--area", area, "--target", target, "--runname", runname, env=mt_env)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == \
        f"mt-run: error: {what} is {size} bytes long; a directory name may have at most 255 here"
    assert runs_json(area, mt_env) == []


def test_an_item_value_longer_than_name_max_is_refused_at_start(make_area, mt_env):
    area = make_area({"t": f"[items]\nV ok {'v' * 256}\n\n[ezsteps]\ns true\n"})
    out = run(area, mt_env, "r")
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == \
        f"mt-run: error: {area / 'tests' / 't' / 'testconfig'}:2: test t: item variable V: " \
        f"value '{'v' * 40}...' is 256 bytes long; a directory name may have at most 255 here"
    assert runs_json(area, mt_env) == []


def test_a_late_item_value_longer_than_name_max_aborts_its_test(make_area, mt_env):
    """[system] items are checked as they expand: the test ends ABORT naming the value,
    instead of a launch failing on "File name too long"."""
    area = make_area({"t": f"[items]\nV [system echo ok {'v' * 256}]\n\n[ezsteps]\ns true\n"})
    out = run(area, mt_env, "r")
    assert out.returncode == 1, out.stdout + out.stderr
    rec = records(area, mt_env)["t"]
    assert (rec["state"], rec["status"]) == ("COMPLETED", "ABORT")
    assert "is 256 bytes long; a directory name may have at most 255 here" in rec["comment"]


# ------------------------------------------------------------ one broken testconfig

BROKEN = "[requirements]\npriority high\n"


def test_a_broken_testconfig_refuses_only_the_runs_that_need_it(make_area, mt_env):
    area = make_area({"build": BUILD, "bad": BROKEN, "waiter": "[requirements]\nwaiton bad\n"})
    where = area / "tests" / "bad" / "testconfig"
    out = run(area, mt_env, "good", "--testpatt", "build")
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        f"mt-run: warning: {where}:2: priority must be an integer, got 'high'; "
        "test bad is not selected, so it is skipped"]
    for patt in ("bad", "waiter", "%"):
        refused = run(area, mt_env, "r-" + patt.strip("%") + "x", "--testpatt", patt)
        assert refused.returncode == 2
        assert refused.stderr.splitlines()[-1] == \
            f"mt-run: error: {where}:2: priority must be an integer, got 'high'"
    assert [r["runname"] for r in runs_json(area, mt_env)] == ["good"]


def test_list_tests_warns_about_a_broken_testconfig_and_lists_the_rest(make_area, mt_env):
    area = make_area({"build": BUILD, "bad": "[requirements\n"})
    out = mt("list", "tests", "--area", area, env=mt_env)
    assert out.returncode == 0
    assert out.stderr.splitlines() == [
        f"mt-list: warning: {area / 'tests' / 'bad' / 'testconfig'}:1: bad section header "
        "'[requirements' (missing ']'?); test bad not listed"]
    assert [line.split()[0] for line in out.stdout.splitlines()] == ["build"]


def test_mt_list_says_when_a_selector_matches_nothing(make_area, mt_env):
    """An empty listing after a typo read as "no such run" or "no records", in silence."""
    area = make_area({"t": "[ezsteps]\ns true\n"})
    assert run(area, mt_env, "r").returncode == 0

    def listing(*args):
        out = mt("list", "runs", "--area", area, *args, env=mt_env)
        assert out.returncode == 0, out.stderr
        return out.stdout, out.stderr

    assert listing("--target", "nosuch/x") == ("", "mt-list: no run matches --target nosuch/x\n")
    assert listing("--runname", "rr") == ("", "mt-list: no run matches --runname rr\n")
    out, err = listing("--testpatt", "tt")
    assert "(run-id 1, 0 records)" in out
    assert err == "mt-list: --testpatt tt selected no record in 1 matching run\n"
    assert listing("--json", "--status", "FAIL")[1] == \
        "mt-list: --status FAIL selected no record in 1 matching run\n"
    assert listing("--testpatt", "t")[1] == ""          # a match: nothing said
    assert listing()[1] == ""
