"""A second host, simulated with Linux namespaces: a test step that runs under another host name
(and, when `ip netns` works, in its own network namespace behind a veth pair) reports through
mt-serve, and the server's counters show the calls came from that host."""
import os
import shutil
import signal
import subprocess

import pytest

from conftest import mt, write_area
from megatest.config.area import Area
from megatest.serve import rpc_client
from megatest.store import db

OTHER = "otherhost"


def _works(argv):
    try:
        return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_unshare = pytest.mark.skipif(
    not shutil.which("unshare") or not _works(["unshare", "--uts", "true"]),
    reason="`unshare --uts` is not permitted here (it needs root or user namespaces)")


class Netns:
    """A network namespace joined to this one by a veth pair, removed afterwards."""

    def __init__(self):
        n = os.getpid() % 200
        self.name, self.host_if, self.peer_if = f"mt2h{os.getpid()}", f"mt2h{n}a", f"mt2h{n}b"
        self.host_addr, self.peer_addr = f"10.213.{n}.1", f"10.213.{n}.2"

    def create(self):
        ns = ["ip", "netns", "exec", self.name]
        for argv in (["ip", "netns", "add", self.name],
                     ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if],
                     ["ip", "link", "set", self.peer_if, "netns", self.name],
                     ["ip", "addr", "add", f"{self.host_addr}/24", "dev", self.host_if],
                     ["ip", "link", "set", self.host_if, "up"],
                     ns + ["ip", "addr", "add", f"{self.peer_addr}/24", "dev", self.peer_if],
                     ns + ["ip", "link", "set", self.peer_if, "up"],
                     ns + ["ip", "link", "set", "lo", "up"]):
            if not _works(argv):
                return " ".join(argv)
        return ""

    def remove(self):
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture
def netns():
    if not shutil.which("ip"):
        pytest.skip("no `ip` command: cannot make a network namespace")
    made = Netns()
    failed = made.create()
    if failed:
        made.remove()
        pytest.skip(f"cannot make a network namespace with a veth pair here ({failed} failed)")
    yield made
    made.remove()


@pytest.fixture
def server(tmp_path, mt_env):
    """Start mt-serve for an area later; always stopped (or killed) at the end."""
    started = []

    def start(area, *args):
        out = mt("serve", "--area", area, "--ensure", *args, env=mt_env)
        assert out.returncode == 0, out.stdout + out.stderr
        started.append(area)
        return rpc_client.read_server(str(area))

    yield start
    for area in started:
        mt("serve", "--area", area, "--stop", env=mt_env)
        info = rpc_client.read_server(str(area))
        if info:
            try:
                os.kill(info["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


def report_from(prefix):
    """A step that reports from another host name: the route, a status and a data row."""
    return (f"[ezsteps]\nfar {prefix}unshare --uts sh -c 'hostname {OTHER}; "
            "mt-test show > route.txt && mt-test status RUNNING PASS && mt-test data set c v 1'\n")


def check_it_came_through_the_server(area, env):
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    rundir = area / "disk0/a/b/r/t"
    route = (rundir / "route.txt").read_text()
    assert "route: mt-serve at " in route and f"this host {OTHER}" in route, route
    assert "reachable, record RUNNING" in route, route
    conn = db.connect(Area(str(area)).live_db_path(env), readonly=True)
    try:
        test_id = conn.execute("SELECT id FROM tests WHERE testname='t'").fetchone()[0]
        rows = {(r["category"], r["variable"]): r["value"] for r in db.data_of_test(conn, test_id)}
    finally:
        conn.close()
    assert rows == {("c", "v"): "1"}
    metrics = rpc_client.call(str(area), "ping", {})
    assert metrics["hosts"].get(OTHER, 0) >= 3          # show, status and data came from there
    assert metrics["requests"]["data"] == 1 and metrics["requests"]["status"] == 1


@needs_unshare
def test_a_step_under_another_host_name_reports_through_mt_serve(tmp_path, mt_env, server):
    area = write_area(tmp_path / "area", {"t": report_from("")})
    server(area)
    check_it_came_through_the_server(area, mt_env)


@needs_unshare
def test_a_second_network_namespace_reaches_mt_serve_over_a_veth_pair(tmp_path, mt_env, server,
                                                                      netns):
    area = write_area(tmp_path / "area", {"t": report_from(f"ip netns exec {netns.name} ")})
    info = server(area, "--bind", netns.host_addr)
    assert info["address"] == netns.host_addr
    check_it_came_through_the_server(area, mt_env)
    metrics = rpc_client.call(str(area), "ping", {})
    assert metrics["addresses"].get(netns.peer_addr, 0) >= 3    # over the veth pair
