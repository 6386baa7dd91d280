"""mt-run through a real Slurm cluster (issue #4 §4): a whole area, scancel, a runner killed
with kill -9 while its jobs are queued, and a node going DOWN under running tests.

Every test runs `mt-run` with `[jobtools] launcher sbatch ...` against the session's one-node
cluster (fixture `slurm`, tests/slurm_cluster.py). `sbatch` and `squeue` reach that cluster
through spies first on PATH: each call of the runner is recorded (start, end, output), so
the tests can count submissions and scheduler queries and say which query saw what.

A node set DOWN (`scontrol update nodename=N state=down`): Slurm kills the node's jobs and,
by default (JobRequeue=1), requeues them: PENDING again under the same job id, eligible
about 2 minutes later; mt-run keeps their records running and the same jobs run the tests
again. With `--no-requeue` on the launcher line the jobs end NODE_FAIL instead and their
records end COMPLETED/DEAD "scheduler: job node_fail (NodeDown)" at the next poll.
"""
import glob
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, mt, records
from slurm_cluster import set_node_state, wait_node_state

pytestmark = pytest.mark.slurm

TARGET = ("--target", "a/b", "--runname", "r")
POLL_MAX = 10.0          # s: the runner's longest scheduler polling interval (launch/slurm.py)
WAIT = 60.0              # s: the longest any step of these tests may take


# ---------------------------------------------------------------- helpers

class Spy:
    """`command` first on PATH: runs the real one and keeps one file per call (named
    start-end-pid, holding its arguments on the first line, then its output); `delay`
    seconds of sleep after each call."""

    def __init__(self, bindir, command, delay=0.0):
        real = shutil.which(command)
        assert real, f"{command} not on PATH"
        self.calls_dir = bindir.parent / f"{command}.calls"
        self.calls_dir.mkdir(parents=True)
        bindir.mkdir(exist_ok=True)
        sleep = f"sleep {delay}\n" if delay else ""
        (bindir / command).write_text(
            "#!/bin/bash\n"
            "start=$EPOCHREALTIME\n"
            f'out=$({real} "$@"); rc=$?\n'
            'printf "%s\\n" "$out"\n'
            f'printf "%s\\n" "$*" "$out" > {self.calls_dir}/$start-$EPOCHREALTIME-$$\n'
            f"{sleep}exit $rc\n")
        (bindir / command).chmod(0o755)

    def calls(self):
        """[(start, end, arguments, output)] in call order."""
        out = []
        for f in self.calls_dir.iterdir():
            start, end, _ = f.name.split("-")
            args, _, text = f.read_text().partition("\n")
            out.append((float(start), float(end), args, text))
        return sorted(out)


@pytest.fixture
def spied(tmp_path, slurm, mt_env):
    """(env for mt-run reaching the cluster through the spies, sbatch spy, squeue spy)."""
    def make(sbatch_delay=0.0):
        bindir = tmp_path / "spy" / "bin"
        sbatch, squeue = Spy(bindir, "sbatch", sbatch_delay), Spy(bindir, "squeue")
        env = slurm.environ(mt_env)
        env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
        return env, sbatch, squeue
    return make


