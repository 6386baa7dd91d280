"""Slurm throughput: N trivial tests through `mt-run` on Slurm against a shell loop of N
`sbatch --wrap true` plus waiting for all of them, in the same run, on the same cluster.

Usage: python bench/slurm_throughput.py [--tests 200] [--max-jobs N] [--repeat 1]
                                        [--slurm-conf FILE] [--tmpdir DIR] [--keep]

The cluster: $SLURM_CONF (or --slurm-conf) when given; otherwise a private one-node cluster
is started for the bench with tests/slurm_cluster.py (needs root; installs Slurm through
apt-get when missing) and stopped at the end.

Baseline: `bash -c 'for i in $(seq N); do sbatch --parsable --job-name=TAG
--output=DIR/slurm-%j.out --chdir=DIR --wrap true; done'`, then a loop of
`squeue --name=TAG` every 0.25 s until none of its jobs is pending, running or completing.

mt-run: an area of N tests (`[ezsteps] s1 true`, no waits), `[jobtools] launcher sbatch`,
max_concurrent_jobs = N unless --max-jobs; every record must end COMPLETED/PASS with a job id.

Both runs see the same PATH, whose first directory holds counting wrappers of sbatch,
squeue and scancel (a /bin/sh script that appends one line to a log and execs the real
command): the bench reports how many scheduler calls each side made. Target: mt-run wall
<= 1.5 x the baseline's.

Exit status: 0 correct and within the target, 1 a record did not pass or a command failed,
3 correct but slower than the target.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from runner_overhead import (REPO, bench_env, check_records, machine_note, median,  # noqa: E402
                             leave_tmp, records_of_run, run_mt_run, table, write_area)

TARGET_RATIO = 1.5
SPIED = ("sbatch", "squeue", "scancel")
BASELINE_POLL = 0.25          # s between the baseline's squeue calls while it waits


# ------------------------------------------------------------------ the cluster

def cluster_env(args):
    """({SLURM_CONF: ...}, stop function or None)."""
    conf = args.slurm_conf or os.environ.get("SLURM_CONF")
    if conf:
        return {"SLURM_CONF": os.path.abspath(conf)}, None
    sys.path.insert(0, os.path.join(REPO, "tests"))
    import slurm_cluster as sc
    try:
        sc.ensure_installed()
    except sc.Unavailable as err:
        sys.exit(f"bench: no Slurm cluster: {err}")
    for slot in range(sc.SLOTS):
        try:
            cluster = sc.start(sc.STATE_ROOT / f"slot{slot}")
            break
        except sc.ClusterBusy:
            continue
    else:
        sys.exit(f"bench: all cluster state dirs under {sc.STATE_ROOT} are in use")
    return dict(cluster.env), lambda: sc.stop(cluster)


def node_note(env):
    out = subprocess.run(["sinfo", "-h", "-o", "%n %c %T"], env=env, capture_output=True, text=True)
    return f"slurm: node(s) {out.stdout.strip() or '?'} (name, CPUs, state)"


def warm_up(env, tmp):
    """The first job after a cluster starts waits ~3 s more: keep that out of both timings."""
    subprocess.run(["sbatch", "--wait", "--job-name=warmup", f"--output={tmp}/warmup-%j.out",
                    "--wrap", "true"], env=env, capture_output=True, timeout=120)


# ------------------------------------------------------------------ counting wrappers

def spy_dir(tmp):
    """A directory of counting wrappers; returns (dir, {command: log file})."""
    d = os.path.join(tmp, "spy")
    os.makedirs(d)
    logs = {}
    for command in SPIED:
        real = shutil.which(command)
        if not real:
            sys.exit(f"bench: {command} not on PATH")
        logs[command] = os.path.join(tmp, f"{command}.calls")
        path = os.path.join(d, command)
        with open(path, "w") as f:
            f.write(f'#!/bin/sh\necho x >> {logs[command]}\nexec {real} "$@"\n')
        os.chmod(path, 0o755)
    return d, logs


def count_calls(logs):
    counts = {}
    for command, log in logs.items():
        try:
            with open(log) as f:
                counts[command] = sum(1 for _ in f)
        except FileNotFoundError:
            counts[command] = 0
    return counts


def reset_calls(logs):
    for log in logs.values():
        if os.path.exists(log):
            os.remove(log)


# ------------------------------------------------------------------ the two sides

BASELINE = r"""
set -e
for i in $(seq {n}); do
  sbatch --parsable --job-name={tag} --output={out}/slurm-%j.out --chdir={out} --wrap true >/dev/null
done
while [ -n "$(squeue --name={tag} -h -o %i --states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED)" ]; do
  sleep {poll}
