"""mt-report (junit, html, diff), mt-list history and failures, attempts and flaky records,
on one known area run twice for real: every diff category is in it.

Run r1 then r2 of target x/y; what each test does depends on $MT_RUNNAME:
  newfail   passes in r1, fails in r2                  -> new failure
  still     fails in both (same fault, other numbers)  -> still failing, one signature
  fixed     fails in r1, passes in r2                  -> fixed
  waived    passes in r1, WAIVED in r2                 -> newly waived
  newtest   only in r2                                 -> new test
  gone      only in r1                                 -> missing/not run
  steady    passes in both, with test data             -> unchanged
  itm/1 itm/2: item 2 fails in r2 only                 -> itm/2 new failure
  blocked   waits on still (fails)                     -> skipped (blocked) in JUnit
"""
import json
import os
import re
import subprocess

import pytest

from conftest import database_at, mt, write_area
from test_hardening_storage import mounts, tmpfs   # noqa: F401 (fixture)

XSD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "junit.xsd")

TESTS = {
    "newfail": """\
        [ezsteps]
        check test "$MT_RUNNAME" = r1 || { echo "ERROR: checksum 0x3fa2 differs in /work/blk/a.v at 12:01:02"; exit 1; }
        """,
    "still": """\
        [ezsteps]
        prep echo preparing
        sim echo "running sim"; echo "Error: 17 assertions failed in /proj/$MT_RUNNAME/tb.sv"; exit 1
        """,
    "fixed": """\
        [ezsteps]
        check test "$MT_RUNNAME" = r2
        """,
    "waived": """\
        [setup]
        runscript run.sh
        """,
    "newtest": "[ezsteps]\ns echo new\n",
    "gone": "[ezsteps]\ns echo old\n",
    "steady": """\
        [ezsteps]
        measure mt-test data set perf speed 101 --expected 100 --tol 5 --units MHz
        """,
    "itm": """\
        [items]
        N 1 2
        [ezsteps]
        s test "$N" = 1 -o "$MT_RUNNAME" = r1
        """,
    "blocked": """\
        [requirements]
        waiton still
        [ezsteps]
        s echo never
        """,
}
WAIVED_SCRIPT = """#!/bin/sh
echo "run $MT_RUNNAME"
if [ "$MT_RUNNAME" = r2 ]; then
  mt-test status COMPLETED WAIVED --comment "known issue 42"
  exit 4
fi
exit 0
"""


