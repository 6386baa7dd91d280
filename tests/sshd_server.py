"""A real OpenSSH server on 127.0.0.1 for the ssh launcher tests.

Use as a pytest plugin (`pytest_plugins = ["sshd_server"]`): the session fixture `sshd`
starts `/usr/sbin/sshd -D` on a free port with its own host key, config and authorized_keys
in a temp dir (nothing under /etc/ssh changes), accepting root by a fresh key pair.

ssh does not forward the caller's environment. Like a user whose login profile puts the
tools on PATH, the fixture's authorized_keys line carries `environment="PATH=<repo>/.venv/bin:..."`
(allowed by `PermitUserEnvironment yes`), so every command run through `sshd.ssh_command`
finds `mt-*`. Anything else a remote command needs (MT_* variables, the working directory)
must travel in the command itself, e.g. `cd DIR && env MT_X=1 mt-test ...`.
"""
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from slurm_cluster import Unavailable, skip_or_fail, apt_install

SSH_PACKAGES = ["openssh-server", "openssh-client"]
SSHD = "/usr/sbin/sshd"
REPO = Path(__file__).resolve().parent.parent
REMOTE_PATH = f"{REPO / '.venv' / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
START_TIMEOUT = 15.0
PORT_TRIES = 3            # another process may take the free port before sshd binds it


class SshdUnavailable(Unavailable):
    """sshd could not be started here."""


@dataclass
class SshServer:
    host: str
    port: int
    key: Path                 # private key accepted for root
    ssh_command: list         # the words a launcher template starts with; append the command
    log: Path
    process: subprocess.Popen = None

    def run(self, command, timeout=30, **kw):
        """Run one shell command line on the far side; text output."""
        return subprocess.run([*self.ssh_command, command], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_files(d):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "host_key"],
                   check=True, capture_output=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "id_ed25519"],
                   check=True, capture_output=True)
    pub = (d / "id_ed25519.pub").read_text().strip()
    (d / "authorized_keys").write_text(f'environment="PATH={REMOTE_PATH}" {pub}\n')
    os.chmod(d / "authorized_keys", 0o600)


def _config(d, port):
    return "\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1",
        f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}",
        "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "UsePAM no", "StrictModes no", "PermitUserEnvironment yes",
        "PrintMotd no", "PrintLastLog no", "UseDNS no",
        "MaxStartups 100:30:200", "MaxSessions 100",   # launchers open many at once
        "LogLevel INFO", "",
    ])


def _client_words(d, port):
    return ["ssh", "-F", "/dev/null", "-p", str(port), "-i", str(d / "id_ed25519"),
            "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR", "root@127.0.0.1"]


def _wait_ready(server):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if server.run("true", timeout=10).returncode == 0:
            return True
        time.sleep(0.1)
    return False


def start(directory):
    """Start sshd with its files in `directory`; returns the running SshServer."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _write_files(d)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)   # sshd's privilege-separation dir
    for _ in range(PORT_TRIES):
        port = _free_port()
        (d / "sshd_config").write_text(_config(d, port))
        server = SshServer(host="127.0.0.1", port=port, key=d / "id_ed25519",
                           ssh_command=_client_words(d, port), log=d / "sshd.log")
        with open(server.log, "ab") as log:
            server.process = subprocess.Popen([SSHD, "-D", "-e", "-f", d / "sshd_config"],
                                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if _wait_ready(server):
            return server
        stop(server)
    raise SshdUnavailable(f"sshd did not start; log:\n{server.log.read_text()[-1500:]}")


def stop(server):
    """Stop our own sshd (the child we started) and reap it."""
    if server.process is None or server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def pytest_configure(config):
    config.addinivalue_line("markers", "ssh: needs the real sshd on 127.0.0.1 (fixture `sshd`)")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A running sshd on 127.0.0.1 for the whole session; stopped at the end."""
    if os.geteuid() != 0:     # checked first: without root nothing is installed or started
        skip_or_fail("an sshd needs root: installing openssh-server and starting sshd (which "
                     "the tests log in to as root) need root")
    try:
        apt_install(SSH_PACKAGES, ["sshd", "ssh", "ssh-keygen"])
    except Unavailable as e:
        skip_or_fail(str(e))
    server = start(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        stop(server)