done
"""


def run_baseline(env, tmp, n, round_no):
    out = os.path.join(tmp, f"baseline{round_no}")
    os.makedirs(out)
    tag = f"bench-baseline-{os.getpid()}-{round_no}"
    script = BASELINE.format(n=n, tag=tag, out=out, poll=BASELINE_POLL)
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    states = subprocess.run(["squeue", f"--name={tag}", "--states=all", "-h", "-o", "%T"], env=env,
                            capture_output=True, text=True).stdout.split()
    problems = []
    if proc.returncode != 0:
        problems.append(f"baseline exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    done = states.count("COMPLETED")
    if done != n:
        problems.append(f"baseline: {done} of {n} jobs COMPLETED (squeue: "
                        + ", ".join(f"{s} {states.count(s)}" for s in sorted(set(states))) + ")")
    return wall, problems


def run_mt(env, tmp, n, max_jobs, round_no):
    top = os.path.join(tmp, f"mt{round_no}", "area")
    write_area(top, max_jobs, {f"t{i:03d}": "[ezsteps]\ns1 true\n" for i in range(n)})
    with open(os.path.join(top, "megatest.config"), "a") as f:
        f.write("[jobtools]\nlauncher sbatch\n")
    fig = run_mt_run(top, env, os.path.dirname(top))
    problems = []
    if fig["rc"] != 0:
        problems.append(f"mt-run exited {fig['rc']} (output: {fig['log']})")
    err = [line for line in fig["stderr"].splitlines()       # notes (no area server) are fine
           if line.strip() and not line.startswith("mt-run: note:")]
    if err:
        problems.append("mt-run wrote to stderr: " + " | ".join(err[:5]))
    rows, source = records_of_run(top, env)
    more, counts = check_records(rows, n, "mt-run")
    problems.extend(more)
    listed = subprocess.run([os.path.join(REPO, ".venv", "bin", "mt-list"), "runs", "--area", top,
                             "--json"], env=env, capture_output=True, text=True)
    try:
        job_ids = [t["job_id"] for r in json.loads(listed.stdout) for t in r["tests"]]
    except ValueError:
        job_ids = []
    if len(set(j for j in job_ids if j)) != n:
        problems.append(f"mt-run: {len(set(j for j in job_ids if j))} distinct job ids for {n} tests")
    fig.update(counts=counts, source=source)
    return fig, problems


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--max-jobs", type=int, default=None, help="max_concurrent_jobs (default: --tests)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds (baseline, then mt-run, each round)")
    ap.add_argument("--slurm-conf", default=None, help="an existing cluster (default: $SLURM_CONF, "
                    "else a private one started for the bench)")
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    n, max_jobs = args.tests, args.max_jobs or args.tests

    tmp = tempfile.mkdtemp(prefix="mt-slurm-bench-", dir=args.tmpdir)
    slurm_env, stop = cluster_env(args)
    try:
        env = bench_env(tmp)
        env.update(slurm_env)
        spy, logs = spy_dir(tmp)
        env["PATH"] = spy + os.pathsep + env["PATH"]
        print(f"slurm_throughput: {n} trivial tests through mt-run on Slurm (max_concurrent_jobs "
              f"{max_jobs}) vs a shell loop of {n} `sbatch --wrap true` + waiting; {args.repeat} round(s)")
        print(machine_note(tmp))
        print(node_note(env))
        warm_up(env, tmp)
        rounds, problems = [], []
        for r in range(1, args.repeat + 1):
            reset_calls(logs)
            base_wall, more = run_baseline(env, tmp, n, r)
            base_calls = count_calls(logs)
            problems += more
            reset_calls(logs)
            fig, more = run_mt(env, tmp, n, max_jobs, r)
            mt_calls = count_calls(logs)
            problems += more
            rounds.append((base_wall, fig, base_calls, mt_calls))
            print(f"  round {r}: baseline {base_wall:.2f} s, mt-run {fig['wall']:.2f} s "
                  f"({fig['wall'] / base_wall:.2f} x); mt-run: {mt_calls['sbatch']} sbatch, "
                  f"{mt_calls['squeue']} squeue, {mt_calls['scancel']} scancel")
        base = median(r[0] for r in rounds)
        wall = median(r[1]["wall"] for r in rounds)
        last_base, last_fig, b_calls, m_calls = rounds[-1]
        ratio = wall / base
        print("medians:" if args.repeat > 1 else "figures:")
        print(table([
            ("tests / jobs", f"{n}"),
            ("wall baseline (sbatch loop + wait)", f"{base:8.2f} s   ({n / base:.1f} jobs/s)"),
            ("wall mt-run", f"{wall:8.2f} s   ({n / wall:.1f} tests/s)"),
            ("ratio mt-run / baseline", f"{ratio:8.2f} x   (target <= {TARGET_RATIO} x)"),
            ("scheduler queries by mt-run (squeue)",
             f"{m_calls['squeue']:5d}      ({m_calls['squeue'] / last_fig['wall'] * 60:.0f}/min; last round)"),
            ("submissions by mt-run (sbatch)", f"{m_calls['sbatch']:5d}      (last round)"),
            ("scancel by mt-run", f"{m_calls['scancel']:5d}"),
            ("baseline calls", f"{b_calls['sbatch']} sbatch, {b_calls['squeue']} squeue "
                               f"(one every {BASELINE_POLL} s while waiting)"),
            ("CPU mt-run itself", f"{last_fig['self_cpu'] or 0:8.2f} s   (user {last_fig['self_user'] or 0:.2f}, "
                                  f"sys {last_fig['self_sys'] or 0:.2f}; last round)"),
            ("results", ", ".join(f"{k} {v}" for k, v in sorted(last_fig["counts"].items()))
             + f"  (from {last_fig['source']})"),
        ]))
        if problems:
            print("FAILED:")
            for p in problems:
                print("  " + p)
            return 1
        if m_calls["sbatch"] != n:
            print(f"FAILED: mt-run made {m_calls['sbatch']} sbatch calls for {n} tests")
            return 1
        if ratio > TARGET_RATIO:
            print(f"target missed: mt-run took {ratio:.2f} x the baseline's wall time "
                  f"(target <= {TARGET_RATIO} x)")
            return 3
        print("all records PASS, within the target")
        return 0
    finally:
        if stop:
            stop()
        leave_tmp(tmp, args.keep)


if __name__ == "__main__":
    sys.exit(main())
