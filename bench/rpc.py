"""State updates per second through mt-serve against direct to SQLite, in the same run.

Usage: python bench/rpc.py [N] [M]
  N  in-process updates per mode (default 2000): direct (testops on one connection) and
     through mt-serve (one client, one kept-alive connection; then 4 clients in threads)
  M  whole `mt-test status` processes per route (default 100): direct on the home host, and
     through mt-serve as a test on another host does it

Uses the installed .venv/bin/mt-serve and mt-test (run `make` first). Each update is one
`status` call: one transaction that sets state, status and comment. Absolute rates drift
between machines; the ratios are what to judge.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lib"))
BIN = os.path.join(REPO, ".venv", "bin")

from megatest import db, rpc_client, testenv, testops  # noqa: E402
from megatest.area import Area  # noqa: E402

DEFAULT_UPDATES = 2000
DEFAULT_PROCESSES = 100
THREADS = 4
ELSEWHERE = "elsewhere.invalid"     # MT_HOMEHOST that is not this host: mt-test uses mt-serve


def make_area(tmp):
    """An area with one run and one RUNNING test per client thread; (environ, area, test ids, rundir)."""
    top = os.path.join(tmp, "area")
    os.makedirs(top)
    with open(os.path.join(top, "megatest.config"), "w") as cfg:
        cfg.write("[fields]\nos TEXT\n")
    environ = dict(os.environ, MT_TMPDIR=os.path.join(tmp, "tmp"), HOME=tmp)
    environ = {k: v for k, v in environ.items() if not k.startswith("MT_") or k == "MT_TMPDIR"}
    area = Area(top)
    conn = db.open_area_db(area, environ)
    keys = db.register_keys(conn, ["os"])
    run_id = db.register_run(conn, keys, ["a"], "r", "bench")
    names = [f"t{n}" for n in range(THREADS)]
    db.register_tests(conn, run_id, [(n, "") for n in names])
    ids = [db.find_test(conn, run_id, n, "")["id"] for n in names]
    for test_id in ids:
        db.update_test(conn, test_id, state="RUNNING")
    conn.close()
    rundir = os.path.join(tmp, "run")
    os.makedirs(rundir)
    ident = testenv.TestIdentity(top, "a", "r", names[0], "", area.live_db_path(environ), run_id,
                                 ids[0], rundir)
    environ["MT_CMDINFO"] = testenv.encode_cmdinfo(ident)
    return environ, area, ids


def update(test_id, n):
    return {"test": {"id": test_id}, "state": "RUNNING", "status": "PASS", "comment": f"u{n}"}


def direct_rate(path, test_id, count):
    conn = db.connect(path)
    start = time.perf_counter()
    for n in range(count):
        testops.execute(conn, "status", update(test_id, n))
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def served_rate(area, test_id, count):
    client = rpc_client.Client(area.toppath, patience=10)
    start = time.perf_counter()
    for n in range(count):
        client.call("status", update(test_id, n))
    elapsed = time.perf_counter() - start
    client.close()
    return count / elapsed


def threaded(rate_of, ids, count):
    """Total updates/s of one thread per test id, each doing count // len(ids) updates."""
    per = count // len(ids)
    threads = [threading.Thread(target=rate_of, args=(test_id, per)) for test_id in ids]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * len(ids) / (time.perf_counter() - start)


def process_times(environ, count):
    argv = [os.path.join(BIN, "mt-test"), "status", "RUNNING", "PASS"]
    times = []
    for _ in range(count):
        start = time.perf_counter()
        proc = subprocess.run(argv, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0 or proc.stderr:
            sys.exit(f"bench/rpc: mt-test failed ({proc.returncode}): {proc.stderr.decode()}")
    return statistics.median(times)


def serve(environ, area, *args):
    return subprocess.run([os.path.join(BIN, "mt-serve"), "--area", area.toppath, *args],
                          env=environ, capture_output=True, text=True, check=True)


def main(argv):
    updates = int(argv[0]) if argv else DEFAULT_UPDATES
    processes = int(argv[1]) if len(argv) > 1 else DEFAULT_PROCESSES
    if not os.access(os.path.join(BIN, "mt-serve"), os.X_OK):
        sys.exit("bench/rpc: run `make` first (needs .venv/bin/mt-serve and mt-test)")
    with tempfile.TemporaryDirectory(prefix="mt-bench-rpc-") as tmp:
        environ, area, ids = make_area(tmp)
        path = area.live_db_path(environ)
        os.environ["MT_TMPDIR"] = environ["MT_TMPDIR"]
        serve(environ, area, "--ensure")
        try:
            rows = measure(environ, area, path, ids, updates, processes)
        finally:
            serve(environ, area, "--stop")
    report(rows, updates, processes)
    return 0


def measure(environ, area, path, ids, updates, processes):
    served_rate(area, ids[0], 50)                    # warm up: connection, page cache
    direct = direct_rate(path, ids[0], updates)
    served = served_rate(area, ids[0], updates)
    direct_t = threaded(lambda i, n: direct_rate(path, i, n), ids, updates)
    served_t = threaded(lambda i, n: served_rate(area, i, n), ids, updates)
    home_ms = process_times(environ, processes)
    away_ms = process_times(dict(environ, MT_HOMEHOST=ELSEWHERE), processes)
    return [("in-process, 1 client", direct, served),
            (f"in-process, {THREADS} client threads", direct_t, served_t),
            ("one mt-test process per update", 1000 / home_ms, 1000 / away_ms)], (home_ms, away_ms)


def report(results, updates, processes):
    rows, (home_ms, away_ms) = results
    print(f"state updates/s, direct to SQLite vs through mt-serve ({updates} in-process updates "
          f"per mode, {processes} mt-test processes per route)")
    print(f"{'mode':<34}{'direct/s':>10}{'mt-serve/s':>12}{'ratio':>8}")
    for name, direct, served in rows:
        print(f"{name:<34}{direct:>10.0f}{served:>12.0f}{served / direct:>8.2f}")
    print(f"mt-test status: {home_ms:.1f} ms direct on the home host, {away_ms:.1f} ms through "
          f"mt-serve (median per process)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
