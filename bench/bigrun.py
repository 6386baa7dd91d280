"""bigrun: three chained iterated tests of 2,501 items each, the size of Megatest's "bigrun" QA area.

Usage: python bench/bigrun.py [--items N] [--max-jobs N] [--tmpdir DIR] [--keep] [--profile FILE]

t1, t2 and t3 each have `[items] N 1 2 ... ITEMS` and `[ezsteps] s1 true`; t2 waits on t1 and
t3 on t2 with `mode itemmatch`, so item t2/K starts as soon as t1/K passes. One mt-run runs
them all (max_concurrent_jobs = MAX_JOBS, default: the number of CPUs, the spec's default for
local runs). Prints wall time, records/s, mt-run's own CPU and peak RSS, and checks through
`mt-list runs --json` that all 3 x ITEMS items and the 3 toplevels ended COMPLETED/PASS and that
mt-run exited 0 without writing to stderr.

Exit status: 0 every record passed, 1 otherwise.
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runner_overhead import (bench_env, check_records, count_inodes, fmt, machine_note,  # noqa: E402
                             mt_run_problems, records_of_run, run_mt_run, table, write_area)

TESTS = ("t1", "t2", "t3")


def bigrun_tests(items):
    values = " ".join(str(i) for i in range(1, items + 1))
    tests = {}
    for n, name in enumerate(TESTS):
        req = f"[requirements]\nwaiton {TESTS[n - 1]}\nmode itemmatch\n" if n else ""
        tests[name] = f"[ezsteps]\ns1 true\n{req}[items]\nN {values}\n"
    return tests


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=2501, help="items per test (default 2501)")
    ap.add_argument("--max-jobs", type=int, default=os.cpu_count() or 1,
                    help="the area's max_concurrent_jobs (default: the number of CPUs)")
    ap.add_argument("--tmpdir", metavar="DIR", help="build the area, run dirs and live db under DIR "
                    "(default: the system temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of mt-run to FILE "
                    "(slows mt-run down; the figures then include the profiler)")
    args = ap.parse_args(argv)
    expected = len(TESTS) * (args.items + 1)
    tmp = tempfile.mkdtemp(prefix="mt-bench-bigrun-", dir=args.tmpdir)
    try:
        area = os.path.join(tmp, "area")
        write_area(area, args.max_jobs, bigrun_tests(args.items))
        env = bench_env(tmp)
        print(f"bigrun: {len(TESTS)} chained tests (itemmatch) x {args.items} items = "
              f"{len(TESTS) * args.items} items + {len(TESTS)} toplevels; "
              f"max_concurrent_jobs {args.max_jobs}")
        print(machine_note(tmp), flush=True)
        fig = run_mt_run(area, env, tmp, profile=args.profile)
        problems = mt_run_problems(fig)
        rows, source = records_of_run(area, env)
        more, counts = check_records(rows, expected, "mt-run")
        problems += more
        wall = fig["wall"]
        out = [
            ("records", f"{expected} ({len(TESTS)} x {args.items} items + {len(TESTS)} toplevels)"),
            ("wall mt-run", f"{wall:9.2f} s"),
            ("records/s", f"{expected / wall:9.1f}   ({len(TESTS) * args.items / wall:.1f} items/s)"),
            ("CPU mt-run + tests", f"{fig['total_cpu']:9.2f} s"),
            ("CPU mt-run itself", f"{fmt(fig['self_cpu']):>9} s   = "
             + (f"{fig['self_cpu'] / expected * 1000:.2f} ms/record   (user {fig['self_user']:.2f}, "
                f"sys {fig['self_sys']:.2f})" if fig["self_cpu"] is not None else "?")),
            ("peak RSS mt-run", f"{fig['maxrss_kib'] / 1024:9.1f} MiB" if fig["maxrss_kib"] else "?"),
            ("files+dirs made per item",
             f"{count_inodes([os.path.join(tmp, 'disk0'), os.path.join(area, 'lt')]) / (len(TESTS) * args.items):9.1f}"),
            ("results", f"{', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}  (from {source})"),
        ]
        print(table(out))
        if args.profile:
            print(f"profile written to {args.profile} (times above include the profiler)")
        if args.keep:
            print(f"kept: {tmp}")
        if problems:
            print("FAILED:\n" + "\n".join(problems))
            return 1
        print("all records PASS, no errors")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
