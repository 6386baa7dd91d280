"""The runner's shell (launch/shell.py): one bash per runner forks every local test."""
import os
import signal
import subprocess
import time

from conftest import BIN, records
from megatest.launch import direct
from megatest.launch.progress import read_progress
from megatest.launch.shell import Shell


def wait_events(shell, want, timeout=10):
    got, deadline = [], time.time() + timeout
    while time.time() < deadline and len(got) < want:
        got += shell.events()
        time.sleep(0.01)
    return got


def test_shell_forks_wrappers_that_record_steps_and_outlive_it(tmp_path):
    env = {"PATH": os.environ["PATH"], "COMMON": "same"}
    shell = Shell(env, str(tmp_path / "work"))
    dirs = [tmp_path / f"t{i}" for i in range(3)]
    for d in dirs:
        d.mkdir()
    quoted = "it's $HOME `x`\nline2\tend"
    assert shell.start(1, str(dirs[0]), {**env, "V": quoted},
                       direct.body_calls("", [("s1", 'printf "%s|%s" "$V" "$COMMON"')]))
    assert shell.start(2, str(dirs[1]), env, direct.body_calls("", [("s1", "exit 3"), ("s2", "true")]))
    assert shell.start(3, str(dirs[2]), env, direct.body_calls("", [("s1", "sleep 1; echo late")]))
    events = wait_events(shell, 5)
    done = {tid: code for kind, tid, code in events if kind == "done"}
    pids = {tid: pid for kind, tid, pid in events if kind == "pid"}
    assert done == {1: 0, 2: 3}
    assert (dirs[0] / "s1.log").read_text() == quoted + "|same"
    assert read_progress(str(dirs[1])).exit_code == 3 and not (dirs[1] / "s2.log").exists()
    # each wrapper leads its own process group, outside the runner's session
    assert os.getpgid(pids[3]) == pids[3] and os.getsid(pids[3]) != os.getsid(0)
    assert direct.is_wrapper_alive(pids[3], str(dirs[2]))
    assert not direct.is_wrapper_alive(pids[3], str(dirs[0]))      # pid reuse guard: wrong dir
    assert direct.find_wrapper(str(dirs[2])) == pids[3]
    shell.close()                         # the shell ends; the running test goes on
    deadline = time.time() + 10
    while time.time() < deadline and read_progress(str(dirs[2])).exit_code is None:
        time.sleep(0.05)
    assert read_progress(str(dirs[2])).exit_code == 0
    assert (dirs[2] / "s1.log").read_text() == "late\n"
    assert not list((tmp_path / "work").glob("*.cmd"))   # the command file is never left behind


def test_a_name_bash_refuses_is_started_on_its_own(tmp_path):
    shell = Shell({"PATH": os.environ["PATH"]}, str(tmp_path / "work"))
    assert not shell.start(1, str(tmp_path), {"PATH": os.environ["PATH"], "A-B": "1"}, ["finish 0"])
    shell.close()


