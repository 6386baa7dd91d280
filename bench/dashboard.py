"""Dashboard: the grid's first paint and the change feed's latency on a big area, with and
without a run writing; and whether a grid refreshed every second slows that run.

Usage: python bench/dashboard.py [--runs 100] [--records 2500] [--samples 40]
                                 [--live-items 400] [--chromium] [--screenshot FILE]
                                 [--tmpdir DIR] [--keep]

Build: an area whose live database holds RUNS runs x RECORDS records (4 targets; each run
has RECORDS/25 tests of 24 items plus their toplevels; items 0.4 % FAIL, 0.4 % WARN), written
through the project's store functions (db.register_run, db.register_tests,
db.update_test, db.rollup_toplevel, the run's rollup as mt-run does it), one transaction
per run. `[server] dashboard-reads open`, so the
clients need no login. Then mt-serve --ensure.

Part 1, latency: SAMPLES rounds, each one request of every kind below, over one keep-alive
connection, timed from the request to the last byte of the reply; first with nothing
writing, then while a real mt-run of LIVE_ITEMS items (`sleep 0.2` each, 4 at a time)
writes to the same database. The kinds: a static asset (the baseline), the grid page (the
newest 10 runs, items folded: 10 x RECORDS/25 cells), its JSON, the grid with every item
(10 x RECORDS cells), and the change feed asked as the page asks it (since the number the
previous answer gave). With --chromium (needs chromium, chromium-driver and selenium), also
Chromium's own timing of loading the grid page: the first contentful paint and the load
event, from the Navigation and Paint Timing APIs.

Part 2, the runner: the same mt-run (a new run name each time) alone, then with a client
that fetches the grid page every second, twice each, alternating. Goal: the runner's wall
time grows by at most 10 %.

Exit status: 0 measured and the runner's goal met; 1 a command failed; 3 the runner was
slowed more than 10 %.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(REPO, "lib"))
sys.path.insert(0, BENCH)

from megatest import rollup  # noqa: E402
from megatest.config.area import Area  # noqa: E402
from megatest.store import db  # noqa: E402
from runner_overhead import bench_env, command_path, leave_tmp, machine_note, table  # noqa: E402
from sync_lag import percentile  # noqa: E402

TARGETS = [("linux", "x86_64"), ("linux", "arm64"), ("darwin", "arm64"), ("windows", "x86_64")]
ITEMS_PER_TEST = 24
LIVE_TARGET = "linux/x86_64"
REFRESH_EVERY = 1.0          # s between grid fetches of the refreshing client in part 2
RUNNER_GOAL = 1.10           # part 2: wall time with refreshes / alone
MAX_JOBS = 4
SCREENSHOT_SIZE = (1000, 560)     # px of --screenshot (the README's picture)


def write_area(top, live_items, runner_items):
    """The area: `live` (part 1's writer) and `timed` (part 2's runs), one sleep per item."""
    disk = os.path.join(os.path.dirname(top), "disk0")
    os.makedirs(disk, exist_ok=True)
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, "megatest.config"), "w") as f:
        f.write(f"[fields]\nos TEXT\narch TEXT\n[setup]\nmax_concurrent_jobs {MAX_JOBS}\n"
                f"[disks]\ndisk0 {disk}\n[server]\ndashboard-reads open\n")
    with open(os.path.join(top, "runconfigs.config"), "w") as f:
        f.write("[default]\n")
    for name, items in (("live", live_items), ("timed", runner_items)):
        os.makedirs(os.path.join(top, "tests", name), exist_ok=True)
        with open(os.path.join(top, "tests", name, "testconfig"), "w") as f:
            f.write(f"[items]\nN {' '.join(str(i) for i in range(items))}\n\n"
                    "[ezsteps]\nwork sleep 0.2\n")


def build(area, env, runs, records):
    """RUNS runs of RECORDS records each, oldest first, through the store's functions."""
    tests = max(1, records // (ITEMS_PER_TEST + 1))
    names = [(f"test_{t:03d}", "") for t in range(tests)] + \
        [(f"test_{t:03d}", f"item_{i:02d}") for t in range(tests) for i in range(ITEMS_PER_TEST)]
    rng = random.Random(11)
    conn = db.open_area_db(area, env)
    keys = db.register_keys(conn, ["os", "arch"])
    start = time.time() - runs * 3600
    for r in range(runs):
        now = start + r * 3600
        with db.transaction(conn):
            run_id = db.register_run(conn, keys, list(TARGETS[r % len(TARGETS)]),
                                     f"nightly_{r // len(TARGETS):03d}", "bench", now=now)
            db.register_tests(conn, run_id, names, now=now)
            for row in db.tests_of_run(conn, run_id):
                if row["item_path"]:
                    x = rng.random()
                    status = "FAIL" if x < 0.004 else "WARN" if x < 0.008 else "PASS"
                    db.update_test(conn, row["id"], state="COMPLETED", status=status,
                                   run_duration=round(x * 30, 1))
            for t in range(tests):
                db.rollup_toplevel(conn, run_id, f"test_{t:03d}")
            tops = [(r["state"], r["status"]) for r in db.run_toplevel_statuses(conn, run_id)]
            db.set_run(conn, run_id, state="completed", rollup_status=rollup.rollup(tops)[1])
    conn.close()
    return tests * (ITEMS_PER_TEST + 1)


class Client:
    """One keep-alive HTTP connection to the server; get() returns (seconds, status, body)."""

    def __init__(self, info):
        self.host, self.port = info["address"], info["port"]
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def get(self, path):
        t0 = time.perf_counter()
        try:
            self.conn.request("GET", path)
            reply = self.conn.getresponse()
            body = reply.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            raise
        return time.perf_counter() - t0, reply.status, body

    def close(self):
        self.conn.close()


def sample(info, samples, until=None):
    """{kind: [seconds]} over SAMPLES rounds (fewer when UNTIL() turns true)."""
    client = Client(info)
    seq = json.loads(client.get("/api/grid?columns=1")[2])["seq"]
    kinds = {"static": "/static/favicon.svg", "grid": "/", "grid_json": "/api/grid",
             "grid_items": "/?expand=%25"}
    out = {k: [] for k in [*kinds, "changes"]}
    out["changed_rows"] = []
    try:
        for _ in range(samples):
            if until and until():
                break
            for kind, path in kinds.items():
                seconds, status, _ = client.get(path)
                if status != 200:
                    raise SystemExit(f"dashboard: GET {path} answered {status}")
                out[kind].append(seconds)
            seconds, status, body = client.get(f"/api/changes?since={seq}")
            reply = json.loads(body)
            if status != 200:
                raise SystemExit(f"dashboard: the change feed answered {status}: {reply}")
            seq = reply["seq"]
            out["changes"].append(seconds)
            out["changed_rows"].append(len(reply["tests"]))
    finally:
        client.close()
    return out


def start_run(top, env, runname, tmp, test):
    log = open(os.path.join(tmp, f"{runname}.out"), "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen([command_path("mt-run"), "--area", top, "--target", LIVE_TARGET,
                             "--runname", runname, "--testpatt", test, "--quiet"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, t0, log


def finish_run(proc, t0, log, runname):
    code = proc.wait()
    wall = time.perf_counter() - t0
    log.close()
    if code != 0:
        raise SystemExit(f"dashboard: mt-run --runname {runname} exited {code}; see {log.name}")
    return wall


def runner_wall(top, env, tmp, runname, info=None):
    """Wall time of one mt-run; with INFO, a client fetches the grid page every second."""
    stop, fetched = threading.Event(), []

    def refresh():
        client = Client(info)
        try:
            while not stop.wait(REFRESH_EVERY):
                fetched.append(client.get("/")[0])
        finally:
            client.close()

    thread = threading.Thread(target=refresh) if info else None
    proc, t0, log = start_run(top, env, runname, tmp, "timed")
    if thread:
        thread.start()
    try:
        return finish_run(proc, t0, log, runname), fetched
    finally:
        stop.set()
        if thread:
            thread.join()


# Chromium may paint after the load event, so wait for the paint entry (5 s at most).
PAINT_SCRIPT = """
const done = arguments[arguments.length - 1];
const nav = performance.getEntriesByType('navigation')[0];
new PerformanceObserver((list, observer) => {
  const paint = list.getEntriesByName('first-contentful-paint')[0];
  if (paint) { observer.disconnect(); done([paint.startTime, nav.loadEventEnd]); }
}).observe({type: 'paint', buffered: true});
setTimeout(() => done([null, nav.loadEventEnd]), 5000);
"""


def chromium_timing(info, samples, screenshot=None):
    """[(first contentful paint, load event)] in seconds of loading the grid page in
    Chromium SAMPLES times; None when Chromium or selenium is missing."""
    sys.path.insert(0, os.path.join(REPO, "tests"))
    try:
        from browser import CHROMEDRIVER, CHROMIUM, start_chromium
        import selenium  # noqa: F401
    except ImportError:
        return None
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return None                    # a bench installs nothing: tests/browser.py does
    driver, profile = start_chromium()
    url = f"http://{info['address']}:{info['port']}/"
    out = []
    try:
        driver.get(url)                        # warm: assets cached as a user's would be
        for _ in range(samples):
            driver.get(url)
            timing = driver.execute_async_script(PAINT_SCRIPT)
            out.append(tuple(None if v is None else v / 1000.0 for v in timing))
        if screenshot:
            driver.set_window_size(*SCREENSHOT_SIZE)
            driver.get(url)
            driver.save_screenshot(screenshot)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return out


def ms(values, p):
    return f"{percentile(values, p) * 1000:7.1f}" if values else "      -"


def latency_rows(idle, busy, baseline_kind="static"):
    base = (percentile(idle[baseline_kind], 50), percentile(busy[baseline_kind], 50))
    labels = {"static": "static asset (the baseline)", "grid": "grid page, items folded",
              "grid_json": "grid JSON (/api/grid)", "grid_items": "grid page, every item",
              "changes": "change feed (/api/changes)", "fcp": "Chromium: first contentful paint",
              "load": "Chromium: load event"}
    rows = []
    for kind, label in labels.items():
        if kind not in idle:
            continue
        ratio = ""
        if kind not in ("static", "fcp", "load"):
            ratio = (f"  {percentile(idle[kind], 50) / base[0]:6.1f}x"
                     f" {percentile(busy[kind], 50) / base[1]:6.1f}x")
        rows.append((label, f"{ms(idle[kind], 50)} {ms(idle[kind], 99)}   "
                            f"{ms(busy[kind], 50)} {ms(busy[kind], 99)}{ratio}"))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100, help="runs in the database (default 100)")
    ap.add_argument("--records", type=int, default=2500, help="records per run (default 2500)")
    ap.add_argument("--samples", type=int, default=40, help="requests of each kind (default 40)")
    ap.add_argument("--live-items", type=int, default=400,
                    help="items of the run that writes during part 1 (default 400)")
    ap.add_argument("--runner-items", type=int, default=200,
                    help="items of the runs timed in part 2 (default 200)")
    ap.add_argument("--chromium", action="store_true", help="also time the page in Chromium")
    ap.add_argument("--screenshot", metavar="FILE", help="save Chromium's view of the grid, "
                    "taken while the run writes (implies --chromium)")
    ap.add_argument("--tmpdir", metavar="DIR", help="build under DIR (default: system temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="mt-bench-dashboard-", dir=args.tmpdir)
    env = bench_env(tmp)
    top = os.path.join(tmp, "area")
    info = None
    try:
        print(machine_note(tmp), flush=True)
        write_area(top, args.live_items, args.runner_items)
        area = Area(os.path.realpath(top))
        t0 = time.perf_counter()
        per_run = build(area, env, args.runs, args.records)
        print(f"dashboard: built {args.runs} runs x {per_run} records "
              f"({args.runs * per_run:,}) in {time.perf_counter() - t0:.1f} s; the grid shows "
              f"the newest 10 runs, {per_run // (ITEMS_PER_TEST + 1)} tests of "
              f"{ITEMS_PER_TEST} items folded", flush=True)
        out = subprocess.run([command_path("mt-serve"), "--area", top, "--ensure", "--bind",
                              "127.0.0.1"], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"dashboard: mt-serve --ensure failed: {out.stdout}{out.stderr}")
        with open(os.path.join(top, ".mt", "server.json")) as f:
            info = json.load(f)
        chromium = args.chromium or args.screenshot
        idle = sample(info, args.samples)
        if chromium:
            timing = chromium_timing(info, min(args.samples, 20))
            if timing is None:
                print("  (no Chromium timing: chromium, chromium-driver or selenium missing)")
                chromium = False
            else:
                idle["fcp"], idle["load"] = [t[0] for t in timing if t[0]], [t[1] for t in timing]
        proc, t0, log = start_run(top, env, "writing", tmp, "live")
        busy = sample(info, args.samples, until=lambda: proc.poll() is not None)
        if chromium:
            timing = chromium_timing(info, min(args.samples, 20), args.screenshot)
            busy["fcp"], busy["load"] = [t[0] for t in timing if t[0]], [t[1] for t in timing]
        finish_run(proc, t0, log, "writing")
        print(f"part 1: {len(idle['grid'])} samples of each idle, {len(busy['grid'])} while "
              f"mt-run wrote ({statistics.mean(busy['changed_rows'] or [0]):.0f} changed "
              "records per change-feed answer on average); milliseconds")
        print(f"  {'':35}  idle p50    p99   writing p50   p99   vs baseline (p50)")
        print(table(latency_rows(idle, busy)), flush=True)
        walls = {"alone": [], "refreshed": []}
        fetches = []
        for round_ in range(2):
            walls["alone"].append(runner_wall(top, env, tmp, f"alone_{round_}")[0])
            wall, fetched = runner_wall(top, env, tmp, f"refreshed_{round_}", info)
            walls["refreshed"].append(wall)
            fetches += fetched
        alone, refreshed = statistics.median(walls["alone"]), statistics.median(walls["refreshed"])
        print(f"part 2: mt-run of {args.runner_items} items, twice each, median wall time")
        print(table([
            ("alone", f"{alone:6.2f} s  ({', '.join(f'{w:.2f}' for w in walls['alone'])})"),
            ("grid page fetched every 1 s", f"{refreshed:6.2f} s  "
             f"({', '.join(f'{w:.2f}' for w in walls['refreshed'])}; {len(fetches)} fetches, "
             f"p50 {ms(fetches, 50).strip()} ms)"),
            ("ratio", f"{refreshed / alone:6.2f}x  (goal <= {RUNNER_GOAL:.2f}x)"),
        ]), flush=True)
        return 3 if refreshed / alone > RUNNER_GOAL else 0
    finally:
        if info:
            subprocess.run([command_path("mt-serve"), "--area", top, "--stop"], env=env,
                           capture_output=True)
        leave_tmp(tmp, args.keep)


if __name__ == "__main__":
    sys.exit(main())
