"""mt-clean (remove, kill, lock) and queued actions carried out by actions.poll_once."""
import sqlite3
import subprocess
import time

from conftest import BIN, mt, runs_json
from megatest.config import settings as settings_mod
from megatest.config.area import Area
from megatest.serve import actions
from megatest.store import db


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return ""


def run(area, env, runname="r", *args):
    return mt("run", "--area", area, "--target", "a/b", "--runname", runname, "--quiet", *args, env=env)


def shared_states(area):
    conn = sqlite3.connect(f"file:{area}/megatest.db?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT testname, state FROM tests").fetchall())
    finally:
        conn.close()


def test_remove_deletes_dirs_links_and_hides_records(make_area, mt_env):
    area = make_area({"t": "[ezsteps]\ns1 true\n", "u": "[ezsteps]\ns1 true\n"})
    assert run(area, mt_env).returncode == 0
    out = mt("clean", "--area", area, "--target", "a/b", "--runname", "r", "--testpatt", "t", env=mt_env)
    assert out.returncode == 0 and "removed 1 record" in out.stdout
    assert not (area / "disk0/a/b/r/t").exists() and not (area / "lt/a/b/r/t").exists()
    assert (area / "disk0/a/b/r/u").exists()
    names = [t["testname"] for t in runs_json(area, mt_env)[0]["tests"]]
    assert names == ["u"]
    assert shared_states(area)["t"] == "DELETED"
    conn = sqlite3.connect(f"file:{area}/megatest.db?mode=ro", uri=True)
    assert conn.execute("SELECT count(*) FROM test_steps s JOIN tests t ON t.id=s.test_id "
                        "WHERE t.testname='t'").fetchone()[0] == 0


def test_removing_the_whole_run_hides_it(make_area, mt_env):
    area = make_area({"t": "[ezsteps]\ns1 true\n"})
    run(area, mt_env)
    assert mt("clean", "--area", area, "--target", "a/%", "--runname", "r%", env=mt_env).returncode == 0
    assert runs_json(area, mt_env) == []
    assert run(area, mt_env).returncode == 0          # the same run can be started again
    assert [t["state"] for t in runs_json(area, mt_env)[0]["tests"]] == ["COMPLETED"]


def test_locked_run_is_not_removed(make_area, mt_env):
    area = make_area({"t": "[ezsteps]\ns1 true\n"})
    run(area, mt_env)
    assert mt("clean", "--lock", "--area", area, "--target", "a/b", "--runname", "r", env=mt_env).returncode == 0
    out = mt("clean", "--area", area, "--target", "a/b", "--runname", "r", env=mt_env)
    assert "locked" in out.stdout and (area / "disk0/a/b/r/t").exists()
    mt("clean", "--unlock", "--area", area, "--target", "a/b", "--runname", "r", env=mt_env)
    mt("clean", "--area", area, "--target", "a/b", "--runname", "r", env=mt_env)
    assert not (area / "disk0/a/b/r/t").exists()


def test_kill_stops_a_running_test(make_area, mt_env):
    area = make_area({"slow": "[ezsteps]\ns1 sleep 60\n"})
    p = subprocess.Popen([str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r",
                          "--quiet"], env=mt_env, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and "pid " not in _read(area / "disk0/a/b/r/slow/.mt-steps"):
        time.sleep(0.05)
    out = mt("clean", "--kill", "--area", area, "--target", "a/b", "--runname", "r", env=mt_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert p.wait(timeout=30) == 1
    test = runs_json(area, mt_env)[0]["tests"][0]
    assert (test["state"], test["status"]) == ("KILLED", "KILLED")


def test_queued_run_is_carried_out_by_the_poller(make_area, mt_env, monkeypatch):
    area = make_area({"t": "[ezsteps]\ns1 true\n"})
    for key, value in mt_env.items():
        monkeypatch.setenv(key, value)
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "q", "--queue", env=mt_env)
    assert out.returncode == 0 and "queued" in out.stdout
    a = Area(str(area))
    settings = settings_mod.load_settings(a)
    conn = db.open_area_db(a)
    children = {}
    assert actions.poll_once(a, settings, conn, children, bin_dir=str(BIN)) == 1
    assert actions.poll_once(a, settings, conn, children, bin_dir=str(BIN)) == 0   # claimed once
    for proc in children.values():
        proc.wait(timeout=60)
    actions.poll_once(a, settings, conn, children, bin_dir=str(BIN))
    task = conn.execute("SELECT state, exit_code FROM tasks WHERE kind='action'").fetchone()
    assert tuple(task) == ("done", 0)
    assert runs_json(area, mt_env)[0]["runname"] == "q"
