"""LSF through the same design as Slurm: bsub per test, one bjobs per cycle for the run's
jobs (by job name), one bkill. Untested here: no LSF cluster can run on this machine."""
import re
import subprocess

TIMEOUT = 60


class LaunchError(Exception):
    pass


def submit(extra_words, rundir, command, job_name, resource_words, env, comment=""):
    argv = ["bsub", "-J", job_name, "-o", f"{rundir}/lsf-%J.out", "-cwd", rundir,
            *resource_words, *extra_words, command]
    try:
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LaunchError(f"bsub: {err}") from None
    match = re.search(r"Job <(\d+)>", out.stdout)
    if out.returncode != 0 or not match:
        raise LaunchError(f"bsub exited {out.returncode}: {(out.stderr or out.stdout).strip()}")
    return match.group(1)


def poll(job_name, env):
    try:
        out = subprocess.run(["bjobs", "-a", "-J", job_name, "-noheader", "-o", "jobid stat"],
                             env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    jobs = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            state = {"DONE": "COMPLETED", "EXIT": "FAILED"}.get(parts[1], parts[1])
            jobs[parts[0]] = (state, "", "")
    return jobs


def cancel(job_ids, env):
    if job_ids:
        subprocess.run(["bkill", *job_ids], env=env, capture_output=True, timeout=TIMEOUT)
