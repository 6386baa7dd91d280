"""Sync lag: how far the area's shared megatest.db trails the live database, and what one
incremental sync costs in a small and a large database.

Usage: python bench/sync_lag.py [--seconds 30] [--rate 20] [--interval 5] [--sizes 10000,1000000]
                                [--changed 100] [--repeat 7] [--tmpdir DIR] [--keep]

Part 1 (lag): a real area, one `mt-run` so that the live db and megatest.db exist, then
`mt-sync --area A --for N --interval I` as a subprocess (what cron starts each minute) while a
writer thread updates tests.comment RATE times a second with an increasing counter (one
transaction each, through megatest.db). Every 0.2 s a sampler reads the counter from
megatest.db (read-only, fresh connection) and from the live db. The lag of a sample is how long
the oldest change not yet in megatest.db has been waiting: 0 when megatest.db shows the live
value, else now - commit time of counter (shared + 1). Goal: max <= 5 s, p50 <= 1 s.

Part 2 (cost vs size): for each size, a live db with that many test_data rows (built in big
transactions through the real schema and its change-number triggers), a first full sync, then
REPEAT times: change CHANGED random rows and time sync.sync_once. Goal: the median is about the
same for 10k and 1M rows (a pass copies what changed, not the file).

Exit status: 0 goals met; 1 max lag > 5 s, or a sync copied the wrong rows, or a command failed;
3 max lag met but p50 lag > 1 s.
"""
import argparse
import os
import random
import shutil
import sqlite3
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

from megatest.config.area import Area  # noqa: E402
from megatest.store import db, sync  # noqa: E402
from runner_overhead import bench_env, command_path, machine_note, table, write_area  # noqa: E402

