"""Cost of one `mt-test status` call (a process start, the imports, one transaction), against `python -c pass`.

Usage: python bench/mt_test_cost.py [N]     (default N = 200 sequential calls)

Uses the installed .venv/bin/mt-test when present, else `python -c` with PYTHONPATH=lib.
Absolute times drift between machines; the ratio to the bare interpreter start is what to judge.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(REPO, "lib")
sys.path.insert(0, LIB)

from megatest.config.area import Area  # noqa: E402
from megatest.launch import testenv  # noqa: E402
from megatest.store import db

DEFAULT_CALLS = 200
TARGET_MS = 30
RUNNER = "import sys; from megatest.commands.entry import run_command; sys.exit(run_command('test', sys.argv[1:]))"


def make_area(tmp):
    """An area with one run and one RUNNING test; returns the environment mt-test needs."""
    top = os.path.join(tmp, "area")
    os.makedirs(top)
    with open(os.path.join(top, "megatest.config"), "w") as cfg:
        cfg.write("[fields]\nos TEXT\n")
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": LIB,
               "MT_TMPDIR": os.path.join(tmp, "tmp"), "HOME": tmp}
    area = Area(top)
    conn = db.open_area_db(area, environ)
    keys = db.register_keys(conn, ["os"])
    run_id = db.register_run(conn, keys, ["a"], "r", "bench")
    db.register_tests(conn, run_id, [("t1", "")])
    test_id = db.find_test(conn, run_id, "t1", "")["id"]
    db.update_test(conn, test_id, state="RUNNING")
    conn.close()
    rundir = os.path.join(tmp, "run")
    os.makedirs(rundir)
    ident = testenv.TestIdentity(top, "a", "r", "t1", "", area.live_db_path(environ), run_id,
                                 test_id, rundir)
    environ["MT_CMDINFO"] = testenv.encode_cmdinfo(ident)
    return environ


def mt_test_command():
    installed = os.path.join(REPO, ".venv", "bin", "mt-test")
    if os.access(installed, os.X_OK):
        return [installed], os.path.join(REPO, ".venv", "bin", "python"), "installed .venv/bin/mt-test"
    return [sys.executable, "-c", RUNNER], sys.executable, f"{sys.executable} -c (PYTHONPATH=lib)"


def time_calls(argv, environ, calls):
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        proc = subprocess.run(argv, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            sys.exit(f"mt_test_cost: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()}")
    return times


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main(argv):
    calls = int(argv[0]) if argv else DEFAULT_CALLS
    with tempfile.TemporaryDirectory(prefix="mt-bench-") as tmp:
        environ = make_area(tmp)
        command, python, label = mt_test_command()
        baseline = time_calls([python, "-c", "pass"], environ, calls)
        cost = time_calls(command + ["status", "RUNNING", "PASS"], environ, calls)
    base_med, cost_med = statistics.median(baseline), statistics.median(cost)
    print(f"mt-test status cost, {calls} sequential calls; mt-test = {label}")
    print(f"{'what':<28}{'median ms':>10}{'p95 ms':>10}")
    print(f"{'python -c pass':<28}{base_med:>10.1f}{p95(baseline):>10.1f}")
    print(f"{'mt-test status RUNNING PASS':<28}{cost_med:>10.1f}{p95(cost):>10.1f}")
    print(f"ratio mt-test / python: {cost_med / base_med:.2f}x (median); "
          f"target < {TARGET_MS} ms: {'met' if cost_med < TARGET_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
