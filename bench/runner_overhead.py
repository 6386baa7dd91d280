"""Runner overhead: mt-run against `make -j` on the same dependency graph of trivial jobs.

Usage: python bench/runner_overhead.py [--chains N] [--tests-per-chain N] [--max-jobs N]
                                       [--make-jobs N] [--keep] [--profile FILE]

Builds, in a temp dir, an area of CHAINS x TESTS_PER_CHAIN trivial tests (`[ezsteps] s1 true`),
test c<chain>_<i> waiting on c<chain>_<i-1>, and a Makefile with the same graph whose recipes
run `true`. Runs `make -j MAKE_JOBS` and then `mt-run` (max_concurrent_jobs = MAX_JOBS), checks
that every record ended COMPLETED/PASS (through `mt-list runs --json`), and prints wall times,
their ratio and CPU seconds per test. Target: mt-run wall <= 3 x make wall.

CPU: "total" is the getrusage(RUSAGE_CHILDREN) delta around the subprocess (mt-run plus every
test it started); "runner" is mt-run's own RUSAGE_SELF, written at exit by a small shim that
runs the installed mt-run script in the same interpreter (runpy), so nothing else changes.

Exit status: 0 correct and within the target, 1 a record did not pass or a command failed,
3 correct but slower than the target.
"""
import argparse
import glob
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
TARGET_RATIO = 3.0
TARGET = "x86/linux"
RUNNAME = "bench"

# Runs the mt-run script in this interpreter and writes its own rusage when it exits.
SHIM = r"""
import atexit, os, resource, runpy, sys
out = os.environ.pop("MT_BENCH_RUSAGE_OUT")
prof = os.environ.pop("MT_BENCH_PROFILE", "")
def _dump():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write(f"{s.ru_utime} {s.ru_stime} {s.ru_maxrss} {c.ru_utime} {c.ru_stime}\n")
atexit.register(_dump)
sys.argv = sys.argv[1:]
if prof:
    import cProfile
    p = cProfile.Profile()
    atexit.register(lambda: p.dump_stats(prof))   # runs before _dump (LIFO)
    p.enable()
runpy.run_path(sys.argv[0], run_name="__main__")
"""


# ------------------------------------------------------------------ shared with bigrun.py

def command_path(name):
    path = os.path.join(VENV_BIN, name)
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found in {VENV_BIN} or on PATH (run `make` first)")
    return found