SAMPLE_EVERY = 0.2        # s
MAX_LAG_GOAL = 5.0        # s
P50_LAG_GOAL = 1.0        # s
ROWS_PER_TEST = 1000      # test_data rows per test record in part 2
BUILD_BATCH = 50000       # rows per transaction while building


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def read_comment(path, test_id):
    """The counter in tests.comment of test_id, read through a fresh read-only connection."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT comment FROM tests WHERE id=?", (test_id,)).fetchone()
    finally:
        conn.close()
    text = row[0] if row else ""
    return int(text[2:]) if text.startswith("c=") else 0


# ------------------------------------------------------------------ part 1: lag under load

def lag_bench(tmp, args):
    env = bench_env(tmp)
    top = os.path.join(tmp, "area")
    write_area(top, 2, {"t": "[ezsteps]\ns1 true\n"})
    proc = subprocess.run([command_path("mt-run"), "--area", top, "--target", "a/b",
                           "--runname", "lag", "--quiet"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"sync_lag: mt-run exited {proc.returncode}: {proc.stderr}")
    area = Area(os.path.realpath(top))
    live, shared = area.live_db_path(env), area.shared_db_path
    conn = db.connect(live, readonly=True)
    test_id = conn.execute("SELECT id FROM tests WHERE testname='t' AND item_path=''").fetchone()[0]
    conn.close()

    written = {0: 0.0}            # counter -> time its transaction committed on the live db
    stop = threading.Event()
    errors = []

    def writer():
        period = 1.0 / args.rate
        counter, next_at = 0, time.time()
        conn = db.connect(live)
        try:
            while not stop.is_set():
                counter += 1
                with db.transaction(conn):
                    conn.execute("UPDATE tests SET comment=? WHERE id=?", (f"c={counter}", test_id))
                written[counter] = time.time()
                next_at += period
                stop.wait(max(0.0, next_at - time.time()))
        except Exception as err:          # reported by the main thread
            errors.append(f"writer: {err}")
        finally:
            conn.close()

    syncer = subprocess.Popen([command_path("mt-sync"), "--area", area.toppath, "--for",
                               str(args.seconds + 15), "--interval", str(args.interval)],
                              env=env, stderr=subprocess.PIPE, text=True)
    samples = []                  # (lag s, live counter - shared counter)
    try:
        time.sleep(1.0)           # mt-sync's start (imports, the lock) is not part of the lag
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        start = time.time()
        next_at = start + SAMPLE_EVERY
        while time.time() - start < args.seconds:
            time.sleep(max(0.0, next_at - time.time()))
            next_at += SAMPLE_EVERY
            now = time.time()
            try:
                seen = read_comment(shared, test_id)
                live_value = read_comment(live, test_id)
            except sqlite3.Error as err:
                errors.append(f"sampler: {err}")
                continue
            pending = written.get(seen + 1)       # first change megatest.db does not have yet
            lag = 0.0 if pending is None or live_value <= seen else max(0.0, now - pending)
            samples.append((lag, live_value - seen))
            if syncer.poll() is not None:
                errors.append(f"mt-sync exited early ({syncer.returncode}): {syncer.stderr.read()}")
                break
        stop.set()
        thread.join()
    finally:
        stop.set()
        if syncer.poll() is None:
            syncer.terminate()
        syncer.wait()
    writes = len(written) - 1
    if writes < args.rate * args.seconds * 0.5:
        errors.append(f"the writer managed only {writes} writes in {args.seconds:g} s")
    lags = [s[0] for s in samples]
    return {"samples": len(samples), "writes": writes, "lags": lags,
            "behind": max((s[1] for s in samples), default=0), "errors": errors,
            "stale": sum(1 for s in samples if s[0] > 0)}


# ------------------------------------------------------------------ part 2: cost vs database size

def build_db(tmp, nrows):
    """A live db with nrows test_data rows (ROWS_PER_TEST per test); returns (area, live path, s)."""
    top = os.path.join(tmp, f"area-{nrows}")
    os.makedirs(top)
    with open(os.path.join(top, "megatest.config"), "w") as f:
        f.write("[fields]\nos TEXT\n")
    environ = {"MT_TMPDIR": os.path.join(tmp, "mt-tmp"), "USER": "bench"}
    area = Area(top)
    t0 = time.perf_counter()
    conn = db.open_area_db(area, environ)
    keys = db.register_keys(conn, ["os"])
    with db.transaction(conn):
        run_id = db.register_run(conn, keys, ["linux"], "size", "bench")
        ntests = max(1, (nrows + ROWS_PER_TEST - 1) // ROWS_PER_TEST)
        db.register_tests(conn, run_id, [(f"t{i:05d}", "") for i in range(ntests)])
    test_ids = [r[0] for r in conn.execute("SELECT id FROM tests WHERE run_id=? ORDER BY id", (run_id,))]
    now = time.time()
    rows = ((test_ids[k // ROWS_PER_TEST], "perf", f"v{k % ROWS_PER_TEST:04d}", k * 0.5, 100, 10,
             "MB/s", "", "pass", "", now) for k in range(nrows))
    sql = ("INSERT INTO test_data (test_id, category, variable, value, expected, tol, units, "
           "comment, status, type, last_update) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    while True:
        batch = [r for _, r in zip(range(BUILD_BATCH), rows)]
        if not batch:
            break
        with db.transaction(conn):
            conn.executemany(sql, batch)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return area, area.live_db_path(environ), time.perf_counter() - t0


def size_bench(tmp, nrows, args, rng):
    area, live, build_s = build_db(tmp, nrows)
    shared = area.shared_db_path
    first = sync.sync_once(live, shared)
    problems = []
    if not first.full:
        problems.append(f"{nrows} rows: the first sync was not a full copy")
    conn = db.connect(live)
    max_id = conn.execute("SELECT max(id) FROM test_data").fetchone()[0]
    times, wall = [], []
    for rep in range(args.repeat):
        ids = rng.sample(range(1, max_id + 1), args.changed)
        with db.transaction(conn):
            conn.executemany("UPDATE test_data SET value=?, comment=? WHERE id=?",
                             [(rep + 1000.0, f"rep {rep}", i) for i in ids])
        t0 = time.perf_counter()
        result = sync.sync_once(live, shared)
        wall.append(time.perf_counter() - t0)
        times.append(result.seconds)
        if result.full or result.rows != args.changed:
            problems.append(f"{nrows} rows, repetition {rep + 1}: sync copied {result.rows} rows "
                            f"(full copy: {result.full}), expected {args.changed} changed rows")
    check = sqlite3.connect(f"file:{shared}?mode=ro", uri=True)
    got = sorted(check.execute("SELECT id, value FROM test_data WHERE comment=?",
                               (f"rep {args.repeat - 1}",)).fetchall())
    want = sorted(tuple(r) for r in conn.execute("SELECT id, value FROM test_data WHERE comment=?",
                                                 (f"rep {args.repeat - 1}",)))
    check.close()
    conn.close()
    if got != want:
        problems.append(f"{nrows} rows: megatest.db does not have the last changes")
    return {"rows": nrows, "build": build_s, "full": first.seconds, "median": statistics.median(wall),
            "min": min(wall), "max": max(wall), "size_mb": os.path.getsize(shared) / 1e6,
            "problems": problems}


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30, help="length of the lag measurement (default 30)")
    ap.add_argument("--rate", type=float, default=20, help="writes per second during it (default 20)")
    ap.add_argument("--interval", type=float, default=5,
                    help="mt-sync --interval (default 5, mt-sync's own default)")
    ap.add_argument("--sizes", default="10000,1000000", help="test_data rows of the databases of part 2")
    ap.add_argument("--changed", type=int, default=100, help="rows changed before each timed sync")
    ap.add_argument("--repeat", type=int, default=7, help="timed syncs per size; the median is reported")
    ap.add_argument("--skip-lag", action="store_true", help="part 2 only")
    ap.add_argument("--skip-size", action="store_true", help="part 1 only")
    ap.add_argument("--tmpdir", metavar="DIR", help="build everything under DIR (default: system temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tmp = tempfile.mkdtemp(prefix="mt-bench-sync-", dir=args.tmpdir)
    problems, status = [], 0
    try:
        print(machine_note(tmp), flush=True)
        if not args.skip_lag:
            print(f"lag: {args.rate:g} writes/s of tests.comment for {args.seconds:g} s, mt-sync --for "
                  f"{args.seconds + 15:g} --interval {args.interval:g}, megatest.db sampled every {SAMPLE_EVERY:g} s", flush=True)
            fig = lag_bench(tmp, args)
            problems += fig["errors"]
            for err in fig["errors"]:
                print(f"  error: {err}", flush=True)
            lags = fig["lags"]
            print(table([
                ("writes / samples", f"{fig['writes']} / {fig['samples']}"),
                ("samples behind the live db", f"{fig['stale']} ({100.0 * fig['stale'] / max(1, len(lags)):.0f} %),"
                                               f" at most {fig['behind']} changes behind"),
                ("lag p50", f"{percentile(lags, 50):6.2f} s   (goal <= {P50_LAG_GOAL:g} s)"),
                ("lag p99", f"{percentile(lags, 99):6.2f} s"),
                ("lag max", f"{max(lags, default=float('nan')):6.2f} s   (goal <= {MAX_LAG_GOAL:g} s)"),
            ]), flush=True)
            if not lags or max(lags) > MAX_LAG_GOAL:
                problems.append(f"max lag {max(lags, default=float('nan')):.2f} s > {MAX_LAG_GOAL:g} s")
            elif percentile(lags, 50) > P50_LAG_GOAL:
                status = 3
                print(f"goal missed: p50 lag {percentile(lags, 50):.2f} s > {P50_LAG_GOAL:g} s")
        if not args.skip_size:
            print(f"sync cost: {args.changed} random test_data rows changed, then sync.sync_once; "
                  f"median of {args.repeat}", flush=True)
            rng = random.Random(1)
            figs = []
            for n in sizes:
                fig = size_bench(tmp, n, args, rng)
                problems += fig["problems"]
                figs.append(fig)
            print(f"  {'rows':>9}  {'db MB':>7}  {'build s':>8}  {'full sync s':>11}  "
                  f"{'sync ' + str(args.changed) + ' rows ms: median':>26}  {'min':>6}  {'max':>6}")
            for f in figs:
                print(f"  {f['rows']:>9,}  {f['size_mb']:>7.1f}  {f['build']:>8.1f}  {f['full']:>11.2f}  "
                      f"{f['median'] * 1000:>26.1f}  {f['min'] * 1000:>6.1f}  {f['max'] * 1000:>6.1f}")
            if len(figs) >= 2:
                print(f"  ratio {figs[-1]['rows']:,} / {figs[0]['rows']:,} rows: "
                      f"{figs[-1]['median'] / figs[0]['median']:.2f} x   (goal: about 1)")
        if args.keep:
            print(f"kept: {tmp}")
        if problems:
            print("FAILED:\n  " + "\n  ".join(problems))
            return 1
        if status == 0:
            print("goals met")
        return status
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
