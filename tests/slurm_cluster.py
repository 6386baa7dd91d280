"""A real one-node Slurm cluster (munged, slurmctld, slurmd) for the launcher tests.

Use as a pytest plugin (`pytest_plugins = ["slurm_cluster"]`): the session fixture `slurm`
yields a running `Cluster`; tests pass `cluster.env` to sbatch/squeue/scancel/sacct/scontrol
so those commands talk to this cluster and no other. See /work/shared/spec/slurm.md.

Each cluster lives in one state directory (config, pid files, spool, logs, its own munge
socket) and listens on free ports, so two test sessions on one machine get two clusters.
Daemons are stopped by the pids in their own pid files, never by name.
"""
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SLURM_PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
NODE_CPUS = 16
PARTITION = "debug"
MUNGE_KEY = Path("/etc/munge/munge.key")
STATE_ROOT = Path(tempfile.gettempdir()) / "megatest-slurm"
SLOTS = 8                 # concurrent test sessions on one machine, one state dir each
START_TIMEOUT = 30.0      # seconds for each daemon to come up
STOP_TIMEOUT = 10.0       # seconds for each daemon to exit after SIGTERM
DAEMONS = ("slurmd", "slurmctld", "munged")   # stop order: reverse of start order
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
APT_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=300"]


class Unavailable(RuntimeError):
    """A test service could not be installed or started here; the message says why."""


class SlurmUnavailable(Unavailable):
    """Slurm could not be installed or started here."""


class SlurmCommandError(RuntimeError):
    """A Slurm client command run by `Cluster.run` failed; the message has its stderr."""


class ClusterBusy(RuntimeError):
    """Another live test session owns this state directory."""


@dataclass
class Cluster:
    state_dir: Path
    conf: Path
    nodename: str
    partition: str
    env: dict                 # add to a test's environment: SLURM_CONF points at this cluster
    ctld_port: int
    slurmd_port: int
    pids: dict = field(default_factory=dict)     # daemon name -> pid
    lock_fd: int = -1

    def environ(self, base=None):
        """`base` (default: os.environ) plus this cluster's variables."""
        return {**(os.environ if base is None else base), **self.env}

    def run(self, *args, check=True, timeout=30, **kw):
        """Run a Slurm client command against this cluster; text output, raises on failure."""
        kw.setdefault("env", self.environ())
        out = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                             timeout=timeout, **kw)
        if check and out.returncode != 0:
            raise SlurmCommandError(f"{' '.join(map(str, args))}: exit {out.returncode}: "
                                    f"{out.stderr.strip()}")
        return out


# ---------------------------------------------------------------- install

def _apt(*args):
    return subprocess.run(["apt-get", *APT_LOCK_WAIT, *args], capture_output=True, text=True,
                          env={**os.environ, **APT_ENV}, stdin=subprocess.DEVNULL)


def apt_install(packages, commands):
    """Install Debian `packages` unless every one of `commands` is already on PATH."""
    if all(shutil.which(c) or Path("/usr/sbin", c).exists() for c in commands):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise Unavailable(f"{', '.join(commands)} missing and cannot apt-get install "
                               f"{' '.join(packages)} (needs root and apt-get)")
    install = ["install", "-y", "--no-install-recommends", *packages]
    out = _apt(*install)
    if out.returncode != 0:
        update = _apt("update")
        out = _apt(*install)
        if out.returncode != 0:
            raise Unavailable(f"apt-get install {' '.join(packages)} failed "
                                   f"(no package registry?): {update.stderr.strip()[-500:]} "
                                   f"{out.stderr.strip()[-500:]}")


def ensure_installed():
    apt_install(SLURM_PACKAGES, ["sbatch", "slurmctld", "slurmd", "munged"])


# ---------------------------------------------------------------- processes

