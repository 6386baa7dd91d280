"""Launchers: command templates ([jobtools] launcher, [launchers] + [host-types]) and mt-exec."""
import sqlite3
import time

from conftest import mt, records


def run(area, env, *args):
    return mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", *args, env=env)


def jobs(area):
    conn = sqlite3.connect(f"file:{area}/megatest.db?mode=ro", uri=True)
    try:
        return conn.execute("SELECT t.testname, k.action, k.state FROM tasks k JOIN tests t "
                            "ON t.id = k.test_id WHERE k.kind='job' ORDER BY t.testname").fetchall()
    finally:
        conn.close()


def test_template_launcher_runs_tests_through_mt_exec(make_area, mt_env):
    area = make_area({"t": "[items]\nN 1 2\n[ezsteps]\ns1 echo $N $MT_TEST_NAME\n",
                      "u": "[requirements]\nwaiton t\n[ezsteps]\ns1 true\n"},
                     config="[jobtools]\nlauncher env LAUNCHED_BY=template\n")
    out = run(area, mt_env)
    assert out.returncode == 0, out.stdout + out.stderr
    recs = records(area, mt_env)
    assert all((r["state"], r["status"]) == ("COMPLETED", "PASS") for r in recs.values())
    assert (area / "disk0/a/b/r/t/2/s1.log").read_text() == "2 t\n"
    assert set(jobs(area)) == {("t", "template", "done"), ("u", "template", "done")}
    log = (area / "disk0/a/b/r/u/mt_launch.log").read_text()
    assert log.startswith("launch: /bin/sh -c 'env LAUNCHED_BY=template ") and "mt-exec" in log


def test_flexi_launcher_and_a_failing_launch(make_area, mt_env):
    area = make_area({"good": "[ezsteps]\ns1 true\n", "bad": "[ezsteps]\ns1 true\n"},
                     config="[jobtools]\nflexi-launcher yes\n[host-types]\nbroken false\n"
                            "viaenv env\n[launchers]\nbad% broken\n% viaenv\n")
    out = run(area, mt_env)
    assert out.returncode == 1
    recs = records(area, mt_env)
    assert (recs["good"]["state"], recs["good"]["status"]) == ("COMPLETED", "PASS")
    assert (recs["bad"]["state"], recs["bad"]["status"]) == ("COMPLETED", "ABORT")
    assert recs["bad"]["comment"].startswith("launch failed (exit 1)")


def test_runtime_limit_is_enforced_by_mt_exec(make_area, mt_env):
    area = make_area({"slow": "[requirements]\nruntimelim 1s\n[ezsteps]\ns1 sleep 30\n"},
                     config="[jobtools]\nlauncher env\n")
    start = time.time()
    assert run(area, mt_env).returncode == 1
    assert time.time() - start < 15
    rec = records(area, mt_env)["slow"]
    assert (rec["state"], rec["status"]) == ("KILLED", "KILLED")


def test_ssh_launcher(make_area, mt_env, sshd):
    import shlex
    launcher = " ".join(shlex.quote(w) for w in sshd.ssh_command)
    area = make_area({"a": "[ezsteps]\ns1 hostname > where\n",
                      "b": "[requirements]\nwaiton a\n[items]\nN 1 2\n[ezsteps]\ns1 echo $N\n"},
                     config=f"[jobtools]\nlauncher {launcher}\n")
    out = run(area, mt_env)
    assert out.returncode == 0, out.stdout + out.stderr
    recs = records(area, mt_env)
    assert all((r["state"], r["status"]) == ("COMPLETED", "PASS") for r in recs.values())
    assert (area / "disk0/a/b/r/b/2/s1.log").read_text() == "2\n"
    assert "ssh" in (area / "disk0/a/b/r/a/mt_launch.log").read_text()
    assert {a for _, a, _ in jobs(area)} == {"template"}