def leave_tmp(tmp, keep):
    """A bench's end: its temp dir kept (and named) with --keep, else removed."""
    if keep:
        print(f"kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def interpreter_of(script):
    """The interpreter named by the script's #! line (the venv's python after `make`)."""
    with open(script) as f:
        first = f.readline().strip()
    if first.startswith("#!"):
        words = first[2:].split()
        if words and os.path.basename(words[0]) == "env" and len(words) > 1:
            return shutil.which(words[1]) or sys.executable
        if words:
            return words[0]
    return sys.executable


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def write_area(top, max_jobs, tests):
    """tests: {name: testconfig text}. Returns the area's disk directory."""
    disk = os.path.join(os.path.dirname(top), "disk0")
    os.makedirs(disk, exist_ok=True)
    write(os.path.join(top, "megatest.config"),
          f"[fields]\narch TEXT\nos TEXT\n[setup]\nmax_concurrent_jobs {max_jobs}\n[disks]\ndisk0 {disk}\n")
    write(os.path.join(top, "runconfigs.config"), "[default]\n")
    for name, text in tests.items():
        write(os.path.join(top, "tests", name, "testconfig"), text)
    return disk


def bench_env(tmp):
    env = dict(os.environ)
    env["MT_TMPDIR"] = os.path.join(tmp, "mt-tmp")
    os.makedirs(env["MT_TMPDIR"], exist_ok=True)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env.pop("MT_RUN_AREA_HOME", None)
    return env


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv, env, cwd=None, stdout=None):
    """Run argv; returns (exit code, wall s, CPU s of it and its waited-for descendants, stderr)."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=stdout or subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    return proc.returncode, wall, children_cpu() - cpu0, proc.stderr


def run_mt_run(area, env, tmp, extra=(), profile=None):
    """mt-run through the rusage shim. Returns a dict of figures and the output file."""
    mt_run = command_path("mt-run")
    out_file = os.path.join(tmp, "rusage.txt")
    log = os.path.join(tmp, "mt-run.out")
    env = dict(env, MT_BENCH_RUSAGE_OUT=out_file)
    if profile:
        env["MT_BENCH_PROFILE"] = os.path.abspath(profile)
    argv = [interpreter_of(mt_run), "-c", SHIM, mt_run, "--area", area, "--target", TARGET,
            "--runname", RUNNAME, "--quiet", *extra]
    with open(log, "w") as out:
        rc, wall, total_cpu, err = timed(argv, env, cwd=tmp, stdout=out)
    fig = {"rc": rc, "wall": wall, "total_cpu": total_cpu, "stderr": err, "log": log,
           "self_cpu": None, "self_user": None, "self_sys": None, "maxrss_kib": None, "tests_cpu": None}
    try:
        with open(out_file) as f:
            u, s, rss, cu, cs = f.read().split()
        fig.update(self_user=float(u), self_sys=float(s), self_cpu=float(u) + float(s),
                   maxrss_kib=int(rss), tests_cpu=float(cu) + float(cs))
    except (OSError, ValueError):
        pass
    return fig


def records_of_run(area, env):
    """[(testname, item_path, state, status, comment)] of the bench run, and where they came from."""
    mt_list = command_path("mt-list")
    proc = subprocess.run([mt_list, "runs", "--area", area, "--json"], env=env,
                          capture_output=True, text=True)
    if proc.returncode == 0:
        try:
            runs = json.loads(proc.stdout)
            rows = [(t["testname"], t["item_path"], t["state"], t["status"], t.get("comment", ""))
                    for r in runs if r["runname"] == RUNNAME and r["target"] == TARGET
                    for t in r["tests"]]
            return rows, "mt-list runs --json"
        except (ValueError, KeyError, TypeError) as err:
            why = f"unreadable output ({err})"
    else:
        lines = proc.stderr.strip().splitlines()
        why = f"exit {proc.returncode}: {lines[-1] if lines else ''}"
    # mt-list unavailable: read the live database directly (read-only).
    paths = glob.glob(os.path.join(env["MT_TMPDIR"], "mt-*", "*", "megatest.db"))
    if len(paths) != 1:
        sys.exit(f"bench: mt-list failed ({why}) and no single live db under {env['MT_TMPDIR']}")
    conn = sqlite3.connect(f"file:{paths[0]}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT t.testname, t.item_path, t.state, t.status, t.comment FROM tests t "
        "JOIN runs r ON r.id = t.run_id WHERE r.runname = ? AND r.target = ?",
        (RUNNAME, TARGET)).fetchall()
    conn.close()
    return rows, f"the live db, read directly (mt-list failed: {why})"


def check_records(rows, expected, label):
    """Problems (list of text) when the rows are not exactly `expected` COMPLETED/PASS records."""
    problems = []
    if len(rows) != expected:
        problems.append(f"{label}: {len(rows)} records, expected {expected}")
    bad = [r for r in rows if (r[2], r[3]) != ("COMPLETED", "PASS")]
    counts = {}
    for r in rows:
        counts[f"{r[2]}/{r[3]}"] = counts.get(f"{r[2]}/{r[3]}", 0) + 1
    if bad:
        problems.append(f"{label}: {len(bad)} records not COMPLETED/PASS; counts: "
                        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for r in bad[:5]:
            name = r[0] + (f"/{r[1]}" if r[1] else "")
            problems.append(f"  {name}: {r[2]}/{r[3]} {r[4] or ''}".rstrip())
    return problems, counts


def mt_run_problems(fig):
    problems = []
    if fig["rc"] != 0:
        problems.append(f"mt-run exited {fig['rc']} (output: {fig['log']})")
    err = [l for l in fig["stderr"].splitlines() if l.strip()]
    if err:
        problems.append("mt-run wrote to stderr:")
        problems.extend("  " + l for l in err[:10])
    return problems


def median(values):
    return statistics.median(list(values))


def fmt(value):
    return "?" if value is None else f"{value:.2f}"


def per_test(seconds, n):
    return f"{seconds:8.2f} s   = {seconds / n * 1000:.2f} ms/test"


def count_inodes(roots):
    n = 0
    for root in roots:
        for _, dirs, files in os.walk(root):
            n += len(dirs) + len(files)
    return n


def fs_probe(where, n=200):
    """(us per file create, us per mkdir) in a fresh directory under where: the disk's state today."""
    d = tempfile.mkdtemp(prefix="fsprobe-", dir=where)
    try:
        t0 = time.perf_counter()
        for i in range(n):
            with open(os.path.join(d, f"f{i}"), "w"):
                pass
        t1 = time.perf_counter()
        for i in range(n):
            os.mkdir(os.path.join(d, f"d{i}"))
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6