def start_run(area, env, *args):
    """mt-run in the background, in its own process group (so kill -9 takes all of it)."""
    log = open(Path(area) / "mt-run.out", "w")
    return subprocess.Popen([str(BIN / "mt-run"), "--area", str(area), *TARGET, *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def finish_run(proc, area, timeout=WAIT):
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"mt-run still running after {timeout:.0f} s:\n{output(area)}")
    return code


def output(area):
    return (Path(area) / "mt-run.out").read_text()


def live_rows(env, sql, args=()):
    """Rows of the live database (MT_TMPDIR) while mt-run runs; [] before it exists."""
    dbs = glob.glob(os.path.join(env["MT_TMPDIR"], "mt-root", "*", "megatest.db"))
    if not dbs:
        return []
    conn = sqlite3.connect(f"file:{dbs[0]}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:      # tables not created yet
        return []
    finally:
        conn.close()


def live_count(env, sql):
    rows = live_rows(env, sql)
    return rows[0][0] if rows else 0


def area_rows(area, sql, args=()):
    conn = sqlite3.connect(f"file:{area}/megatest.db?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def wait_for(what, check, timeout=WAIT, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def jobs_named(slurm, tag):
    """{job id: (state, reason, comment)} of every job squeue knows under the run's tag."""
    out = slurm.run("squeue", f"--name={tag}", "--states=all", "-h", "-o", "%i|%T|%r|%k").stdout
    return {i: (s, r, c) for i, s, r, c in (line.split("|") for line in out.splitlines())}


def tag_of(slurm, job_id):
    return slurm.run("squeue", "-j", job_id, "--states=all", "-h", "-o", "%j").stdout.strip()


def job_rows(area):
    """[(testname, item_path, tests.job_id, tasks.job_id, tasks.state)] of slurm job rows."""
    return area_rows(area, "SELECT t.testname, t.item_path, t.job_id, k.job_id, k.state "
                           "FROM tasks k JOIN tests t ON t.id = k.test_id "
                           "WHERE k.kind='job' AND k.action='slurm'")


def leaf_records(area, env):
    """Records that are jobs: items, and tests without items."""
    recs = records(area, env)
    tops_with_items = {k.split("/")[0] for k in recs if "/" in k}
    return {k: r for k, r in recs.items() if k not in tops_with_items}


def resume(slurm):
    """Back to service: RESUME (refused when ReturnToService already made the node idle)."""
    slurm.run("scontrol", "update", f"nodename={slurm.nodename}", "state=RESUME", check=False)
    wait_node_state(slurm, ("idle", "mixed", "allocated"), timeout=30)


# ---------------------------------------------------------------- §4: a whole area

WAITS = {"t03": "waiton t00\n", "t04": "waiton t01 t02\n", "t07": "waiton t03\nmode itemmatch\n",
         "t09": "waiton t04 t07\n"}


def test_an_area_runs_entirely_through_slurm(make_area, spied, slurm):
    """10 tests x 3 items, four of them waiting on others: all PASS, each record shows the
    job it ran in, and a waiting test is submitted only once what it waits on is done."""
    env, sbatch, squeue = spied()
    tests = {f"t{n:02d}": "[items]\nN 1 2 3\n[ezsteps]\ns1 echo $N $MT_TEST_NAME\n"
             + (f"[requirements]\n{WAITS[f't{n:02d}']}" if f"t{n:02d}" in WAITS else "")
             for n in range(10)}
    area = make_area(tests, config="[jobtools]\nlauncher sbatch\n", max_jobs=30)
    began = time.time()
    out = mt("run", "--area", area, *TARGET, env=env, timeout=WAIT * 2)
    elapsed = time.time() - began
    assert out.returncode == 0, out.stdout + out.stderr

    recs = records(area, env)
    assert len(recs) == 40                       # 30 items + 10 toplevels
    assert {(r["state"], r["status"]) for r in recs.values()} == {("COMPLETED", "PASS")}
    leaves = leaf_records(area, env)
    assert len(leaves) == 30
    ids = {k: r["job_id"] for k, r in leaves.items()}
    assert all(ids.values()) and len(set(ids.values())) == 30, ids

    # Slurm's view: exactly these 30 jobs under the run's tag, all COMPLETED, one per record
    tag = tag_of(slurm, ids["t00/1"])
    listed = jobs_named(slurm, tag)
    workdirs = dict(line.split("|") for line in slurm.run(
        "squeue", f"--name={tag}", "--states=all", "-h", "-o", "%i|%Z").stdout.splitlines())

    # each item ran in the very job its record names, on the cluster's node, in its run dir
    for key, r in leaves.items():
        name, item = key.split("/")
        rundir = area / "disk0/a/b/r" / name / item
        assert (rundir / "s1.log").read_text() == f"{item} {name}\n", key
        assert workdirs[r["job_id"]] == str(rundir), key
        assert [p.name for p in rundir.glob("slurm-*.out")] == [f"slurm-{r['job_id']}.out"]
        assert r["host"].split(".")[0] == slurm.nodename

    assert set(listed) == set(ids.values())
    assert {s for s, _, _ in listed.values()} == {"COMPLETED"}
    assert {listed[ids[k]][2] for k in ids} == {f"mt-test-{r['test_id']}" for r in leaves.values()}
    # the tasks table and mt-list agree on the job ids
    rows = job_rows(area)
    assert sorted((f"{t}/{i}", k, s) for t, i, _, k, s in rows) == \
        sorted((k, j, "done") for k, j in ids.items())
    assert len(sbatch.calls()) == 30

    # waitons: every job of a waiting test was submitted after every job it waits on
    def job(key):
        return int(ids[key])
    for down, ups in [("t03", ["t00"]), ("t04", ["t01", "t02"]), ("t09", ["t04", "t07"])]:
        assert min(job(f"{down}/{i}") for i in "123") > \
            max(job(f"{u}/{i}") for u in ups for i in "123"), (down, ups)
    for i in "123":                              # itemmatch: t07/i after t03/i
        assert job(f"t07/{i}") > job(f"t03/{i}")

    # one scheduler query per cycle for all 30 jobs (cycles at least 1 s apart), not one per job
    queries = squeue.calls()
    assert queries and all(f"--name={tag} --states=all" in args for _, _, args, _ in queries)
    assert len(queries) <= elapsed / 1.0 + 1, f"{len(queries)} squeue calls in {elapsed:.1f} s"


# ---------------------------------------------------------------- §4: scancel

def test_scancel_of_a_running_test_ends_it_killed_within_one_poll(make_area, spied, slurm):
    """scancel of the job of a running test: its record ends KILLED/KILLED at the first
    runner query that shows the job CANCELLED; the other tests go on; mt-run exits 1."""
    env, sbatch, squeue = spied()
    area = make_area({"victim": "[ezsteps]\ns1 sleep 120\n",
                      "work": "[items]\nN 1 2 3 4\n[ezsteps]\ns1 sleep 2\n"},
                     config="[jobtools]\nlauncher sbatch\n", max_jobs=2)
    proc = start_run(area, env)
    try:
        victim = wait_for("the victim to run in its job", lambda: [
            r for r in live_rows(env, "SELECT id, job_id FROM tests WHERE testname='victim' "
                                      "AND state IN ('REMOTEHOSTSTART', 'RUNNING') AND job_id != ''")])
        test_id, job_id = victim[0]
        pending = live_count(env, "SELECT count(*) FROM tests WHERE testname='work' "
                                  "AND item_path != '' AND state='NOT_STARTED'")
        cancelled_at = time.time()
        slurm.run("scancel", job_id)
        code = finish_run(proc, area)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 1, output(area)
    assert pending > 0, "the other tests had all started before the scancel: nothing shows the run going on"

    recs = records(area, env)
    v = recs["victim"]
    assert (v["state"], v["status"]) == ("KILLED", "KILLED")
    assert v["comment"].startswith("scheduler: job cancelled"), v["comment"]
    assert v["job_id"] == job_id
    rundir = area / "disk0/a/b/r/victim"
    assert "CANCELLED" in (rundir / f"slurm-{job_id}.out").read_text()
    work = {k: r for k, r in recs.items() if k.startswith("work/")}
    assert len(work) == 4
    assert {(r["state"], r["status"]) for r in work.values()} == {("COMPLETED", "PASS")}
    # the run went on: items not started at the scancel were submitted after it, and passed
    assert len([start for start, *_ in sbatch.calls() if start > cancelled_at]) >= pending

    # "within one polling cycle": the record was written right after the first runner query
    # that listed the job CANCELLED, before the runner's next query
    (killed_at,) = area_rows(area, "SELECT last_update FROM tests WHERE id=?", (test_id,))[0]
    seen = [(start, end) for start, end, _, text in squeue.calls()
            if start >= cancelled_at and f"{job_id}|CANCELLED|" in text]
    assert seen, "no runner query after the scancel listed the job CANCELLED"
    first_seen_end = seen[0][1]
    later = [start for start, *_ in squeue.calls() if start > first_seen_end]
    assert first_seen_end <= killed_at <= (later[0] if later else float("inf")), \
        (cancelled_at, seen, killed_at, later[:1])
    assert killed_at - cancelled_at < POLL_MAX + 2
    # no test process of the cancelled job is left behind
    assert not _processes_under(rundir)


def _processes_under(directory):
    """pids of processes whose working directory is in `directory`."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.readlink(proc / "cwd").startswith(str(directory)):
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


# ---------------------------------------------------------------- §4: kill -9 while queued

@pytest.mark.parametrize("kill_point", ["after-recording", "between-sbatch-and-recording"])
def test_runner_killed_while_jobs_queued_restarts_without_double_submission(
        make_area, spied, slurm, kill_point):
    """The node DRAINs, so every job stays PENDING. mt-run is killed with kill -9 (its whole
    process group) once 10 jobs are queued:
    - after-recording: 10 tests, the runner had written all 10 job ids;
    - between-sbatch-and-recording: 12 tests and a slow sbatch (0.8 s after each
      submission): the kill falls after the 10th sbatch returned and before the runner
      wrote the job ids; tests 11 and 12 were never submitted.
    A new mt-run then adopts the queued jobs (by job id, or by the test id in the job's
    comment), submits the never-submitted ones, and after RESUME everything PASSes: Slurm
    knows exactly one job per test, sbatch ran once per test."""
    slow = kill_point == "between-sbatch-and-recording"
    n = 12 if slow else 10
    env, sbatch, squeue = spied(sbatch_delay=0.8 if slow else 0.0)
    area = make_area({"t": f"[items]\nN {' '.join(str(i) for i in range(1, n + 1))}\n"
                           "[ezsteps]\ns1 echo $N\n"},
                     config="[jobtools]\nlauncher sbatch\n", max_jobs=n)
    set_node_state(slurm, "DRAIN", "megatest test: hold jobs in the queue")
    first = second = None
    try:
        first = start_run(area, env)
        if slow:
            wait_for("10 submissions", lambda: len(sbatch.calls()) >= 10, step=0.01)
        else:
            wait_for("10 recorded job ids", lambda: live_count(
                env, "SELECT count(*) FROM tasks WHERE kind='job' AND job_id != ''") >= 10)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        submitted = sbatch.calls()
        recorded = live_count(env, "SELECT count(*) FROM tests WHERE job_id != ''")
        if slow:
            assert 10 <= len(submitted) < n
            assert recorded < len(submitted), \
                "the kill did not fall between sbatch and recording: hit that window another way"
        else:
            assert len(submitted) == recorded == n
        job_ids = [text.strip().split(";")[0] for *_, text in submitted]
        tag = tag_of(slurm, job_ids[0])
        queued = jobs_named(slurm, tag)
        assert set(queued) == set(job_ids)
        assert {s for s, _, _ in queued.values()} == {"PENDING"}

        second = start_run(area, env)
        # still drained: the restarted runner submits what was never submitted, nothing else
        wait_for(f"{n} jobs in the queue", lambda: len(jobs_named(slurm, tag)) >= n)
        resume(slurm)
        code = finish_run(second, area)
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        resume(slurm)
    assert code == 0, output(area)

    leaves = leaf_records(area, env)
    assert len(leaves) == n
    assert {(r["state"], r["status"]) for r in leaves.values()} == {("COMPLETED", "PASS")}
    listed = jobs_named(slurm, tag)
    assert len(listed) == n, listed                       # no job submitted twice
    assert len(sbatch.calls()) == n
    by_comment = {c: i for i, (_, _, c) in listed.items()}
    assert len(by_comment) == n                           # one job per test
    for key, r in leaves.items():
        job_id = by_comment[f"mt-test-{r['test_id']}"]
        assert r["job_id"] == job_id, key
        assert listed[job_id][0] == "COMPLETED"
        rundir = area / "disk0/a/b/r/t" / key.split("/")[1]
        assert [p.name for p in rundir.glob("slurm-*.out")] == [f"slurm-{job_id}.out"]
        assert (rundir / "s1.log").read_text() == f"{key.split('/')[1]}\n"
    assert set(job_ids) <= set(listed)                    # the queued jobs were adopted, not replaced


# ---------------------------------------------------------------- §4: a node goes DOWN

def test_node_down_with_no_requeue_ends_running_tests_dead(make_area, spied, slurm):
    """`launcher sbatch --no-requeue`: a node set DOWN kills its jobs (Slurm: NODE_FAIL);
    their records end COMPLETED/DEAD with the node failure in the comment, at the runner's
    first query that shows it; a test that had not started yet runs once the node is back;
    mt-run exits 1."""
    env, sbatch, squeue = spied()
    area = make_area({"a_long": "[items]\nN 1 2 3\n[ezsteps]\ns1 sleep 30\n",
                      "b_after": "[ezsteps]\ns1 true\n"},
                     config="[jobtools]\nlauncher sbatch --no-requeue\n", max_jobs=3)
    proc = start_run(area, env)
    try:
        wait_for("3 running items", lambda: live_count(
            env, "SELECT count(*) FROM tests WHERE item_path != '' AND job_id != '' "
                 "AND state IN ('REMOTEHOSTSTART', 'RUNNING')") == 3)
        down_at = time.time()
        set_node_state(slurm, "DOWN", "megatest test: node failure")
        wait_for("the items to end", lambda: live_count(
            env, "SELECT count(*) FROM tests WHERE item_path != '' AND state='COMPLETED'") == 3,
            timeout=POLL_MAX + 5)
        resume(slurm)
        code = finish_run(proc, area)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        resume(slurm)
    assert code == 1, output(area)
    recs = records(area, env)
    for i in "123":
        r = recs[f"a_long/{i}"]
        assert (r["state"], r["status"]) == ("COMPLETED", "DEAD"), r
        assert r["comment"] == "scheduler: job node_fail (NodeDown)", r["comment"]
        out = (area / f"disk0/a/b/r/a_long/{i}/slurm-{r['job_id']}.out").read_text()
        assert "DUE TO NODE FAILURE" in out
        assert not _processes_under(area / f"disk0/a/b/r/a_long/{i}")
    assert (recs["b_after"]["state"], recs["b_after"]["status"]) == ("COMPLETED", "PASS")
    assert int(recs["b_after"]["job_id"]) > max(int(recs[f"a_long/{i}"]["job_id"]) for i in "123")
    tag = tag_of(slurm, recs["b_after"]["job_id"])
    assert {s for s, _, _ in jobs_named(slurm, tag).values()} == {"NODE_FAIL", "COMPLETED"}
    assert len(sbatch.calls()) == 4                       # nothing resubmitted
    # each record ended at the first runner query that listed its job NODE_FAIL
    for i in "123":
        job_id = recs[f"a_long/{i}"]["job_id"]
        (ended,) = area_rows(area, "SELECT last_update FROM tests WHERE id=?",
                             (recs[f"a_long/{i}"]["test_id"],))[0]
        seen = [end for _, end, _, text in squeue.calls() if f"{job_id}|NODE_FAIL|" in text]
        later = [start for start, *_ in squeue.calls() if seen and start > seen[0]]
        assert seen and seen[0] <= ended <= (later[0] if later else float("inf"))
        assert ended - down_at < POLL_MAX + 2


def test_node_down_requeued_jobs_run_the_test_again(make_area, spied, slurm):
    """Plain `launcher sbatch` (Slurm's default JobRequeue=1): Slurm requeues the jobs of a
    node set DOWN (PENDING again, not ended); the records stay running meanwhile, nothing is
    resubmitted. Slurm holds a requeued job for about 2 minutes (its credential lifetime);
    the test skips that hold with `scontrol update jobid=N StartTime=now`. The same jobs then
    run the tests again (mt-exec of a requeued job may take over its record): all PASS,
    mt-run exits 0, each job restarted once."""
    env, sbatch, squeue = spied()
    area = make_area({"long": "[items]\nN 1 2\n[ezsteps]\ns1 sleep 4\n"},
                     config="[jobtools]\nlauncher sbatch\n", max_jobs=2)
    proc = start_run(area, env)
    try:
        wait_for("2 running items", lambda: live_count(
            env, "SELECT count(*) FROM tests WHERE item_path != '' AND job_id != '' "
                 "AND state IN ('REMOTEHOSTSTART', 'RUNNING')") == 2)
        steps = [area / f"disk0/a/b/r/long/{i}/.mt-steps" for i in "12"]
        wait_for("both steps started", lambda: all(
            f.exists() and "start s1 " in f.read_text() for f in steps))
        job_ids = [j for (j,) in live_rows(env, "SELECT job_id FROM tests WHERE item_path != ''")]
        set_node_state(slurm, "DOWN", "megatest test: node failure")
        tag = tag_of(slurm, job_ids[0])
        wait_for("the jobs requeued", lambda: {s for s, _, _ in jobs_named(slurm, tag).values()}
                 == {"PENDING"})
        resume(slurm)
        time.sleep(3)                      # a few runner polls see the requeued jobs PENDING
        assert proc.poll() is None
        assert {s for (s,) in live_rows(env, "SELECT state FROM tests WHERE item_path != ''")} \
            <= {"REMOTEHOSTSTART", "RUNNING", "LAUNCHED"}
        for job_id in job_ids:
            slurm.run("scontrol", "update", f"jobid={job_id}", "StartTime=now")
        code = finish_run(proc, area)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        resume(slurm)
    for job_id in job_ids:
        assert "Restarts=1" in slurm.run("scontrol", "show", "job", job_id).stdout
    assert len(sbatch.calls()) == 2                       # requeued, not resubmitted
    recs = records(area, env)
    for i in "12":                                        # the same job ran the test twice
        r = recs[f"long/{i}"]
        assert r["job_id"] in job_ids
        steps = (area / f"disk0/a/b/r/long/{i}/.mt-steps").read_text()
        assert steps.count("\npid ") + steps.startswith("pid ") == 2, steps
    bad = {k: (r["state"], r["status"], r["comment"]) for k, r in recs.items()
           if (r["state"], r["status"]) != ("COMPLETED", "PASS")}
    assert not bad, bad
    assert code == 0, output(area)