@pytest.fixture(scope="module")
def area(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    top = write_area(tmp / "area", TESTS)
    script = top / "tests" / "waived" / "run.sh"
    script.write_text(WAIVED_SCRIPT)
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    env["MT_TMPDIR"] = str(tmp / "live")
    from conftest import BIN
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    common = "newfail,still,fixed,waived,steady,itm,blocked"     # (`%,~t` selects t too)
    r1 = mt("run", "--area", top, "--target", "x/y", "--runname", "r1", "--testpatt",
            common + ",gone", env=env)
    assert r1.returncode == 1, r1.stdout + r1.stderr
    r2 = mt("run", "--area", top, "--target", "x/y", "--runname", "r2", "--testpatt",
            common + ",newtest", env=env)
    assert r2.returncode == 1, r2.stdout + r2.stderr
    return top, env


def report(area, *args):
    top, env = area
    return mt("report", *args, "--area", top, env=env)


# ---------------------------------------------------------------- diff

def test_diff_puts_every_record_in_its_category_and_exits_1_on_a_new_failure(area):
    out = report(area, "diff", "--target", "x/y", "--runname", "r2", "--json")
    assert out.returncode == 1, out.stderr
    result = json.loads(out.stdout)
    assert (result["run"], result["against"]) == ("x/y/r2", "x/y/r1")
    got = {c: sorted(e["test"] for e in entries) for c, entries in result["categories"].items()}
    assert got == {"new_failure": ["itm/2", "newfail"], "still_failing": ["still"],
                   "fixed": ["fixed"], "newly_waived": ["waived"], "new_test": ["newtest"],
                   "missing": ["gone"], "unchanged": ["blocked", "itm/1", "steady"]}
    new = {e["test"]: e for e in result["categories"]["new_failure"]}["newfail"]
    assert (new["status"], new["was"]) == ("FAIL", "PASS")
    assert new["reproduce"] == "mt-run --target x/y --runname r2 --testpatt newfail --rerun-all"
    assert new["log"].endswith("/newfail/check.log") and os.path.isfile(new["log"])


def test_diff_text_defaults_to_the_newest_run_against_the_previous_one(area):
    out = report(area, "diff")
    assert out.returncode == 1
    first = out.stdout.splitlines()[0]
    assert first == ("x/y/r2 against x/y/r1: 2 new failures, 1 still failing, 1 fixed, "
                     "1 newly waived, 1 new test, 1 missing/not run (3 unchanged)")
    assert "  reproduce: mt-run --target x/y --runname r2 --testpatt itm/2 --rerun-all" in out.stdout


def test_diff_of_the_first_run_calls_every_failure_new(area):
    out = report(area, "diff", "--target", "x/y", "--runname", "r1")
    assert out.returncode == 1
    assert out.stdout.startswith("mt-report: no earlier run of x/y: every record is new\n")
    result = json.loads(report(area, "diff", "--runname", "r1", "--json").stdout)
    assert sorted(e["test"] for e in result["categories"]["new_failure"]) == ["fixed", "still"]


def test_diff_against_a_named_run_and_a_clean_gate(area):
    out = report(area, "diff", "--runname", "r1", "--against", "r2", "--json")
    result = json.loads(out.stdout)
    assert sorted(e["test"] for e in result["categories"]["fixed"]) == ["itm/2", "newfail"]
    assert result["categories"]["new_failure"] == [{
        "test": "fixed", "status": "FAIL", "was": "PASS", "outcome": "fail", "was_outcome": "pass",
        "comment": result["categories"]["new_failure"][0]["comment"],
        "log": result["categories"]["new_failure"][0]["log"],
        "reproduce": "mt-run --target x/y --runname r1 --testpatt fixed --rerun-all"}]
    assert out.returncode == 1


@pytest.mark.parametrize("args, message", [
    (("--against", "nosuch"), "mt-report: error: no run x/y/nosuch to compare with"),
    (("--runname", "nosuch"), "mt-report: error: no run nosuch"),
    (("--target", "a/b"), "mt-report: error: no run matches --target a/b"),
    (("--target", "x/%"), "mt-report: error: --target x/%: diff compares runs of one target"),
])
def test_diff_with_a_selector_that_matches_nothing_says_so(area, args, message):
    out = report(area, "diff", *args)
    assert out.returncode == 2
    assert out.stderr.startswith(message) and "Traceback" not in out.stderr


# ---------------------------------------------------------------- junit

def junit_of(area, *args):
    out = report(area, "junit", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_junit_validates_against_the_schema_and_junitparser_reads_it(area, tmp_path):
    import junitparser
    import xmlschema
    path = tmp_path / "r2.xml"
    out = report(area, "junit", "--runname", "r2", "-o", path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"mt-report: wrote {path} (1 run, 9 tests, 3 failures)\n"
    xmlschema.XMLSchema(XSD).validate(str(path))
    suite = next(iter(junitparser.JUnitXml.fromfile(str(path))))
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == (
        "x/y/r2", 9, 3, 0, 1)
    props = {p.name: p.value for p in suite.properties()}
    assert set(props) == {"target", "runname", "host", "rundir"}
    assert (props["target"], props["runname"]) == ("x/y", "r2")
    assert props["rundir"].endswith("/x/y/r2") and props["host"]
    cases = {(c.classname, c.name): c for c in suite}
    assert set(cases) == {("newfail", "newfail"), ("still", "still"), ("fixed", "fixed"),
                          ("waived", "waived"), ("newtest", "newtest"), ("steady", "steady"),
                          ("itm", "1"), ("itm", "2"), ("blocked", "blocked")}
    assert all(float(c.time) >= 0 for c in suite)


def test_junit_failure_carries_comment_log_tail_path_and_reproduce_command(area):
    import xml.etree.ElementTree as ET
    root = ET.fromstring(junit_of(area, "--runname", "r2"))
    case = root.find(".//testcase[@classname='still']")
    failure = case.find("failure")
    assert failure.get("type") == "FAIL" and failure.get("message").startswith("COMPLETED/FAIL")
    text = failure.text
    assert "Error: 17 assertions failed in /proj/r2/tb.sv" in text        # the log's tail
    assert re.search(r"^log: /\S+/still/sim\.log$", text, re.M)           # the failing step's
    assert "reproduce: mt-run --target x/y --runname r2 --testpatt still --rerun-all" in text
    blocked = root.find(".//testcase[@classname='blocked']/skipped")
    assert blocked is not None and "PREQ_FAIL" in blocked.get("message")
    item = root.find(".//testcase[@classname='itm'][@name='2']/failure")
    assert "--testpatt itm/2 --rerun-all" in item.text
    waived = root.find(".//testcase[@classname='waived']")
    assert list(waived.iter("failure")) == [] and "WAIVED: known issue 42" in waived.find("system-out").text


def test_junit_of_no_matching_run_is_an_error(area):
    out = report(area, "junit", "--runname", "r9")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.startswith("mt-report: error: no run matches --target % --runname r9")


@pytest.mark.parametrize("args, message", [
    ((), "mt-report: error: missing which report: expected one of junit, html, diff"),
    (("junk",), "mt-report: error: unknown report 'junk': expected one of junit, html, diff"),
])
def test_a_missing_or_unknown_report_is_named(area, args, message):
    out = report(area, *args)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.splitlines()[0] == message


def test_a_report_on_a_full_disk_is_one_line_and_leaves_nothing_behind(area, mounts, tmp_path):
    full = tmp_path / "full"
    tmpfs(mounts, full, "64k")
    with open(full / "filler", "wb", buffering=0) as f:      # fill it to the last block
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    junit = report(area, "junit", "--runname", "r2", "-o", full / "r2.xml")
    html = report(area, "html", "--runname", "r2", "-o", full / "rep")
    assert (junit.returncode, html.returncode) == (2, 2)
    assert junit.stderr == f"mt-report: error: cannot write {full / 'r2.xml'}: No space left on device\n"
    assert html.stderr == f"mt-report: error: cannot write the report in {full / 'rep'}: No space left on device\n"
    assert sorted(p.name for p in full.rglob("*")) == ["filler", "rep"]    # no half or temp file


# ---------------------------------------------------------------- html

def test_html_report_is_self_contained_with_failures_data_and_signatures(area, tmp_path):
    out = report(area, "html", "--runname", "r2", "-o", tmp_path / "rep")
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "rep" / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)   # nothing fetched
    assert "<script" not in page and "<link" not in page
    assert "9 tests and items" in page and "FAIL: 3" in page
    assert "Error: 17 assertions failed in /proj/r2/tb.sv" in page          # log excerpt
    assert "mt-run --target x/y --runname r2 --testpatt newfail --rerun-all" in page
    data = re.search(r"<h4>steady</h4><table class=\"data\">.*?</table>", page, re.S).group(0)
    assert "<td>speed</td><td>101</td><td>100</td><td>5</td><td>MHz</td>" in data
    assert "Failures by signature" in page


# ---------------------------------------------------------------- history, failures

def test_history_shows_status_across_runs_and_the_failing_streak(area):
    top, env = area
    out = mt("list", "history", "--testpatt", "still,fixed,newfail,gone", "--area", top, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "x/y: r1 r2 (oldest first)"
    assert "  still    [FF]  failing for 2 runs since r1, never passed in these runs" in lines
    assert "  newfail  [PF]  failing for 1 run since r2, last passed in r1" in lines
    assert "  fixed    [FP]  PASS" in lines
    assert "  gone     [P ]  not in the newest run" in lines
    rows = json.loads(mt("list", "history", "--testpatt", "still", "--last", "1", "--json",
                         "--area", top, env=env).stdout)
    assert [c["runname"] for c in rows[0]["runs"]] == ["r2"] and rows[0]["failing_for"] == 1


def test_failures_are_grouped_by_normalised_signature_most_frequent_first(area):
    top, env = area
    buckets = json.loads(mt("list", "failures", "--json", "--area", top, env=env).stdout)
    first = buckets[0]
    assert first["signature"] == "Error: <n> assertions failed in <path>"
    assert first["count"] == 2                     # r1 and r2: other path, same fault
    assert sorted(t["runname"] for t in first["tests"]) == ["r1", "r2"]
    assert all(t["reproduce"].startswith("mt-run --target x/y") for t in first["tests"])
    sigs = [b["signature"] for b in buckets]
    assert "ERROR: checksum <hex> differs in <path> at <time>" in sigs
    assert [b["count"] for b in buckets] == sorted((b["count"] for b in buckets), reverse=True)
    none = mt("list", "failures", "--runname", "r9", "--area", top, env=env)
    assert (none.returncode, none.stdout, none.stderr) == (
        0, "no failing record in 0 runs\n", "mt-list: no run matches --runname r9\n")
    text = mt("list", "failures", "--runname", "r2", "--area", top, env=env).stdout
    assert text.startswith("   1  ")            # r2 alone: each fault once
    assert "reproduce: mt-run --target x/y --runname r2 --testpatt still --rerun-all" in text


def test_signature_normalisation():
    from megatest.report.signatures import normalise
    assert normalise("Error at 2026-12-06 10:11:12: 0xdeadbeef in /a/b/c.v:17 (3.5e-3 s)") == \
        "Error at <date>: <hex> in <path>:<n> (<n> s)"
    assert normalise("FATAL: cafebabe1234 at ./x/y") == "FATAL: <hex> at <path>"


# ---------------------------------------------------------------- attempts and flaky

FLIP = """\
    [ezsteps]
    check if [ -e "$MT_RUN_AREA_HOME/ok" ]; then echo fine; else touch "$MT_RUN_AREA_HOME/ok"; echo "Error: first try"; exit 3; fi
    """


def test_a_rerun_is_an_attempt_and_fail_then_pass_is_flaky_everywhere(make_area, mt_env, tmp_path):
    top = make_area({"flip": FLIP, "good": "[ezsteps]\ns echo ok\n"})
    first = mt("run", "--area", top, "--target", "a/b", "--runname", "n1", env=mt_env)
    assert first.returncode == 1
    again = mt("run", "--area", top, "--target", "a/b", "--runname", "n1", "--testpatt", "flip",
               "--rerun-all", env=mt_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "run a/b/n1: 1 test or item in " in again.stdout
    assert again.stdout.rstrip().endswith(": 1 PASS (1 FLAKY: flip)")
    listing = mt("list", "runs", "--area", top, env=mt_env).stdout
    assert re.search(r"^  flip\s+COMPLETED\s+PASS \(FLAKY\)", listing, re.M)
    out = mt("report", "junit", "--area", top, env=mt_env)
    assert "FLAKY: passed at attempt 2 after failing before" in out.stdout
    [run] = json.loads(mt("list", "runs", "--json", "--area", top, env=mt_env).stdout)
    flip = {t["testname"]: t for t in run["tests"]}["flip"]
    assert (flip["status"], flip["outcome"], flip["flaky"], flip["attempt"]) == ("PASS", "flaky", True, 2)
    # attempt 1 kept: its exit code, host, duration and log (moved aside, not overwritten)
    sys_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
    code = ("import json,sys; sys.path.insert(0, %r);"
            "from megatest.config.area import find_area; from megatest.report import results;"
            "sel = results.read(find_area(%r), detail=True);"
            "print(json.dumps(results.runs(sel, detail=True)[0]['tests'][0]['attempts']))") % (sys_path, str(top))
    attempts = json.loads(subprocess.run([mt_env["PATH"].split(os.pathsep)[0] + "/python", "-c", code],
                                         env=mt_env, capture_output=True, text=True, check=True).stdout)
    assert [(a["attempt"], a["status"], a["exit_code"]) for a in attempts] == [(1, "FAIL", 3), (2, "PASS", 0)]
    assert attempts[0]["host"] and attempts[0]["duration"] is not None
    with open(attempts[0]["log"]) as f:
        assert "Error: first try" in f.read()
    with open(attempts[1]["log"]) as f:
        assert "fine" in f.read()
    history = mt("list", "history", "--area", top, env=mt_env).stdout
    assert "  flip  [f]  PASS" in history
    html_out = mt("report", "html", "-o", tmp_path / "h", "--area", top, env=mt_env)
    assert "PASS (FLAKY)" in (tmp_path / "h" / "index.html").read_text(), html_out.stderr


def test_a_database_of_the_previous_schema_is_migrated_and_keeps_its_records(tmp_path):
    from megatest.config.area import Area
    from megatest.store import db, schema
    area = Area(str(tmp_path))
    live = db.live_path(area, {"MT_TMPDIR": str(tmp_path / "live")})
    os.makedirs(os.path.dirname(live))
    conn = database_at(live, 2)
    conn.execute("INSERT INTO runs (target, runname) VALUES ('a/b', 'old')")
    conn.execute("INSERT INTO tests (run_id, testname, state, status) VALUES (1, 't', 'COMPLETED', 'PASS')")
    conn.close()
    os.chmod(live, 0o444)                 # a reader of an old read-only file sees the new shape
    reader = db.open_for_reading(area, paths=[live])
    assert reader.execute("SELECT count(*) FROM attempts").fetchone()[0] == 0
    assert [tuple(r) for r in db.tests_of_run(reader, 1)][0][2:6] == ("t", "", "COMPLETED", "PASS")
    os.chmod(live, 0o644)
    conn = db.open_area_db(area, {"MT_TMPDIR": str(tmp_path / "live")})
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert [tuple(r) for r in conn.execute("SELECT testname, status, exit_code FROM tests")] == [
        ("t", "PASS", None)]
    assert conn.execute("SELECT val FROM metadat WHERE var='migration'").fetchone()[0] == \
        schema.MIGRATIONS[-1][0]