def machine_note(where):
    create, mkdir = fs_probe(where)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {os.cpu_count()} CPUs, load average {load}; in {where}: file create "
            f"{create:.0f} us, mkdir {mkdir:.0f} us (tmpfs: ~15 us)")


def table(rows):
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


# ------------------------------------------------------------------ this bench

def chain_tests(chains, per_chain):
    tests = {}
    for c in range(chains):
        for i in range(per_chain):
            req = f"[requirements]\nwaiton c{c}_{i - 1}\n" if i else ""
            tests[f"c{c}_{i}"] = "[ezsteps]\ns1 true\n" + req
    return tests


def makefile(chains, per_chain, shell=None):
    """The same graph for make. With shell=/bin/bash every recipe goes through bash, as every
    ezstep does in mt-run (GNU make runs a simple `true` without any shell otherwise)."""
    lines = [f"SHELL := {shell}"] if shell else []
    names = [f"c{c}_{i}" for c in range(chains) for i in range(per_chain)]
    lines.append("all: " + " ".join(f"c{c}_{per_chain - 1}" for c in range(chains)))
    lines.append(".PHONY: all " + " ".join(names))
    for c in range(chains):
        for i in range(per_chain):
            dep = f" c{c}_{i - 1}" if i else ""
            lines.append(f"c{c}_{i}:{dep}\n\ttrue")
    return "\n".join(lines) + "\n"