def test_odd_variables_and_steps_reach_tests_through_the_runner(make_area, mt_env):
    area = make_area({"t": "[items]\nN 1 2 3\n[ezsteps]\ns1 printf '%s|%s|%s\\t|' \"$N\" \"$MT_ITEMPATH\" \"$Q\"; "
                           "env | grep -c '^A-B=' || true\n",
                      "u": "[requirements]\nwaiton t\n[ezsteps]\ns1 printf '%s' \"$Q\"\n"},
                     runconfigs="[default]\nQ it\\'s \\$HOME\n")
    # a name bash refuses, from the user's environment, still reaches the tests
    out = subprocess.run([str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r",
                          "--quiet"], env={**mt_env, "A-B": "x"}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert all((r["state"], r["status"]) == ("COMPLETED", "PASS") for r in records(area, mt_env).values())
    for n in "123":
        assert (area / f"disk0/a/b/r/t/{n}/s1.log").read_text() == f"{n}|{n}|it's $HOME\t|1\n"
    assert (area / "disk0/a/b/r/u/s1.log").read_text() == "it's $HOME"


def test_tests_go_on_when_the_shell_is_killed(make_area, mt_env):
    step = "[ezsteps]\ns1 sleep 1\n"
    area = make_area({"a": step, "b": "[requirements]\nwaiton a\n" + step}, max_jobs=1)
    p = subprocess.Popen([str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r",
                          "--quiet"], env=mt_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shell_pid, deadline = None, time.time() + 20
    while shell_pid is None and time.time() < deadline:
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except (OSError, ValueError):
                continue
            if ppid == p.pid and direct.SHELL_NAME.encode() in argv:
                shell_pid = int(entry)
        time.sleep(0.05)
    assert shell_pid, "the runner started no shell"
    os.kill(shell_pid, signal.SIGKILL)    # a running `a` is not its child's victim
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, out + err
    recs = records(area, mt_env)
    assert [(recs[n]["state"], recs[n]["status"]) for n in "ab"] == [("COMPLETED", "PASS")] * 2


def live_db(mt_env):
    import glob
    (path,) = glob.glob(os.path.join(mt_env["MT_TMPDIR"], "mt-*", "*", "megatest.db"))
    return path


def set_record(mt_env, name, **fields):
    import sqlite3
    conn = sqlite3.connect(live_db(mt_env), isolation_level=None)
    sets = ", ".join(f"{k}=?" for k in fields)
    conn.execute(f"UPDATE tests SET {sets} WHERE testname=?", (*fields.values(), name))
    conn.close()


def attempt_of(mt_env, name):
    import sqlite3
    conn = sqlite3.connect(live_db(mt_env))
    (n,) = conn.execute("SELECT attempt FROM tests WHERE testname=?", (name,)).fetchone()
    conn.close()
    return n


def test_a_test_handed_to_a_dead_shell_is_launched_again(make_area, mt_env, tmp_path):
    """A runner killed between recording RUNNING and its shell forking the wrapper leaves a
    RUNNING record with no pid and no .mt-steps: the next runner launches it again."""
    counter = tmp_path / "count"
    area = make_area({"t": f"[ezsteps]\ns1 echo x >> {counter}\n"})
    cmd = [str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r", "--quiet"]
    assert subprocess.run(cmd, env=mt_env, capture_output=True, timeout=60).returncode == 0
    os.unlink(area / "disk0/a/b/r/t" / direct.STEPS_FILE)
    set_record(mt_env, "t", state="RUNNING", status="n/a", pid=None, event_time=time.time() - 60)
    out = subprocess.run(cmd, env=mt_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    rec = records(area, mt_env)["t"]
    assert (rec["state"], rec["status"]) == ("COMPLETED", "PASS") and attempt_of(mt_env, "t") == 1
    assert counter.read_text() == "x\nx\n"


def run_and_kill_after_start(area, mt_env, test):
    """Start mt-run, wait until TEST's first step started, kill -9 the runner's whole process
    group (its shell and tests live on in their own sessions), and forget the test's pid in
    the database as if the runner died before writing it. Returns the mt-run command."""
    cmd = [str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r", "--quiet"]
    p = subprocess.Popen(cmd, env=mt_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    steps = area / "disk0/a/b/r" / test / direct.STEPS_FILE
    deadline = time.time() + 20
    while time.time() < deadline and "start s1" not in (steps.read_text() if steps.exists() else ""):
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    set_record(mt_env, test, pid=None)
    return cmd


def test_a_running_wrapper_without_a_recorded_pid_is_adopted(make_area, mt_env, tmp_path):
    """The pid reaches the database a moment after the start: a runner killed in between
    leaves it only in .mt-steps, where the next runner finds it and waits for the test."""
    counter = tmp_path / "count"
    area = make_area({"t": f"[ezsteps]\ns1 sleep 3; echo x >> {counter}\n"})
    cmd = run_and_kill_after_start(area, mt_env, "t")
    out = subprocess.run(cmd, env=mt_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    rec = records(area, mt_env)["t"]
    assert (rec["state"], rec["status"]) == ("COMPLETED", "PASS") and attempt_of(mt_env, "t") == 0
    assert counter.read_text() == "x\n"           # waited for, not run twice


def test_a_shell_that_ended_says_so_when_sent_a_test(tmp_path):
    from megatest.launch.shell import ShellGone
    shell = Shell({"PATH": os.environ["PATH"]}, str(tmp_path / "work"))
    os.kill(shell.pid, signal.SIGKILL)
    os.waitpid(shell.pid, 0)
    try:
        shell.start(1, str(tmp_path), {"PATH": os.environ["PATH"]}, ["finish 0"])
    except ShellGone:
        pass
    else:
        raise AssertionError("a dead shell took a test")
    shell.discard()


def test_tests_get_sigpipe_back(make_area, mt_env):
    """Python ignores SIGPIPE; a test must not inherit that (`yes | head` has to end)."""
    area = make_area({"t": "[ezsteps]\ns1 yes | head -1 > /dev/null; echo ${PIPESTATUS[0]}\n"})
    out = subprocess.run([str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r",
                          "--quiet"], env=mt_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (area / "disk0/a/b/r/t/s1.log").read_text() == "141\n"


def shell_of(runner_pid, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            if ppid == runner_pid and direct.shell_alive(int(entry)):
                return int(entry)
        time.sleep(0.05)
    raise AssertionError("the runner started no shell")


def test_a_stalled_shell_never_gets_a_second_copy(make_area, mt_env, tmp_path):
    """A shell that is slow to fork (here: stopped for longer than the launch grace) is
    waited for: the test runs once."""
    counter = tmp_path / "count"
    area = make_area({"a": "[ezsteps]\ns1 sleep 1\n",
                      "b": f"[requirements]\nwaiton a\n[ezsteps]\ns1 echo x >> {counter}\n"})
    p = subprocess.Popen([str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r",
                          "--quiet"], env=mt_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shell = shell_of(p.pid)
    steps = area / "disk0/a/b/r/a" / direct.STEPS_FILE
    deadline = time.time() + 20
    while time.time() < deadline and "start s1" not in (steps.read_text() if steps.exists() else ""):
        time.sleep(0.02)
    os.kill(shell, signal.SIGSTOP)        # `a` goes on; `b` waits in the stopped shell
    time.sleep(7)
    os.kill(shell, signal.SIGCONT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, out + err
    assert counter.read_text() == "x\n"
    assert attempt_of(mt_env, "b") == 0


def test_kill_finds_a_test_whose_pid_is_only_in_its_steps_file(make_area, mt_env):
    area = make_area({"slow": "[ezsteps]\ns1 sleep 60\n"})
    run_and_kill_after_start(area, mt_env, "slow")
    wrapper = read_progress(str(area / "disk0/a/b/r/slow")).pid
    out = subprocess.run([str(BIN / "mt-clean"), "--kill", "--area", str(area), "--target", "a/b",
                          "--runname", "r"], env=mt_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not direct.group_alive(wrapper)
    rec = records(area, mt_env)["slow"]
    assert (rec["state"], rec["status"]) == ("KILLED", "KILLED")
