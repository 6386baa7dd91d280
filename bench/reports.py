"""Reports: what mt-report and mt-list history/failures cost on a big area, against the
listing they are views of (`mt-list runs --json` of the same runs), in the same command.

Usage: python bench/reports.py [--runs 100] [--records 2500] [--repeat 3] [--tmpdir DIR] [--keep]

Build: dashboard.py's area (RUNS runs x RECORDS records over 4 targets, items 0.4 % FAIL,
0.4 % WARN; written through the store's functions). Then each command below REPEAT times,
median wall time, first for one run (the newest, RECORDS records) and then, where it
applies, for every run. The baseline of each group is `mt-list runs --json` of the same
selection: the read and the result structure, printed. A report costs what the structure
costs plus its own work; the ratio says how much that own work is.

Exit status: 0 measured; 1 a command failed.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "lib"))
sys.path.insert(0, BENCH)

from megatest.config.area import Area  # noqa: E402
from dashboard import TARGETS, build, write_area  # noqa: E402
from runner_overhead import bench_env, command_path, leave_tmp, machine_note, table  # noqa: E402


def timed(argv, env, repeat, ok=(0,)):
    """Median wall seconds of ARGV over REPEAT runs; SystemExit when it fails."""
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if out.returncode not in ok:
            print(f"reports: {' '.join(argv)} exited {out.returncode}: {out.stderr.strip()}")
            raise SystemExit(1)
    return statistics.median(walls)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100, help="runs in the database (default 100)")
    ap.add_argument("--records", type=int, default=2500, help="records per run (default 2500)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command (default 3)")
    ap.add_argument("--tmpdir", metavar="DIR", help="build under DIR (default: system temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="mt-bench-reports-", dir=args.tmpdir)
    env = bench_env(tmp)
    top = os.path.join(tmp, "area")
    try:
        print(machine_note(tmp), flush=True)
        write_area(top, 1, 1)
        t0 = time.perf_counter()
        per_run = build(Area(os.path.realpath(top)), env, args.runs, args.records)
        print(f"reports: built {args.runs} runs x {per_run} records ({args.runs * per_run:,}) "
              f"in {time.perf_counter() - t0:.1f} s; median of {args.repeat}", flush=True)
        last = args.runs - 1                   # build() names run r after its target's turn
        newest = ["--target", "/".join(TARGETS[last % len(TARGETS)]),
                  "--runname", f"nightly_{last // len(TARGETS):03d}"]
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        area = ["--area", top]
        groups = [
            (f"one run ({per_run:,} records)", [
                ("mt-list runs --json (baseline)", ["mt-list", "runs", "--json", *newest]),
                ("mt-report junit", ["mt-report", "junit", *newest, "-o", f"{out}/one.xml"]),
                ("mt-report html", ["mt-report", "html", *newest, "-o", f"{out}/one"]),
                ("mt-report diff (against previous)", ["mt-report", "diff", *newest]),
                ("mt-list failures", ["mt-list", "failures", *newest]),
            ]),
            (f"every run ({args.runs * per_run:,} records)", [
                ("mt-list runs --json (baseline)", ["mt-list", "runs", "--json"]),
                ("mt-report junit", ["mt-report", "junit", "--runname", "%", "-o", f"{out}/all.xml"]),
                ("mt-list history (newest 10 of each target)", ["mt-list", "history"]),
                ("mt-list failures", ["mt-list", "failures"]),
            ]),
        ]
        rows = []
        for title, commands in groups:
            rows.append((title, ""))
            base = None
            for label, cmd in commands:
                wall = timed([command_path(cmd[0]), *cmd[1:], *area], env, args.repeat, ok=(0, 1))
                base = base or wall
                rows.append((f"  {label}", f"{wall:7.2f} s  {wall / base:5.2f}x"))
        print(table(rows), flush=True)
        return 0
    finally:
        leave_tmp(tmp, args.keep)


if __name__ == "__main__":
    sys.exit(main())