def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid):
    """True while pid runs; a zombie (pid 1 here may never reap) counts as exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _read_pid(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_our_daemon(pid, state_dir):
    """Only a Slurm/munge daemon whose command line names this state dir may be killed."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm in DAEMONS and str(state_dir) in _cmdline(pid)


def _kill_and_wait(pid, timeout=STOP_TIMEOUT):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)


def _wait_for(what, check, timeout=START_TIMEOUT, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = ""
    if log and Path(log).exists():
        tail = "\n" + "\n".join(Path(log).read_text(errors="replace").splitlines()[-15:])
    raise SlurmUnavailable(f"timed out after {timeout:.0f} s waiting for {what}{tail}")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daemon(args, log, env=None):
    """Start a self-daemonising program; its output goes to `log`, never to a pipe we read."""
    with open(log, "ab") as f:
        out = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=env,
                             timeout=START_TIMEOUT)
    if out.returncode != 0:
        tail = Path(log).read_text(errors="replace")[-1500:]
        raise SlurmUnavailable(f"{' '.join(map(str, args))}: exit {out.returncode}\n{tail}")


# ---------------------------------------------------------------- state dir

def _paths(state_dir):
    s = Path(state_dir)
    return {"conf": s / "slurm.conf", "munge": s / "munge", "log": s / "log",
            "state": s / "state", "spool": s / "spool",
            "munged": s / "munge" / "munged.pid", "slurmctld": s / "slurmctld.pid",
            "slurmd": s / "slurmd.pid", "socket": s / "munge" / "munge.socket"}


def _lock(state_dir):
    """Hold `state_dir/lock` for the cluster's life: a free lock means its last owner is dead.

    os.open's descriptor is close-on-exec, so the daemons never inherit the lock and a
    crashed session's slot can be taken over while its daemons still run.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ClusterBusy(f"{state_dir} is in use by another test session") from None
    return fd


def _stray_stepds(state_dir):
    """slurmstepd processes of this cluster: they run in its log dir (slurmd's cwd)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if ((proc / "comm").read_text().strip() == "slurmstepd"
                    and os.readlink(proc / "cwd").startswith(str(state_dir) + "/")):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def kill_stale(state_dir):
    """Clean up after a crashed session: its jobs, then its daemons, by its own pid files only."""
    p = _paths(state_dir)
    pids = {name: _read_pid(p[name]) for name in DAEMONS}
    if all(pids[n] and _is_our_daemon(pids[n], state_dir) for n in DAEMONS):
        # still up: let slurmctld cancel the jobs, so no job processes are orphaned
        _cancel_all(Cluster(state_dir=state_dir, conf=p["conf"], nodename="", partition="",
                            env={"SLURM_CONF": str(p["conf"])}, ctld_port=0, slurmd_port=0))
    for name in DAEMONS:
        if pids[name] and _is_our_daemon(pids[name], state_dir):
            _kill_and_wait(pids[name])
    for pid in _stray_stepds(state_dir):
        _kill_and_wait(pid, timeout=1)


def _reset(state_dir):
    for entry in Path(state_dir).iterdir():
        if entry.name == "lock":
            continue
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    p = _paths(state_dir)
    for d in ("log", "state", "spool"):
        p[d].mkdir()
    # munged refuses directories others can write to, and wants its own to be munge's.
    p["munge"].mkdir(mode=0o700)
    shutil.chown(p["munge"], "munge", "munge")


# ---------------------------------------------------------------- config

def _real_memory_mb():
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True)
    for word in out.stdout.split():
        if word.startswith("RealMemory="):
            return max(1, int(int(word.split("=")[1]) * 0.9))
    return 1000


