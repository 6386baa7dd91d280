"""Issue 9 §5, honest records and words: what a runconfig value runs and when, durations
after a resume, and counts that say what they count. Each test failed before its fix."""
import json
import math
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import BIN, mt, records, runs_json
from test_hardening_storage import mounts  # noqa: F401  (the fixture)

# Each value runs shell syntax; a marker file says it ran. As Megatest, the value is the
# first line of `echo VALUE`.
RUNCONFIG = """\
[default]
SEMI one; touch {m}/semi
AND two && touch {m}/and
SUBST three$(touch {m}/subst)
TICKS four`touch {m}/ticks`
LINES "$(printf 'first\\nsecond')"
REF $SEMI-ref
"""
MARKERS = {"semi", "and", "subst", "ticks"}
RAW = {"SEMI": "one; touch {m}/semi", "AND": "two && touch {m}/and",
       "SUBST": "three$(touch {m}/subst)", "TICKS": "four`touch {m}/ticks`",
       "LINES": "\"$(printf 'first\\nsecond')\"", "REF": "$SEMI-ref"}


def runconfig_area(make_area, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    dump = ("[ezsteps]\ns env | grep -E '^(SEMI|AND|SUBST|TICKS|LINES|REF)=' | sort > vars.txt; "
            "printf %s \"$LINES\" > lines.txt\n")
    area = make_area({"t": dump}, runconfigs=RUNCONFIG.format(m=marks))
    return area, marks


def ran(marks):
    return {p.name for p in marks.iterdir()}


def test_looking_at_the_runconfig_runs_none_of_it(make_area, mt_env, tmp_path):
    """mt-list config, megatest -show-runconfig and mt-run --dry-run show the values as
    written and run nothing (Megatest's -show-runconfig does not evaluate them)."""
    area, marks = runconfig_area(make_area, tmp_path)
    raw = {k: v.format(m=marks) for k, v in RAW.items()}
    out = mt("list", "config", "--area", area, "--target", "a/b", "--json", env=mt_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["runconfig"] == raw
    show = subprocess.run([str(BIN / "megatest"), "-show-runconfig", "-target", "a/b",
                           "-dumpmode", "json"], cwd=area, env=mt_env, capture_output=True,
                          text=True, timeout=60)
    assert show.returncode == 0, show.stderr
    assert "one; touch" in show.stdout
    dry = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--dry-run", env=mt_env)
    assert dry.returncode == 0, dry.stderr
    assert ran(marks) == set()


def test_a_run_expands_each_value_as_megatest_does(make_area, mt_env, tmp_path):
    """At run time each value is `echo VALUE` through the shell, first line kept: its
    commands run (as in Megatest) and a later value sees an earlier one."""
    area, marks = runconfig_area(make_area, tmp_path)
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ran(marks) == MARKERS
    seen = (area / "disk0/a/b/r/t/vars.txt").read_text().splitlines()
    assert seen == ["AND=two", "LINES=first", "REF=one-ref", "SEMI=one", "SUBST=three",
                    "TICKS=four"]
    assert (area / "disk0/a/b/r/t/lines.txt").read_text() == "first"


def test_a_resumed_record_keeps_its_own_duration(make_area, mt_env):
    """The runner dies while the test runs; the test ends, and the runner resumed seconds
    later records how long the test ran, not how long until it was noticed."""
    area = make_area({"t": "[ezsteps]\ns sleep 1\n"})
    steps = area / "disk0/a/b/r/t/.mt-steps"
    cmd = [str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r",
           "--quiet"]
    runner = subprocess.Popen(cmd, env=mt_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: steps.exists() and "start s " in steps.read_text())
    os.killpg(runner.pid, signal.SIGKILL)          # the wrapper lives in its own session
    runner.wait()
    wait_for(lambda: "\nexit " in steps.read_text())
    time.sleep(3)                                  # nobody notices for a while
    out = subprocess.run(cmd, env=mt_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    rec = records(area, mt_env)["t"]
    assert (rec["state"], rec["status"]) == ("COMPLETED", "PASS")
    assert 0.9 <= rec["run_duration"] < 2.5, rec["run_duration"]


def wait_for(condition, seconds=20):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_the_summary_and_the_listing_count_the_same_records(make_area, mt_env):
    """mt-run's summary counts tests and items; mt-list's header counts every record and
    says how many of them are those tests and items."""
    area = make_area({"up": "[ezsteps]\ns false\n",
                      "down": "[requirements]\nwaiton up\n\n[items]\nV 1 2 3\n\n"
                              "[ezsteps]\ns echo $V\n"})
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert out.returncode == 1
    assert re.search(r"^run a/b/r: 4 tests and items in [0-9.]+s: 1 FAIL, 3 PREQ_FAIL$",
                     out.stdout, re.M), out.stdout
    assert len([line for line in out.stdout.splitlines() if line.startswith("  ")]) == 4
    listed = mt("list", "runs", "--area", area, env=mt_env).stdout.splitlines()
    assert listed[0].endswith("(run-id 1, 5 records: 4 tests and items, 1 toplevel)")
    assert len(listed) == 1 + 5


def test_counts_of_one_are_singular(make_area, mt_env):
    area = make_area({"t": "[ezsteps]\ns true\n"})
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert "run a/b/r: 1 test or item in " in out.stdout
    listed = mt("list", "runs", "--area", area, env=mt_env).stdout
    assert listed.splitlines()[0].endswith("(run-id 1, 1 record)")
    cleaned = mt("clean", "--area", area, "--target", "a/b", "--runname", "r", env=mt_env)
    assert cleaned.stdout.splitlines()[0] == "a/b/r: removed 1 record", cleaned.stdout


def test_a_bad_journal_entry_is_dropped_with_a_warning(make_area, mt_env):
    """A journal is a file: an entry that is not a valid call (an id beyond SQLite's range,
    an unknown call) is dropped with one warning naming the journal; the good one lands."""
    bad_id = '{"cmd": "status", "params": {"test": {"id": 1e23}, "state": "COMPLETED", "status": "FAIL"}}'
    unknown = '{"cmd": "nosuch", "params": {}}'
    good = ('{"cmd": "comment", "params": {"test": {"target": "a/b", "runname": "r", '
            '"testname": "t"}, "comment": "from the journal"}}')
    area = make_area({"t": "[setup]\nrunscript main.sh\n"})
    script = area / "tests/t/main.sh"
    script.write_text("#!/bin/sh\nmkdir -p .mt\n" + "".join(
        f"echo '{line}' >> .mt/journal\n" for line in (bad_id, unknown, good)))
    script.chmod(0o755)
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    kept = area / "disk0/a/b/r/t/.mt/journal"
    warnings = [line for line in out.stderr.splitlines() if "dropped" in line]
    assert len(warnings) == 2, out.stderr
    assert warnings[0].startswith(f"mt-run: warning: {kept}: dropped status: malformed "
                                  "journal entry: ")
    assert "'test.id'" in warnings[0] and "nosuch" in warnings[1]
    rec = records(area, mt_env)["t"]
    assert (rec["status"], rec["comment"]) == ("PASS", "from the journal")
    assert not kept.exists()


def test_a_live_db_that_cannot_be_opened_sends_the_call_to_the_journal(tmp_path):
    """mt-test's route: when the live db cannot even be opened (SQLITE_CANTOPEN here: the
    path is a directory), the call is kept in the test's journal with a note, not lost."""
    from megatest.launch.testenv import TestIdentity
    from megatest.serve import testroute
    from megatest.testside import journal
    unopenable = tmp_path / "megatest.db"
    unopenable.mkdir()
    rundir = tmp_path / "rundir"
    rundir.mkdir()
    ident = TestIdentity(str(tmp_path), "a/b", "r", "t", "", str(unopenable), 1, 1, str(rundir))
    said = []
    record = testroute.TestRecord(ident, {}, say=said.append)
    outcome = record.call("status", state="COMPLETED", status="PASS", comment="")
    assert outcome["journaled"] and outcome["code"] == 0
    assert said and said[0].startswith("note: the live database ") and "status kept in" in said[0]
    kept = [json.loads(line) for line in open(journal.journal_path(str(rundir)))]
    assert [(k["cmd"], k["params"]["status"]) for k in kept] == [("status", "PASS")]


# ---------------------------------------------------------------- the home host's record

def test_an_area_that_cannot_take_the_home_host_record_says_so(tmp_path, mt_env, mounts):
    """Read-only area: one line naming .mt/homehost and what to do. Full area disk: the
    same, and no empty .mt/homehost left behind that the next run would believe."""
    from test_hardening_storage import tmpfs
    from conftest import write_area
    full = Path(tmpfs(mounts, tmp_path / "full", size="16m"))
    area = write_area(full / "area", {"t": "[ezsteps]\ns true\n"})
    subprocess.run(["dd", "if=/dev/zero", f"of={full}/filler", "bs=4k"], capture_output=True)
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", env=mt_env)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("mt-run: error: cannot record this host as the area's home "
                                 f"host in {area}/.mt/homehost: No space left on device")
    assert not (area / ".mt/homehost").exists()
    assert [p.name for p in (area / ".mt").iterdir()] == []
    os.unlink(full / "filler")
    ro = tmp_path / "ro"
    mounts("--bind", area, ro)
    mounts("-o", "remount,bind,ro", ro)
    out = mt("run", "--area", ro, "--target", "a/b", "--runname", "r", env=mt_env)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("mt-run: error: cannot record this host as the area's home "
                                 f"host in {ro}/.mt/homehost: Read-only file system")
    assert "make the area writable" in out.stderr
    ok = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert ok.returncode == 0, ok.stderr


# ---------------------------------------------------------------- names and numbers

def test_control_characters_in_a_target_or_run_name_are_refused(make_area, mt_env):
    """A control character would become part of a directory name: exit 2, nothing made."""
    area = make_area({"t": "[ezsteps]\ns true\n"})
    for target, runname, named in (("a/b\x01", "r", "target"), ("a/b", "r\x07", "run name")):
        out = mt("run", "--area", area, "--target", target, "--runname", runname, env=mt_env)
        assert out.returncode == 2 and named in out.stderr and "control character" in out.stderr
    assert not (area / "disk0/a").exists()


def test_mt_sync_refuses_nan_and_infinite_seconds(make_area, mt_env):
    area = make_area({"t": "[ezsteps]\ns true\n"})
    for option, value in (("--interval", "nan"), ("--interval", "inf"), ("--for", "nan")):
        out = mt("sync", "--area", area, option, value, env=mt_env, timeout=20)
        assert out.returncode == 2, (option, value, out.stdout, out.stderr)
        assert f"mt-sync: error: {option} must be a positive number of seconds, got {value!r}" \
            in out.stderr


# ---------------------------------------------------------------- a removed run started again

def test_a_removed_run_started_again_waits_for_its_iterated_tests(make_area, mt_env):
    """mt-clean leaves every record DELETED; the same mt-run again starts the toplevel of an
    iterated test over too, so a test waiting on it neither fails at once ('upstream it
    failed') nor starts before its items end."""
    area = make_area({"it": "[items]\nV 1 2\n\n[ezsteps]\ns sleep 1.2\n",
                      "after": "[requirements]\nwaiton it\n\n[ezsteps]\ns true\n"})
    args = ("--area", area, "--target", "a/b", "--runname", "r", "--quiet")
    assert mt("run", *args, env=mt_env).returncode == 0
    assert mt("clean", "--area", area, "--target", "a/b", "--runname", "r",
              env=mt_env).returncode == 0
    again = mt("run", *args, env=mt_env)
    assert again.returncode == 0, again.stdout + again.stderr
    recs = records(area, mt_env)
    assert {k: (r["state"], r["status"]) for k, r in recs.items()} == {
        k: ("COMPLETED", "PASS") for k in ("after", "it", "it/1", "it/2")}
    items_end = max(r["event_time"] + r["run_duration"] for k, r in recs.items() if k.startswith("it/"))
    # event_time is whole seconds: items lasting 1.2 s keep a start at once a second early
    assert recs["after"]["event_time"] >= math.floor(items_end - 0.05)


# ---------------------------------------------------------------- a damaged database

def test_a_damaged_live_db_is_one_line_and_a_moved_one_is_rebuilt(make_area, mt_env):
    """Garbage in the live db: mt-run and mt-list say it is damaged and what to do (exit 2),
    never a traceback nor an empty listing; moved aside, the next mt-run rebuilds it from
    megatest.db with the earlier run in it."""
    from test_hardening_storage import live_db
    area = make_area({"t": "[ezsteps]\ns true\n"})
    assert mt("run", "--area", area, "--target", "a/b", "--runname", "r1", "--quiet",
              env=mt_env).returncode == 0
    live = live_db(mt_env, area)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(live + suffix):
            os.unlink(live + suffix)
    with open(live, "r+b") as f:
        f.seek(1024)
        f.write(os.urandom(4096))
    for command in (("run", "--target", "a/b", "--runname", "r2"), ("list", "runs")):
        out = mt(command[0], "--area", area, *command[1:], env=mt_env)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.startswith(f"mt-{command[0]}: error: the database {live} is damaged ")
        assert "move it aside" in out.stderr
    os.rename(live, live + ".damaged")
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r2", "--quiet", env=mt_env)
    assert out.returncode == 0, out.stderr
    assert [r["runname"] for r in runs_json(area, mt_env)] == ["r1", "r2"]
