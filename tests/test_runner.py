"""mt-run end to end on real areas: the behaviours of behaviour.md §17 that a user sees."""
import os
import sqlite3
import time

import pytest

from conftest import mt


def db_rows(area, sql, args=()):
    """Read the area's shared megatest.db, as any other tool would."""
    conn = sqlite3.connect(f"file:{area}/megatest.db?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def results(area):
    """{'test' or 'test/item': (state, status, comment)} of all runs."""
    rows = db_rows(area, "SELECT testname, item_path, state, status, comment FROM tests "
                         "WHERE state != 'DELETED'")
    return {(t + "/" + i if i else t): (s, st, c) for t, i, s, st, c in rows}


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return ""


def run(area, env, *args, target="a/b", runname="r"):
    return mt("run", "--area", area, "--target", target, "--runname", runname, "--quiet", *args, env=env)


def test_ezstep_pass_makes_dirs_links_logs_and_steps(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 echo hi\n"})
    out = run(area, mt_env)
    assert out.returncode == 0, out.stdout + out.stderr
    phys = area / "disk0/a/b/r/t1"
    link = area / "lt/a/b/r/t1"
    assert (phys / "s1.log").read_text() == "hi\n"
    assert os.path.islink(link) and os.path.realpath(link) == str(phys)
    assert results(area)["t1"][:2] == ("COMPLETED", "PASS")
    steps = db_rows(area, "SELECT stepname, state, status FROM test_steps ORDER BY id")
    assert steps == [("s1", "start", "n/a"), ("s1", "end", "0")]
    tasks = db_rows(area, "SELECT kind, state, exit_code FROM tasks ORDER BY id")
    assert tasks == [("runner", "done", 0), ("job", "done", 0)]


def test_step_environment(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 env\n"},
                     runconfigs="[default]\nV1 $HOME/x\nEMPTY\n[a/b]\nV2 ${V1}/y\n",
                     config="[env-override]\nP $HOME/bin\n")
    assert run(area, mt_env).returncode == 0
    env = dict(line.split("=", 1) for line in (area / "disk0/a/b/r/t1/s1.log").read_text().splitlines()
               if "=" in line)
    home = mt_env["HOME"]
    assert env["MT_TARGET"] == "a/b" and env["MT_RUNNAME"] == "r" and env["MT_TEST_NAME"] == "t1"
    assert env["MT_ITEMPATH"] == "" and env["arch"] == "a" and env["os"] == "b"
    assert env["MT_RUN_AREA_HOME"] == str(area) and env["MT_LINKTREE"] == str(area / "lt")
    assert env["MT_TEST_RUN_DIR"] == str(area / "lt/a/b/r/t1")
    assert env["V1"] == f"{home}/x" and env["V2"] == f"{home}/x/y" and env["EMPTY"] == ""
    assert env["P"] == f"{home}/bin"
    sh = (area / "disk0/a/b/r/t1/megatest.sh").read_text()
    assert 'export MT_TEST_NAME="t1"' in sh and '# export HOME=' in sh


def test_second_run_keeps_passed_records(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 true\n"})
    assert run(area, mt_env).returncode == 0
    before = db_rows(area, "SELECT id, event_time FROM tests")
    assert run(area, mt_env).returncode == 0
    assert db_rows(area, "SELECT id, event_time FROM tests") == before
    assert db_rows(area, "SELECT count(*) FROM runs") == [(1,)]


def test_failing_step_stops_the_steps(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 false\ns2 touch x\n"})
    out = run(area, mt_env)
    assert out.returncode == 1
    state, status, comment = results(area)["t1"]
    assert (state, status) == ("COMPLETED", "FAIL") and "s1" in comment
    assert not (area / "disk0/a/b/r/t1/x").exists()
    assert db_rows(area, "SELECT count(*) FROM test_steps WHERE stepname='s2'") == [(0,)]
    assert "t1" in out.stdout and "s1.log" in out.stdout


def test_runscript_exit_codes(make_area, mt_env):
    tests = {f"rs{n}": f"[setup]\nrunscript run.sh\n" for n in range(8)}
    area = make_area(tests, max_jobs=8)
    for n in range(8):
        script = area / "tests" / f"rs{n}" / "run.sh"
        script.write_text(f"#!/bin/sh\nexit {n}\n")
    area.joinpath("tests/missing").mkdir()
    area.joinpath("tests/missing/testconfig").write_text("[setup]\nrunscript nosuchscript.sh\n")
    assert run(area, mt_env).returncode == 1
    got = {k: v[1] for k, v in results(area).items()}
    assert [got[f"rs{n}"] for n in range(8)] == ["PASS", "FAIL", "WARN", "CHECK", "WAIVED", "ABORT",
                                                  "SKIP", "FAIL"]
    assert got["missing"] == "FAIL"


def test_items_cross_product_and_table(make_area, mt_env):
    area = make_area({
        "t": "[items]\nA 1 2\nB x y\n[ezsteps]\ns1 echo $A-$B-$MT_ITEMPATH\n",
        "tab": "[itemstable]\nS p q s\nZ 1 2\n[ezsteps]\ns1 echo $S$Z\n",
    })
    assert run(area, mt_env).returncode == 0
    res = results(area)
    assert {k for k in res if k.startswith("t/")} == {"t/1/x", "t/1/y", "t/2/x", "t/2/y"}
    assert {k for k in res if k.startswith("tab/")} == {"tab/p/1", "tab/q/2", "tab/s/-"}
    assert (area / "disk0/a/b/r/t/2/y/s1.log").read_text() == "2-y-2/y\n"
    assert res["t"][:2] == ("COMPLETED", "PASS")


def test_zero_items_discards_the_chain(make_area, mt_env):
    area = make_area({
        "z": "[items]\nK\n[ezsteps]\ns1 true\n",
        "w1": "[requirements]\nwaiton z\n[ezsteps]\ns1 true\n",
        "w2": "[requirements]\nwaiton w1\n[ezsteps]\ns1 true\n",
    })
    start = time.time()
    out = run(area, mt_env)
    assert out.returncode == 1
    assert time.time() - start < 10
    res = results(area)
    assert res["z"][:2] == ("NOT_STARTED", "ZERO_ITEMS")
    assert res["w1"][:2] == res["w2"][:2] == ("NOT_STARTED", "PREQ_DISCARDED")
    assert not (area / "disk0/a/b/r/w1").exists()


def test_late_expansion_from_upstream_file(make_area, mt_env):
    area = make_area({
        "producer": "[ezsteps]\ns1 echo 1 2 3 4 5 > list.txt\n",
        "consumer": "[requirements]\nwaiton producer\n[items]\n"
                    "N [system cat $MT_LINKTREE/$MT_TARGET/$MT_RUNNAME/producer/list.txt]\n"
                    "[ezsteps]\ns1 echo $N\n",
    })
    assert run(area, mt_env).returncode == 0
    res = results(area)
    assert sorted(k for k in res if k.startswith("consumer/")) == [f"consumer/{n}" for n in "12345"]


def test_failed_upstream_blocks_downstream(make_area, mt_env):
    area = make_area({
        "A": "[ezsteps]\ns1 false\n",
        "B": "[requirements]\nwaiton A\n[ezsteps]\ns1 true\n",
        "C": "[requirements]\nwaiton B\n[ezsteps]\ns1 true\n",
        "agg": "[requirements]\nwaiton C\nmode toplevel\n[ezsteps]\ns1 true\n",
    })
    assert run(area, mt_env).returncode == 1
    res = results(area)
    assert res["B"][:2] == ("NOT_STARTED", "PREQ_FAIL") and "A" in res["B"][2]
    assert res["C"][:2] == ("NOT_STARTED", "PREQ_DISCARDED")
    assert res["agg"][:2] == ("COMPLETED", "PASS")
    assert not (area / "disk0/a/b/r/B").exists()


def test_testpatt_pulls_in_upstream(make_area, mt_env):
    area = make_area({"A": "[ezsteps]\ns1 true\n",
                      "B": "[requirements]\nwaiton A\n[ezsteps]\ns1 true\n",
                      "other": "[ezsteps]\ns1 true\n"})
    assert run(area, mt_env, "--testpatt", "B").returncode == 0
    assert set(results(area)) == {"A", "B"}


def test_itemwait_only_the_failed_item_blocks(make_area, mt_env):
    area = make_area({
        "up": "[items]\nN 1 2 3\n[ezsteps]\ns1 test $N != 2\n",
        "down": "[requirements]\nwaiton up\nmode itemwait\n[items]\nN 1 2 3\n[ezsteps]\ns1 true\n",
    })
    assert run(area, mt_env).returncode == 1
    res = results(area)
    assert res["down/1"][:2] == res["down/3"][:2] == ("COMPLETED", "PASS")
    assert res["down/2"][:2] == ("NOT_STARTED", "PREQ_FAIL")
    assert res["down"][1] != "PASS"


def test_itemwait_chain_selects_one_item_each(make_area, mt_env):
    items = "[items]\nI " + " ".join(f"item.{n}" for n in range(11)) + "\n"
    tests = {"t0": items + "[ezsteps]\ns1 true\n"}
    for n in range(1, 4):
        tests[f"t{n}"] = f"[requirements]\nwaiton t{n-1}\nmode itemwait\n" + items + "[ezsteps]\ns1 true\n"
    tests["s"] = "[requirements]\nwaiton t3\nmode itemwait\n" + items + "[ezsteps]\ns1 true\n"
    area = make_area(tests)
    assert run(area, mt_env, "--testpatt", "s/item.1").returncode == 0
    items_run = sorted(k for k in results(area) if "/" in k)
    assert items_run == ["s/item.1", "t0/item.1", "t1/item.1", "t2/item.1", "t3/item.1"]


def test_waiton_cycle_is_refused_before_anything_runs(make_area, mt_env):
    area = make_area({"A": "[requirements]\nwaiton B\n[ezsteps]\ns1 true\n",
                      "B": "[requirements]\nwaiton A\n[ezsteps]\ns1 true\n"})
    out = run(area, mt_env)
    assert out.returncode == 2
    assert "cycle" in out.stderr and "A" in out.stderr and "Traceback" not in out.stderr
    assert not (area / "megatest.db").exists() and not (area / "disk0/a").exists()


def test_unknown_and_self_waiton_warn_and_run(make_area, mt_env):
    area = make_area({"A": "[requirements]\nwaiton nosuch A\n[ezsteps]\ns1 true\n"})
    out = run(area, mt_env)
    assert out.returncode == 0
    assert out.stderr.count("ERROR:") == 1 and "nosuch" in out.stderr
    assert "itself" in out.stderr
    assert results(area)["A"][:2] == ("COMPLETED", "PASS")


def test_priority_orders_launches(make_area, mt_env):
    area = make_area({"low": "[requirements]\npriority 1\n[ezsteps]\ns1 date +%s.%N > t\n",
                      "high": "[requirements]\npriority 10\n[ezsteps]\ns1 date +%s.%N > t\n"},
                     max_jobs=1)
    assert run(area, mt_env).returncode == 0
    low = float((area / "disk0/a/b/r/low/t").read_text())
    high = float((area / "disk0/a/b/r/high/t").read_text())
    assert high < low


def test_concurrency_limits_hold_across_runs(make_area, mt_env, tmp_path):
    log = tmp_path / "spans"
    step = f"[ezsteps]\ns1 echo start $(date +%s.%N) >> {log}; sleep 0.6; echo end $(date +%s.%N) >> {log}\n"
    tests = {f"t{n}": step for n in range(6)}
    tests.update({f"g{n}": "[test_meta]\njobgroup lic\n" + step for n in range(4)})
    area = make_area(tests, max_jobs=3, config="[jobgroups]\nlic 1\n")
    import subprocess
    from conftest import BIN
    cmd = [str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--quiet"]
    procs = [subprocess.Popen(cmd + ["--runname", r], env=mt_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for r in ("r1", "r2")]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    events = sorted((float(t), 1 if kind == "start" else -1) for kind, t in
                    (line.split() for line in log.read_text().splitlines()))
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    assert len(events) == 40 and peak <= 3


def test_runtime_limit_kills_the_whole_tree(make_area, mt_env):
    area = make_area({"slow": "[requirements]\nruntimelim 2s\n[ezsteps]\ns1 sleep 60 & sleep 61\n"})
    start = time.time()
    assert run(area, mt_env).returncode == 1
    assert time.time() - start < 10
    assert results(area)["slow"][:2] == ("KILLED", "KILLED")
    left = os.popen("pgrep -f 'sleep 6[01]'").read().split()
    assert left == []


def test_rerun_options(make_area, mt_env):
    area = make_area({"p": "[ezsteps]\ns1 true\n",
                      "f": "[ezsteps]\ns1 echo $RANDOM$RANDOM > mark; test -e /nonexistent\n",
                      "w": "[setup]\nrunscript w.sh\n"})
    (area / "tests/w/w.sh").write_text("#!/bin/sh\nexit 2\n")
    assert run(area, mt_env).returncode == 1
    times = dict(db_rows(area, "SELECT testname, event_time FROM tests"))
    mark = (area / "disk0/a/b/r/f/mark").read_text()
    run(area, mt_env)
    assert dict(db_rows(area, "SELECT testname, event_time FROM tests")) == times
    run(area, mt_env, "--rerun", "FAIL")
    after = dict(db_rows(area, "SELECT testname, event_time FROM tests"))
    assert after["f"] != times["f"] and after["p"] == times["p"] and after["w"] == times["w"]
    assert (area / "disk0/a/b/r/f/mark").read_text() != mark
    run(area, mt_env, "--rerun-all")
    final = dict(db_rows(area, "SELECT testname, event_time FROM tests"))
    assert all(final[t] != after[t] for t in ("p", "f", "w"))


def test_rerun_clean_resets_only_bad_records(make_area, mt_env):
    codes = {"KILLED": None, "FAIL": 1, "ABORT": 5, "CHECK": 3, "WARN": 2, "WAIVED": 4, "SKIP": 6}
    items = " ".join(codes)
    area = make_area({"t": f"[items]\nX {items}\n[setup]\nrunscript r.sh\n"}, max_jobs=8)
    (area / "tests/t/r.sh").write_text("#!/bin/sh\ncase $X in KILLED) sleep 30;; FAIL) exit 1;; "
                                       "ABORT) exit 5;; CHECK) exit 3;; WARN) exit 2;; WAIVED) exit 4;; "
                                       "SKIP) exit 6;; esac\n")
    area.joinpath("megatest.config").write_text(area.joinpath("megatest.config").read_text() +
                                                 "\n[setup]\nmax_concurrent_jobs 8\n")
    (area / "tests/t/testconfig").write_text(f"[requirements]\nruntimelim 1s\n[items]\nX {items}\n"
                                             "[setup]\nrunscript r.sh\n")
    run(area, mt_env)
    before = dict(db_rows(area, "SELECT item_path, attempt FROM tests WHERE item_path != ''"))
    assert results(area)["t/KILLED"][:2] == ("KILLED", "KILLED")
    run(area, mt_env, "--rerun-clean")
    after = dict(db_rows(area, "SELECT item_path, attempt FROM tests WHERE item_path != ''"))
    rerun = {k for k in after if after[k] != before[k]}
    assert rerun == {"KILLED", "FAIL", "ABORT", "CHECK"}


def test_skip_rules(make_area, mt_env, tmp_path):
    flag = tmp_path / "present"
    flag.write_text("")
    area = make_area({"s": f"[skip]\nfileexists {flag}\n[ezsteps]\ns1 true\n"})
    assert run(area, mt_env).returncode == 0
    state, status, comment = results(area)["s"]
    assert (state, status) == ("COMPLETED", "SKIP") and str(flag) in comment
    assert not (area / "disk0/a/b/r/s").exists()


def test_killed_runner_resumes_without_running_twice(make_area, mt_env, tmp_path):
    import signal
    import subprocess
    from conftest import BIN
    counter = tmp_path / "count"
    step = f"[ezsteps]\ns1 echo x >> {counter}; sleep 2\n"
    area = make_area({"a": step, "b": "[requirements]\nwaiton a\n" + step, "c": step}, max_jobs=4)
    cmd = [str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r", "--quiet"]
    p = subprocess.Popen(cmd, env=mt_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline and not (counter.exists() and len(counter.read_text().split()) >= 2):
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    out = subprocess.run(cmd, env=mt_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(counter.read_text().split()) == 3
    assert all(v[:2] == ("COMPLETED", "PASS") for v in results(area).values())


def test_dead_test_is_detected(make_area, mt_env):
    area = make_area({"d": "[ezsteps]\ns1 kill -9 $(sed -n 's/^pid \\([0-9]*\\).*/\\1/p' .mt-steps); sleep 5\n",
                      "after": "[requirements]\nwaiton d\n[ezsteps]\ns1 true\n"})
    out = run(area, mt_env)
    assert out.returncode == 1
    res = results(area)
    assert res["d"][:2] == ("COMPLETED", "DEAD")
    assert res["after"][:2] == ("NOT_STARTED", "PREQ_FAIL")


# ------------------------------------------------------------------ bad input: exit 2, nothing written

def assert_nothing_written(area):
    assert not (area / "megatest.db").exists()
    assert not (area / "disk0/a").exists()


@pytest.mark.parametrize("target", ["a", "a/b/c", "a/", "a/%", "../b", "a/.."])
def test_bad_target(make_area, mt_env, target):
    area = make_area({"t1": "[ezsteps]\ns1 true\n"})
    out = run(area, mt_env, target=target)
    assert out.returncode == 2 and "target" in out.stderr and "Traceback" not in out.stderr
    assert_nothing_written(area)


def test_reserved_key_name(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 true\n"}, keys=("arch", "status"))
    out = run(area, mt_env)
    assert out.returncode == 2 and "megatest.config:3:" in out.stderr and "status" in out.stderr
    assert_nothing_written(area)


def test_scheme_outside_the_subset_names_file_and_line(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 true\n"})
    text = (area / "megatest.config").read_text().splitlines()
    text.insert(6, "X #{scheme (system \"true\")}")
    (area / "megatest.config").write_text("\n".join(text) + "\n")
    for cmd in (["run", "--area", area, "--target", "a/b", "--runname", "r"], ["list", "config", "--area", area]):
        out = mt(*cmd, env=mt_env)
        assert out.returncode == 2 and "megatest.config:7:" in out.stderr, out.stderr
    assert_nothing_written(area)


def test_config_syntax_error(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 true\n[oops\n"})
    out = run(area, mt_env)
    assert out.returncode == 2 and "testconfig:3:" in out.stderr
    assert_nothing_written(area)


@pytest.mark.parametrize("value", ["..", "../../etc", "a;rm", "$(touch x)", "/abs"])
def test_unsafe_item_values_are_refused(make_area, mt_env, value):
    area = make_area({"t1": f"[items]\nV ok {value}\n[ezsteps]\ns1 true\n"})
    out = run(area, mt_env)
    assert out.returncode == 2 and "testconfig" in out.stderr and "Traceback" not in out.stderr
    assert_nothing_written(area)


def test_test_dir_without_testconfig(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 true\n"})
    (area / "tests/empty").mkdir()
    out = run(area, mt_env, "--testpatt", "empty")
    assert out.returncode == 2 and "tests/empty has no testconfig" in out.stderr
    assert_nothing_written(area)


def test_missing_area(mt_env, tmp_path):
    out = mt("run", "--area", tmp_path / "nope", "--target", "a/b", "--runname", "r", env=mt_env)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_usage_error_names_argument(mt_env, tmp_path):
    out = mt("run", "--bogus", env=mt_env)
    assert out.returncode == 2 and "--bogus" in out.stderr and "Traceback" not in out.stderr
    out = mt("run", "--help", env=mt_env)
    assert out.returncode == 0 and "--testpatt" in out.stdout


# ------------------------------------------------------------------ the test side, through mt-run

def test_script_status_wins_over_exit_code(make_area, mt_env):
    area = make_area({"pass1": "[setup]\nrunscript r.sh\n", "weird": "[setup]\nrunscript r.sh\n"})
    (area / "tests/pass1/r.sh").write_text("#!/bin/sh\nmt-test status COMPLETED PASS\nexit 1\n")
    (area / "tests/weird/r.sh").write_text("#!/bin/sh\nmt-test status WEIRD FAIL\nexit 1\n")
    run(area, mt_env)
    res = results(area)
    assert res["pass1"][:2] == ("COMPLETED", "PASS")
    assert res["weird"][:2] == ("WEIRD", "FAIL")


def test_auto_status_from_data(make_area, mt_env):
    """A runscript leaving its record RUNNING/AUTO: the end of the test resolves AUTO from the data."""
    area = make_area({"d": "[setup]\nrunscript r.sh\n"})
    (area / "tests/d/r.sh").write_text("#!/bin/sh\nmt-test data load data.csv && mt-test status RUNNING AUTO\n")
    (area / "tests/d/data.csv").write_text("c,v,1.2,1.3,0.1\nc,w,1.2,1.9,>\n")
    assert run(area, mt_env).returncode == 1
    assert results(area)["d"][:2] == ("COMPLETED", "FAIL")
    assert db_rows(area, "SELECT pass_count, fail_count FROM tests WHERE testname='d'") == [(1, 1)]


def test_ezstep_result_replaces_what_a_script_set_during_the_step(make_area, mt_env):
    """As Megatest (fullrun's ezlog_fail_then_pass): after each ezstep the record is set from the
    step's result, over a COMPLETED/FAIL the step's script set; failed data does not override."""
    area = make_area({"d": "[ezsteps]\ns1 mt-test data load data.csv && mt-test status COMPLETED AUTO\n"
                           "s2 true\n",
                      "r": "[setup]\nrunscript r.sh\n"})
    (area / "tests/d/data.csv").write_text("c,v,1.2,1.2,<\n")
    (area / "tests/r/r.sh").write_text("#!/bin/sh\nmt-test status COMPLETED FAIL\nexit 0\n")
    run(area, mt_env)
    res = results(area)
    assert res["d"][:2] == ("COMPLETED", "PASS")
    assert res["r"][:2] == ("COMPLETED", "FAIL")     # a runscript's own final state is kept
    assert db_rows(area, "SELECT pass_count, fail_count FROM tests WHERE testname='d'") == [(0, 1)]


def test_trigger_fires_on_completion(make_area, mt_env, tmp_path):
    out = tmp_path / "trig"
    area = make_area({"t": f"[ezsteps]\ns1 true\n[triggers]\nCOMPLETED/PASS echo fired >> {out}; echo\n"})
    assert run(area, mt_env).returncode == 0
    deadline = time.time() + 5
    while time.time() < deadline and not out.exists():
        time.sleep(0.05)
    assert out.read_text().startswith("fired")


def test_interrupt_stops_launching_and_resume_finishes(make_area, mt_env):
    import signal
    import subprocess
    from conftest import BIN
    area = make_area({"slow": "[ezsteps]\ns1 sleep 2\n",
                      "next": "[requirements]\nwaiton slow\n[ezsteps]\ns1 true\n"})
    cmd = [str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r", "--quiet"]
    p = subprocess.Popen(cmd, env=mt_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and "pid " not in _read(area / "disk0/a/b/r/slow/.mt-steps"):
        time.sleep(0.05)
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130, out + err
    assert "1 test still running" in out and "Traceback" not in err
    assert not (area / "disk0/a/b/r/next").exists()
    again = subprocess.run(cmd, env=mt_env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    res = results(area)
    assert res["slow"][:2] == res["next"][:2] == ("COMPLETED", "PASS")
    assert db_rows(area, "SELECT attempt FROM tests WHERE testname='slow'") == [(0,)]


def test_no_wait_returns_and_run_finishes_in_background(make_area, mt_env):
    area = make_area({"slow": "[ezsteps]\ns1 sleep 1\n"})
    start = time.time()
    out = run(area, mt_env, "--no-wait")
    assert out.returncode == 0 and "background" in out.stdout
    assert time.time() - start < 1.0
    deadline = time.time() + 20
    while time.time() < deadline:
        if (area / "megatest.db").exists() and results(area).get("slow", ("",))[0] == "COMPLETED":
            break
        time.sleep(0.1)
    assert results(area)["slow"][:2] == ("COMPLETED", "PASS")


def test_itemmap_and_item_level_pipelining(make_area, mt_env):
    area = make_area({
        "up": "[items]\nK 1 2 3\n[ezsteps]\ns1 sleep $((K == 3 ? 2 : 0)); date +%s.%N > done\n",
        "mid": "[requirements]\nwaiton up\nmode itemwait\n[items]\nK 1 2 3\n"
               "[ezsteps]\ns1 date +%s.%N > done; test $K != 2\n",
        "down": "[requirements]\nwaiton mid\nmode itemwait\nitemmap .*/\n[items]\nX blah\nK 1 2 3\n"
                "[ezsteps]\ns1 true\n",
    }, max_jobs=6)
    assert run(area, mt_env).returncode == 1
    res = results(area)
    assert res["down/blah/1"][:2] == res["down/blah/3"][:2] == ("COMPLETED", "PASS")
    assert res["down/blah/2"][:2] == ("NOT_STARTED", "PREQ_FAIL")
    mid1 = float((area / "disk0/a/b/r/mid/1/done").read_text())
    up3 = float((area / "disk0/a/b/r/up/3/done").read_text())
    assert mid1 < up3


def test_allow_auto_rerun(make_area, mt_env):
    area = make_area({"f": "[ezsteps]\ns1 false\n"}, config='[setup]\nallow-auto-rerun "COMPLETED/FAIL"\n')
    run(area, mt_env)
    assert run(area, mt_env).returncode == 1
    assert db_rows(area, "SELECT attempt FROM tests WHERE testname='f'") == [(1,)]


def test_normal_waiter_on_an_iterated_test(make_area, mt_env):
    area = make_area({"up": "[items]\nN 1 2 3\n[ezsteps]\ns1 sleep 0.$N\n",
                      "down": "[requirements]\nwaiton up\n[ezsteps]\ns1 true\n",
                      "bad": "[items]\nN 1 2\n[ezsteps]\ns1 test $N = 1\n",
                      "after_bad": "[requirements]\nwaiton bad\n[ezsteps]\ns1 true\n"})
    assert run(area, mt_env).returncode == 1
    res = results(area)
    assert res["up"][:2] == res["down"][:2] == ("COMPLETED", "PASS")
    assert res["bad"][:2] == ("COMPLETED", "FAIL")
    assert res["after_bad"][:2] == ("NOT_STARTED", "PREQ_FAIL")


def test_a_second_wrapper_attempt_replaces_the_first(tmp_path):
    from megatest.launch.progress import read_progress
    (tmp_path / ".mt-steps").write_text("pid 10\nstart s1 1.0\nend s1 143 step 2.0\n"
                                        "pid 11\nstart s1 3.0\nend s1 0 step 4.0\nexit 0\n")
    p = read_progress(str(tmp_path))
    assert (p.pid, p.exit_code, p.worst()) == (11, 0, ("PASS", ""))
    assert p.ends == [("s1", 0, "step", 4.0)]


def test_items_launch_in_expansion_order(make_area, mt_env, tmp_path):
    order = tmp_path / "order"
    area = make_area({"t": f"[items]\nN 3 20 100 1\n[ezsteps]\ns1 echo $N >> {order}\n"}, max_jobs=1)
    assert run(area, mt_env).returncode == 0
    assert order.read_text().split() == ["3", "20", "100", "1"]
