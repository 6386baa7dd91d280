"""State updates per second through mt-serve against direct to SQLite, in the same run; and
what a burst of simultaneous clients costs, against the listen backlog mt-serve used to have.

Usage: python bench/rpc.py [N] [M] [--clients LIST] [--burst-only]
  N  in-process updates per mode (default 2000): direct (testops on one connection) and
     through mt-serve (one client, one kept-alive connection; then 4 clients in threads)
  M  whole `mt-test status` processes per route (default 100): direct on the home host, and
     through mt-serve as a test on another host does it
  --clients LIST  burst sizes (default 100,200): that many client threads, released at once,
     each connect and send one ping; first against the same server with socketserver's default
     listen backlog of 5 (the baseline), then against mt-serve as installed
  --burst-only    skip the update rates

Uses the installed .venv/bin/mt-serve and mt-test (run `make` first). Each update is one
`status` call: one transaction that sets state, status and comment. Absolute rates drift
between machines; the ratios are what to judge.
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lib"))
BIN = os.path.join(REPO, ".venv", "bin")

from megatest.config.area import Area  # noqa: E402
from megatest.launch import testenv  # noqa: E402
from megatest.serve import rpc_client, rpc_http
from megatest.store import db
from megatest.testside import testops

DEFAULT_UPDATES = 2000
DEFAULT_PROCESSES = 100
THREADS = 4
BURST_CLIENTS = (100, 200)
BASELINE_BACKLOG = 5                # socketserver's default, mt-serve's backlog before issue 9
SYN_RETRY = 0.9                     # s: a connect this slow waited for a dropped SYN's resend (1 s)
CLIENT_TIMEOUT = 5.0                # s a burst client waits for its connection and reply
BASELINE_SERVER = ("import sys; from megatest.serve import rpc_http; "
                   f"rpc_http.HTTPServer.request_queue_size = {BASELINE_BACKLOG}; "
                   "from megatest.commands.entry import run_command; "
                   "sys.exit(run_command('serve', sys.argv[1:]))")
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


# ---------------------------------------------------------------- a burst of clients

def burst(area, clients):
    """(clients, failed, waited for a SYN resend, seconds) of CLIENTS threads released at once,
    each connecting and sending one ping over its own connection."""
    info = rpc_client.read_server(area.toppath)
    where = (rpc_client.server_address(info), int(info["port"]))
    headers = {rpc_client.TOKEN_HEADER: rpc_client.read_token(area.toppath)}
    body = b'{"cmd": "ping", "params": {}}'
    gate, outcomes = threading.Barrier(clients + 1), []

    def client():
        gate.wait()
        start = time.perf_counter()
        try:
            conn = rpc_client.Connection(*where, timeout=CLIENT_TIMEOUT)
            connected = time.perf_counter() - start
            status = conn.post(rpc_client.API_PATH, body, headers)[0]
            conn.close()
            outcomes.append((status == 200, connected))
        except (OSError, ValueError):
            outcomes.append((False, time.perf_counter() - start))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    failed = sum(not ok for ok, _ in outcomes)
    return clients, failed, sum(ok and connect >= SYN_RETRY for ok, connect in outcomes), seconds


def baseline_bursts(environ, area, sizes):
    """The bursts against this mt-serve with the old listen backlog, in the foreground."""
    proc = subprocess.Popen([sys.executable, "-c", BASELINE_SERVER, "--area", area.toppath],
                            env=dict(environ, PYTHONPATH=os.path.join(REPO, "lib")),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while (rpc_client.read_server(area.toppath) or {}).get("pid") != proc.pid:
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("bench/rpc: the baseline server did not start")
            time.sleep(0.05)
        return [burst(area, n) for n in sizes]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def report_bursts(baseline, served):
    print(f"simultaneous clients, one ping each over its own connection (client timeout "
          f"{CLIENT_TIMEOUT:g} s; 'waited' = connect took >= {SYN_RETRY} s, a dropped SYN resent)")
    print(f"{'listen backlog':<18}{'clients':>8}{'failed':>8}{'waited':>8}{'seconds':>9}"
          f"{'ratio':>8}")
    for name, rows in ((f"{BASELINE_BACKLOG} (baseline)", baseline),
                       (f"{rpc_http.LISTEN_BACKLOG} (mt-serve)", served)):
        for (clients, failed, waited, seconds), (_, _, _, base) in zip(rows, baseline):
            print(f"{name:<18}{clients:>8}{failed:>8}{waited:>8}{seconds:>9.2f}"
                  f"{seconds / base:>8.2f}")
    return all(failed == 0 for _, failed, _, _ in served)


# ---------------------------------------------------------------- main

def parse_args(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="bench/rpc.py")
    parser.add_argument("updates", nargs="?", type=int, default=DEFAULT_UPDATES)
    parser.add_argument("processes", nargs="?", type=int, default=DEFAULT_PROCESSES)
    parser.add_argument("--clients", default=",".join(map(str, BURST_CLIENTS)))
    parser.add_argument("--burst-only", action="store_true")
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",")]
    return args


def main(argv):
    args = parse_args(argv)
    if not os.access(os.path.join(BIN, "mt-serve"), os.X_OK):
        sys.exit("bench/rpc: run `make` first (needs .venv/bin/mt-serve and mt-test)")
    with tempfile.TemporaryDirectory(prefix="mt-bench-rpc-") as tmp:
        environ, area, ids = make_area(tmp)
        path = area.live_db_path(environ)
        os.environ["MT_TMPDIR"] = environ["MT_TMPDIR"]
        baseline = baseline_bursts(environ, area, args.clients)
        serve(environ, area, "--ensure")
        try:
            served = [burst(area, n) for n in args.clients]
            rows = None if args.burst_only else \
                measure(environ, area, path, ids, args.updates, args.processes)
        finally:
            serve(environ, area, "--stop")
    if rows:
        report(rows, args.updates, args.processes)
    return 0 if report_bursts(baseline, served) else 1


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
