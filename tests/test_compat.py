"""A Megatest-format area (tests/compat/area) run as a Megatest user runs it: `megatest -run`
from inside the area, scripts calling $MT_MEGATEST, logpro checking logs, #{scheme} in the
configs. Its expected results are read back both through `megatest -list-runs` (Megatest's
text) and through `mt-list runs --json`."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN

AREA = Path(__file__).resolve().parent / "compat" / "area"
TARGET, RUNNAME = "linux/fast", "compat"

# test or test(itempath) -> (state, status), as Megatest would leave them
EXPECTED = {
    "exit_pass": ("COMPLETED", "PASS"),
    "exit_fail": ("COMPLETED", "FAIL"),
    "exit_warn": ("COMPLETED", "WARN"),
    "ez_plain": ("COMPLETED", "PASS"),
    "ez_logpro_pass": ("COMPLETED", "PASS"),
    "ez_logpro_warn": ("COMPLETED", "WARN"),
    "ez_logpro_fail": ("COMPLETED", "FAIL"),
    "items_cross": ("COMPLETED", "PASS"),
    "items_cross(1/x)": ("COMPLETED", "PASS"),
    "items_cross(1/y)": ("COMPLETED", "PASS"),
    "items_cross(2/x)": ("COMPLETED", "PASS"),
    "items_cross(2/y)": ("COMPLETED", "PASS"),
    "items_table": ("COMPLETED", "FAIL"),
    "items_table(ntran/layout)": ("COMPLETED", "PASS"),
    "items_table(ptran/schematic)": ("COMPLETED", "FAIL"),
    "items_follow": ("COMPLETED", "PREQ_FAIL"),
    "items_follow(ntran/layout)": ("COMPLETED", "PASS"),
    "items_follow(ptran/schematic)": ("NOT_STARTED", "PREQ_FAIL"),
    "skip_me": ("COMPLETED", "SKIP"),
    "too_slow": ("KILLED", "KILLED"),
    "data_tol": ("COMPLETED", "PASS"),
    "data_out_of_tol": ("COMPLETED", "FAIL"),
    "script_calls": ("COMPLETED", "PASS"),
    "zero_items": ("NOT_STARTED", "ZERO_ITEMS"),
    "after_zero": ("NOT_STARTED", "PREQ_DISCARDED"),
    "after_after_zero": ("NOT_STARTED", "PREQ_DISCARDED"),
    "producer": ("COMPLETED", "PASS"),
    "consumer": ("COMPLETED", "PASS"),
    "consumer(small)": ("COMPLETED", "PASS"),
    "consumer(large)": ("COMPLETED", "PASS"),
    "scheme_vals": ("COMPLETED", "PASS"),
}

LIST_LINE = re.compile(r"^  Test: (\S+)\s+State: (\S+)\s+Status: (\S+)\s+Runtime:")


@pytest.fixture(scope="module")
def compat_run(tmp_path_factory):
    """The area copied and run once with `megatest -run` (about 10 s: too_slow is killed at 2 s)."""
    if shutil.which("logpro", path=str(BIN)) is None or shutil.which("megatest", path=str(BIN)) is None:
        pytest.fail("megatest and logpro must be installed in .venv/bin (make)")
    root = tmp_path_factory.mktemp("compat")
    area = root / "area"
    shutil.copytree(AREA, area, symlinks=True)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "USER": "compat",
           "MT_TMPDIR": str(root / "livedb")}
    out = megatest(area, env, "-run", "-target", TARGET, "-runname", RUNNAME, "-testpatt", "%", timeout=300)
    return area, env, out


def megatest(area, env, *args, timeout=60):
    return subprocess.run([str(BIN / "megatest"), *args], cwd=area, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_run_ends_and_says_some_tests_failed(compat_run):
    _, _, out = compat_run
    assert "Traceback" not in out.stderr
    assert out.returncode in (0, 1), out.stderr


def test_megatest_list_runs_text_shows_every_expected_result(compat_run):
    area, env, _ = compat_run
    out = megatest(area, env, "-list-runs", RUNNAME, "-target", TARGET)
    assert out.returncode == 0, out.stderr
    assert re.search(rf"^Run: {TARGET}/{RUNNAME} platform: linux variant: fast id: \d+ runname: {RUNNAME} "
                     r"state: \S+ status: \S+ owner: compat ", out.stdout, re.M), out.stdout
    got = {m.group(1): (m.group(2), m.group(3)) for m in map(LIST_LINE.match, out.stdout.splitlines()) if m}
    assert got == EXPECTED


def test_mt_list_json_agrees(compat_run):
    area, env, _ = compat_run
    out = subprocess.run([str(BIN / "mt-list"), "runs", "--json", "--area", str(area)], env=env,
                         capture_output=True, text=True, timeout=60)
    runs = json.loads(out.stdout)
    got = {t["testname"] + (f"({t['item_path']})" if t["item_path"] else ""): (t["state"], t["status"])
           for t in runs[0]["tests"]}
    assert got == EXPECTED


def test_script_calls_recorded_their_steps_data_and_comment(compat_run):
    area, env, _ = compat_run
    out = subprocess.run([str(BIN / "mt-list"), "runs", "--json", "--area", str(area), "--testpatt",
                          "script_calls,data_tol"], env=env, capture_output=True, text=True, timeout=60)
    tests = {t["testname"]: t for t in json.loads(out.stdout)[0]["tests"]}
    assert tests["script_calls"]["comment"] == "all steps done"
    rundir = Path(tests["script_calls"]["rundir"])
    assert (rundir / "count.html").is_file() and (rundir / "count.log").read_text() == "2\n"


def test_logpro_rules_from_the_logpro_section_were_written_and_used(compat_run):
    area, _, _ = compat_run
    rundir = area / "links" / TARGET / RUNNAME / "ez_logpro_warn"
    assert "expect:warning" in (rundir / "lint.logpro").read_text()
    assert (rundir / "lint.html").is_file()
    assert not (area / "links" / TARGET / RUNNAME / "ez_logpro_fail" / "after.log").exists()


def test_env_override_reached_testconfigs_and_scheme_ran(compat_run):
    area, _, _ = compat_run
    assert (area / "runs").is_dir()                               # made by #{scheme (create-directory ...)}
    assert (area / f"produced.{RUNNAME}").is_file()
    log = area / "links" / TARGET / RUNNAME / "consumer" / "large" / "consume.log"
    assert log.read_text() == "large\n"
