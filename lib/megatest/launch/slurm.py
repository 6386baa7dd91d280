"""Slurm: one sbatch per test (rate limited), one squeue per cycle for all of a run's jobs,
one scancel for a kill. Jobs carry the run's tag as their name."""
import subprocess
import time

SUBMIT_INTERVAL = 0.02        # s between two sbatch calls (at most 50 submissions a second)
POLL_MIN, POLL_MAX = 1.0, 10.0  # s: adaptive scheduler polling interval
VANISHED_AFTER = 2            # polls a job may be missing from squeue before it counts as gone
TIMEOUT = 60

RESOURCE_OPTIONS = {"cpus": "--cpus-per-task", "mem": "--mem", "memory": "--mem",
                    "time": "--time", "partition": "--partition"}


class LaunchError(Exception):
    pass


def resources(testconfig):
    """sbatch options from the testconfig's [slurm] section (cpus, mem, time, partition, options)."""
    import shlex
    section = testconfig.section("slurm")
    words = [f"{RESOURCE_OPTIONS[k]}={v.strip()}" for k, v in section.items()
             if k in RESOURCE_OPTIONS and v.strip()]
    return words + shlex.split(section.get("options", ""))


def submit(extra_words, rundir, command, job_name, resource_words, env, comment=""):
    """Submit one job; returns its id, or LaunchError with sbatch's message. The comment names
    the test, so a runner restarted after a crash between sbatch and its database write
    finds the job instead of submitting it again."""
    argv = ["sbatch", "--parsable", f"--job-name={job_name}", f"--output={rundir}/slurm-%j.out",
            f"--chdir={rundir}", *([f"--comment={comment}"] if comment else []),
            *resource_words, *extra_words, "--wrap", command]
    try:
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LaunchError(f"sbatch: {err}") from None
    if out.returncode != 0:
        raise LaunchError(f"sbatch exited {out.returncode}: {(out.stderr or out.stdout).strip()}")
    return out.stdout.strip().split(";")[0]


def poll(job_name, env):
    """{job id: (state, reason, comment)} for every job of the run squeue still knows; None on
    error."""
    try:
        out = subprocess.run(["squeue", f"--name={job_name}", "--states=all", "-h", "-o", "%i|%T|%r|%k"],
                             env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    jobs = {}
    for line in out.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4:
            jobs[parts[0]] = (parts[1], "" if parts[2] in ("None", "(null)") else parts[2],
                              "" if parts[3] == "(null)" else parts[3])
    return jobs


def cancel(job_ids, env):
    if job_ids:
        subprocess.run(["scancel", *job_ids], env=env, capture_output=True, timeout=TIMEOUT)


class Pacer:
    """Submission rate limit and the adaptive poll interval (short while jobs change)."""

    def __init__(self):
        self.last_submit = 0.0
        self.interval = POLL_MIN
        self.next_poll = 0.0
        self.queries = 0

    def before_submit(self):
        wait = self.last_submit + SUBMIT_INTERVAL - time.time()
        if wait > 0:
            time.sleep(wait)
        self.last_submit = time.time()

    def polled(self, changed):
        self.queries += 1
        self.interval = POLL_MIN if changed else min(POLL_MAX, self.interval * 1.5)
        self.next_poll = time.time() + self.interval