def write_conf(state_dir, nodename, ctld_port, slurmd_port):
    p = _paths(state_dir)
    lines = [
        "ClusterName=megatest",
        f"SlurmctldHost={nodename}",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "CredType=cred/munge",
        f"AuthInfo=socket={p['socket']}",
        # no cgroups on this machine
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none", "MpiDefault=none",
        # no slurmdbd: finished jobs go to a text file, read by `sacct -c`
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt", f"JobCompLoc={p['log'] / 'jobcomp.txt'}",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
        "SchedulerType=sched/backfill",
        "SchedulerParameters=batch_sched_delay=0",   # the default delays each job up to 3 s
        "SlurmdParameters=config_overrides",         # CPUs= may exceed the real cores
        "MinJobAge=300", "ReturnToService=2", "KillWait=5",
        "SlurmctldTimeout=30", "SlurmdTimeout=30",
        f"StateSaveLocation={p['state']}", f"SlurmdSpoolDir={p['spool']}",
        f"SlurmctldPidFile={p['slurmctld']}", f"SlurmdPidFile={p['slurmd']}",
        f"SlurmctldLogFile={p['log'] / 'slurmctld.log'}",
        f"SlurmdLogFile={p['log'] / 'slurmd.log'}",
        f"NodeName={nodename} CPUs={NODE_CPUS} RealMemory={_real_memory_mb()} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={nodename} Default=YES MaxTime=INFINITE State=UP",
    ]
    p["conf"].write_text("\n".join(lines) + "\n")
    return p["conf"]


# ---------------------------------------------------------------- start / stop

def _ensure_munge_key():
    if not MUNGE_KEY.exists():
        MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
        MUNGE_KEY.write_bytes(os.urandom(1024))
    shutil.chown(MUNGE_KEY, "munge", "munge")
    MUNGE_KEY.chmod(0o400)