def one_round(base, args, make_jobs, profile=None):
    """make, then mt-run, on a fresh copy of the graph under base; returns the figures."""
    area = os.path.join(base, "area")
    write_area(area, args.max_jobs, chain_tests(args.chains, args.tests_per_chain))
    mk = os.path.join(base, "make")
    write(os.path.join(mk, "Makefile"), makefile(args.chains, args.tests_per_chain))
    env = bench_env(base)
    mrc, mwall, mcpu, merr = timed(["make", f"-j{make_jobs}", "-s"], env, cwd=mk)
    if mrc != 0:
        sys.exit(f"runner_overhead: make failed ({mrc}): {merr}")
    mkb = os.path.join(base, "make-bash")
    write(os.path.join(mkb, "Makefile"), makefile(args.chains, args.tests_per_chain, "/bin/bash"))
    brc, bwall, _, berr = timed(["make", f"-j{make_jobs}", "-s"], env, cwd=mkb)
    if brc != 0:
        sys.exit(f"runner_overhead: make (bash) failed ({brc}): {berr}")
    fig = run_mt_run(area, env, base, profile=profile)
    fig.update(make_wall=mwall, make_cpu=mcpu, make_bash_wall=bwall)
    fig["problems"] = mt_run_problems(fig)
    rows, fig["source"] = records_of_run(area, env)
    more, fig["counts"] = check_records(rows, args.chains * args.tests_per_chain, "mt-run")
    fig["problems"] += more
    fig["inodes"] = count_inodes([os.path.join(base, "disk0"), os.path.join(area, "lt")])
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chains", type=int, default=10)
    ap.add_argument("--tests-per-chain", type=int, default=100)
    ap.add_argument("--max-jobs", type=int, default=2,
                    help="the area's max_concurrent_jobs (default 2, to match make -j2)")
    ap.add_argument("--make-jobs", type=int, default=None, help="make -j N (default: --max-jobs)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of make + mt-run, alternating; medians are reported (default 3)")
    ap.add_argument("--tmpdir", metavar="DIR", help="build the areas, run dirs and live dbs under DIR "
                    "(default: the system temp dir; /dev/shm takes the disk out of the figures)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of mt-run to FILE (one round; "
                    "slows mt-run down, so the figures then include the profiler)")
    args = ap.parse_args(argv)
    make_jobs = args.make_jobs or args.max_jobs
    rounds = 1 if args.profile else max(1, args.repeat)
    ntests = args.chains * args.tests_per_chain
    tmp = tempfile.mkdtemp(prefix="mt-bench-overhead-", dir=args.tmpdir)
    try:
        print(f"runner_overhead: {ntests} trivial tests as {args.chains} chains of {args.tests_per_chain}; "
              f"make -j{make_jobs} vs mt-run with max_concurrent_jobs {args.max_jobs}; {rounds} round(s)")
        print(machine_note(tmp), flush=True)
        figs = []
        for k in range(rounds):
            fig = one_round(os.path.join(tmp, f"round{k + 1}"), args, make_jobs, args.profile)
            figs.append(fig)
            print(f"  round {k + 1}: make {fig['make_wall']:.3f} s, mt-run {fig['wall']:.3f} s "
                  f"({fig['wall'] / fig['make_wall']:.2f} x), mt-run CPU {fmt(fig['self_cpu'])} s, "
                  f"tests CPU {fmt(fig['tests_cpu'])} s", flush=True)
        problems = [p for f in figs for p in f["problems"]]
        mwall = median(f["make_wall"] for f in figs)
        rwall = median(f["wall"] for f in figs)
        ratio = rwall / mwall
        last = figs[-1]
        out = [
            ("tests", f"{ntests} ({args.chains} chains x {args.tests_per_chain})"),
            (f"wall make -j{make_jobs}", f"{mwall:8.3f} s   (CPU {median(f['make_cpu'] for f in figs):.2f} s)"),
            (f"wall mt-run (max_concurrent_jobs {args.max_jobs})", f"{rwall:8.3f} s"),
            ("ratio mt-run / make", f"{ratio:8.2f} x   (target <= {TARGET_RATIO:g} x)"),
            (f"wall make -j{make_jobs}, recipes via bash", f"{median(f['make_bash_wall'] for f in figs):8.3f} s"),
            ("ratio mt-run / make (bash recipes)",
             f"{rwall / median(f['make_bash_wall'] for f in figs):8.2f} x   (each ezstep runs in bash)"),
            ("CPU mt-run + tests", per_test(median(f["total_cpu"] for f in figs), ntests)),
        ]
        if all(f["self_cpu"] is not None for f in figs):
            out += [
                ("CPU mt-run itself", per_test(median(f["self_cpu"] for f in figs), ntests)
                 + f"   (user {median(f['self_user'] for f in figs):.2f}, "
                   f"sys {median(f['self_sys'] for f in figs):.2f})"),
                ("CPU the tests (wrappers)", per_test(median(f["tests_cpu"] for f in figs), ntests)),
                ("peak RSS mt-run", f"{max(f['maxrss_kib'] for f in figs) / 1024:8.1f} MiB"),
            ]
        out += [
            ("files+dirs made per test", f"{last['inodes'] / ntests:8.1f}   (run dirs and link tree)"),
            ("results", f"{', '.join(f'{k} {v}' for k, v in sorted(last['counts'].items()))}"
                        f"  (per round; from {last['source']})"),
        ]
        print("medians:" if rounds > 1 else "figures:")
        print(table(out))
        if args.profile:
            print(f"profile written to {args.profile} (times above include the profiler)")
        if args.keep:
            print(f"kept: {tmp}")
        if problems:
            print("FAILED:\n" + "\n".join(problems))
            return 1
        if ratio > TARGET_RATIO:
            print(f"target missed: mt-run took {ratio:.2f} x make's wall time (target <= {TARGET_RATIO:g} x)")
            return 3
        print("target met")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
