"""The launcher tests' infrastructure is real: jobs go through slurmctld, commands through sshd."""
import socket
import time
from pathlib import Path

import pytest

from slurm_cluster import node_state, set_node_state, wait_node_state

pytest_plugins = ["slurm_cluster", "sshd_server"]

REPO = Path(__file__).resolve().parent.parent
JOB_TIMEOUT = 30.0


def wait_job(slurm, job_id, states, timeout=JOB_TIMEOUT):
    """Poll squeue until the job is in one of `states`; returns that state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = slurm.run("squeue", "--states=all", "-h", "-o", "%T", "-j", job_id).stdout.strip()
        if state in states:
            return state
        time.sleep(0.2)
    pytest.fail(f"job {job_id} not in {states} after {timeout:.0f} s (last: {state!r})")


def sbatch(slurm, *args):
    return slurm.run("sbatch", "--parsable", *args).stdout.strip().split(";")[0]


@pytest.mark.slurm
def test_sbatch_runs_a_job_through_slurmctld(slurm, tmp_path):
    out = tmp_path / "job.out"
    job = sbatch(slurm, "--job-name", "infra-hi", "-o", out, "--wrap", "echo hi")
    assert wait_job(slurm, job, {"COMPLETED", "FAILED"}) == "COMPLETED"
    assert out.read_text() == "hi\n"
    listed = slurm.run("squeue", "--states=all", "--name", "infra-hi", "-h", "-o", "%i %T").stdout
    assert f"{job} COMPLETED" in listed.splitlines()
    finished = slurm.run("sacct", "-c", "-n", "-j", job).stdout
    assert "COMPLETED" in finished, finished


@pytest.mark.slurm
def test_scancel_cancels_a_running_job(slurm, tmp_path):
    out = tmp_path / "job.out"
    job = sbatch(slurm, "--job-name", "infra-sleep", "-o", out, "--wrap", "sleep 300")
    wait_job(slurm, job, {"RUNNING"})
    slurm.run("scancel", job)
    assert wait_job(slurm, job, {"CANCELLED", "COMPLETED", "FAILED"}) == "CANCELLED"
    deadline = time.monotonic() + 10
    while "CANCELLED" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"JOB {job} ON {slurm.nodename} CANCELLED" in out.read_text()


@pytest.mark.slurm
def test_node_goes_down_and_resumes(slurm):
    try:
        set_node_state(slurm, "DOWN", "infra test")
        assert node_state(slurm).startswith("down")
        reasons = slurm.run("sinfo", "-R", "-h", "-o", "%E|%n").stdout
        assert f"infra test|{slurm.nodename}" in reasons.splitlines()
    finally:
        set_node_state(slurm, "RESUME")
    wait_node_state(slurm, ("idle",), timeout=10)


@pytest.mark.ssh
def test_ssh_runs_a_command_with_the_venv_on_path(sshd):
    out = sshd.run("echo $PATH; hostname; command -v mt-list")
    assert out.returncode == 0, out.stderr
    path, host, mt_list = out.stdout.splitlines()
    venv_bin = str(REPO / ".venv" / "bin")    # root's ~/.bashrc may put other dirs before it
    assert venv_bin in path.split(":")
    assert host == socket.gethostname()
    assert mt_list == f"{venv_bin}/mt-list"
    assert sshd.ssh_command[-1] == "root@127.0.0.1" and str(sshd.port) in sshd.ssh_command