def _start_munged(cluster):
    p = _paths(cluster.state_dir)
    _ensure_munge_key()
    _daemon(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force",
             f"--socket={p['socket']}", f"--key-file={MUNGE_KEY}",
             f"--pid-file={p['munged']}", f"--log-file={p['munge'] / 'munged.log'}",
             f"--seed-file={p['munge'] / 'munged.seed'}"], p["log"] / "munged.out")
    _wait_for("munged's pid file", lambda: _read_pid(p["munged"]), log=p["log"] / "munged.out")
    cluster.pids["munged"] = _read_pid(p["munged"])
    _wait_for("munge socket", p["socket"].exists)
    cred = subprocess.run(["munge", "-n", "-S", p["socket"]], capture_output=True, text=True)
    check = subprocess.run(["unmunge", "-S", p["socket"]], input=cred.stdout,
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise SlurmUnavailable(f"munge -n | unmunge failed: {check.stderr.strip()}")


def _start_slurmctld(cluster):
    p = _paths(cluster.state_dir)
    _daemon(["slurmctld", "-i", "-f", cluster.conf], p["log"] / "slurmctld.out",
            env=cluster.environ())
    _wait_for("slurmctld's pid file", lambda: _read_pid(p["slurmctld"]),
              log=p["log"] / "slurmctld.log")
    cluster.pids["slurmctld"] = _read_pid(p["slurmctld"])
    _wait_for("`scontrol ping` UP",
              lambda: "UP" in cluster.run("scontrol", "ping", check=False).stdout,
              log=p["log"] / "slurmctld.log")


def _start_slurmd(cluster):
    p = _paths(cluster.state_dir)
    _daemon(["slurmd", "-f", cluster.conf], p["log"] / "slurmd.out", env=cluster.environ())
    _wait_for("slurmd's pid file", lambda: _read_pid(p["slurmd"]), log=p["log"] / "slurmd.log")
    cluster.pids["slurmd"] = _read_pid(p["slurmd"])
    wait_node_state(cluster, ("idle",), log=p["log"] / "slurmd.log")


def start(state_dir):
    """Start munged, slurmctld and slurmd under `state_dir`; returns the running Cluster.

    Raises ClusterBusy when another live session holds `state_dir`, SlurmUnavailable when a
    daemon does not come up (the message ends with its log).
    """
    state_dir = Path(state_dir).resolve()
    fd = _lock(state_dir)
    try:
        kill_stale(state_dir)
        _reset(state_dir)
        nodename = socket.gethostname().split(".")[0]
        ctld_port, slurmd_port = _free_port(), _free_port()
        conf = write_conf(state_dir, nodename, ctld_port, slurmd_port)
        cluster = Cluster(state_dir=state_dir, conf=conf, nodename=nodename,
                          partition=PARTITION, env={"SLURM_CONF": str(conf)},
                          ctld_port=ctld_port, slurmd_port=slurmd_port, lock_fd=fd)
    except BaseException:
        os.close(fd)
        raise
    try:
        _start_munged(cluster)
        _start_slurmctld(cluster)
        _start_slurmd(cluster)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _cancel_all(cluster):
    """Jobs still running would leave slurmstepd processes behind once slurmd is gone."""
    jobs = cluster.run("squeue", "-h", "-o", "%i", check=False, timeout=10).stdout.split()
    if not jobs:
        return
    cluster.run("scancel", *jobs, check=False, timeout=10)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not cluster.run("squeue", "-h", "-o", "%i", "--states=RUNNING,COMPLETING",
                           check=False, timeout=10).stdout.split():
            return
        time.sleep(0.2)


def stop(cluster):
    """Cancel remaining jobs, then stop each daemon by its recorded pid and wait for it."""
    try:
        if "slurmctld" in cluster.pids and "slurmd" in cluster.pids:
            _cancel_all(cluster)
        for name in DAEMONS:
            pid = cluster.pids.pop(name, None)
            if pid and _is_our_daemon(pid, cluster.state_dir):
                _kill_and_wait(pid)
        for pid in _stray_stepds(cluster.state_dir):
            _kill_and_wait(pid, timeout=1)
    finally:
        if cluster.lock_fd >= 0:
            os.close(cluster.lock_fd)
            cluster.lock_fd = -1


# ---------------------------------------------------------------- node state

def node_state(cluster):
    """The node's state as sinfo prints it, lowercase ("idle", "down*", "mixed", ...)."""
    out = cluster.run("sinfo", "-h", "-n", cluster.nodename, "-o", "%T", check=False)
    return out.stdout.strip().lower()


def wait_node_state(cluster, states, timeout=START_TIMEOUT, log=None):
    _wait_for(f"node {cluster.nodename} in state {'/'.join(states)}",
              lambda: node_state(cluster).rstrip("*~#$@+-^!%") in states, timeout, log)


def set_node_state(cluster, state, reason=None):
    """`scontrol update` the node: DOWN/DRAIN need a reason; RESUME brings it back to service."""
    args = ["scontrol", "update", f"nodename={cluster.nodename}", f"state={state}"]
    if reason is None and state.upper() in ("DOWN", "DRAIN", "FAIL"):
        reason = "set by megatest tests"
    if reason is not None:
        args.append(f"reason={reason}")
    cluster.run(*args)


# ---------------------------------------------------------------- pytest

def pytest_configure(config):
    config.addinivalue_line("markers", "slurm: needs the real one-node Slurm cluster (fixture `slurm`)")


def skip_or_fail(message):
    """Under CI a missing cluster is a failure; on a developer machine the tests skip."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def slurm():
    """A running one-node cluster for the whole session; stopped at the end."""
    if os.geteuid() != 0:     # checked first: without root nothing is installed or started
        skip_or_fail("a Slurm cluster needs root: installing slurm/munge and starting munged, "
                     "slurmctld and slurmd (as SlurmUser=root) need root")
    try:
        ensure_installed()
    except Unavailable as e:
        skip_or_fail(str(e))
    cluster = None
    for slot in range(SLOTS):
        try:
            cluster = start(STATE_ROOT / f"slot{slot}")
            break
        except ClusterBusy:
            continue
    if cluster is None:
        skip_or_fail(f"all {SLOTS} cluster state dirs under {STATE_ROOT} are in use")
    try:
        yield cluster
    finally:
        stop(cluster)
