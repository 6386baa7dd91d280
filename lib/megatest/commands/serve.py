"""Serve the area's live database to processes on other hosts, and run its background jobs.

Usage:
  mt-serve [--area DIR] [--ensure | --stop | --status | --crontab | --view] [--port N] [--bind ADDR]
  mt-serve (-h | --help)

Options:
  --area DIR    the test area (else $MT_RUN_AREA_HOME, else upward search)
  --ensure      start a server in the background unless one is running; exit 0 either way
                when one runs afterwards (cron: every minute)
  --status      print host, address, port, pid and uptime of the running server; exit 1 if none
  --stop        stop the running server (SIGTERM) and wait until it is gone
  --port N      the port to listen on; 0 lets the system choose [default: 0]
  --bind ADDR   the address to listen on (else [server] hostname, else this host's address)
  --crontab     print the crontab line that keeps a server running for this area
  --view        serve the dashboard alone, in the foreground, on any host (see below)

Without --ensure, --stop or --status the server runs in the foreground until SIGTERM or
Ctrl-C. It runs on the area's home host only, one per area: a second one exits 0 at once.
It publishes <area>/.mt/server.json (host, address, port, pid, started, heartbeat, request
counts), answers JSON over HTTP with the token in <area>/.mt/token (created mode 0600, or
0640 for [server] group), polls queued actions every 1.5 s, sweeps dead tests every 10 s and
keeps megatest.db in step. A background server (--ensure) logs to <area>/logs/mt-serve.log.

[server] timeout: stop after this long without a request, a running test or a queued action.
A bare number is hours, as in Megatest (timeout 0.5 = 30 minutes); or give units: 30m, 1h 30m,
90s. Unset or 0: never.

With --view it serves the dashboard alone, on any host, beside the area's server: it reads
the live database on the home host, else this host's copy of megatest.db (refreshed when
that file changes; the pages name the home host). It claims nothing, writes nothing and
answers no test calls; its logins take the area token (.mt/token must be readable) and its
actions (rerun, kill, remove) go to the area's server, which must run on the home host. It
prints one line (where it listens, what it reads) and runs until SIGTERM or Ctrl-C.

Exit status: 0 done (or a server already runs), 1 --status: no server running, --ensure: the
server did not start, --stop: it did not stop; 2 usage or configuration error, an area
mt-serve cannot write (read-only: .mt and, with --ensure, logs/ must take files), or an
area token that mt-serve --view cannot read.
"""
import os
import signal
import sys
import tempfile
import time

from megatest.commands.cli import int_option, parse
from megatest.errors import MtError

ENSURE_WAIT = 15.0       # s --ensure waits for the new server to publish server.json
STOP_WAIT = 10.0         # s --stop waits for the server to let go of its lock
LOG_DIR = "logs"
LOG_NAME = "mt-serve.log"
RUNNER = ("import sys; from megatest.commands.entry import run_command; "
          "sys.exit(run_command('serve', sys.argv[1:]))")


def main(argv):
    args = parse(__doc__, argv)
    port = int_option(args, "--port", minimum=0)
    if port > 65535:
        raise MtError(f"--port must be at most 65535, got {port}")
    from megatest.config import settings as settings_mod
    from megatest.config.area import find_area
    from megatest.store import homehost
    area = find_area(args["--area"])
    s = settings_mod.load_settings(area, warn=_warn)
    if args["--crontab"]:
        from megatest.commands.sync import crontab_line
        print(crontab_line(area, "mt-serve", "--ensure"))
        return 0
    if args["--status"]:
        home = homehost.home_host(area, s)
        return _status(area, s, not home or homehost.is_home(home))
    from megatest.serve import webauth
    if args["--view"]:
        webauth.read_policy(s)
        return _view(area, s, port, args["--bind"])
    homehost.require_home(area, s, "mt-serve")
    if args["--stop"]:
        return _stop(area, s)
    webauth.read_policy(s)                 # a bad [server] dashboard-reads: exit 2 here
    require_writable(area, LOG_DIR if args["--ensure"] else None)
    homehost.home_host(area, s, claim=True)
    homehost.require_home(area, s, "mt-serve")
    if args["--ensure"]:
        return _ensure(area, s, port, args["--bind"])
    return _serve(area, s, port, args["--bind"])


def _serve(area, s, port, bind):
    from megatest.serve import rpc_server
    _configure_logging()
    server = rpc_server.Server(area, s, bind=bind, port=port, idle_timeout=idle_timeout(s))
    if not server.start():
        print(f"mt-serve: a server already runs for {area.toppath}{_where(area)}")
        return 0
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: server.stop.set())
    try:
        server.wait()
    finally:
        server.close()
    return 0


def _view(area, s, port, bind):
    from megatest.serve import viewer
    _configure_logging()
    view = viewer.Viewer(area, s, bind=bind, port=port)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: view.stop.set())
    view.start()
    try:
        print(view.describe(), flush=True)
        view.wait()
    finally:
        view.close()
    return 0


def _ensure(area, s, port, bind):
    from megatest.serve import rpc_client, rpc_server
    if rpc_server.is_running(area, s):
        print(f"mt-serve: already running{_where(area)}")
        return 0
    rpc_server.refuse_other_server(area, s)
    proc, log = _start_detached(area, port, bind)
    deadline = time.monotonic() + ENSURE_WAIT
    while time.monotonic() < deadline:
        info = rpc_client.read_server(area.toppath)
        if info and info.get("pid") == proc.pid:
            print(f"mt-serve: started{_where(area)}")
            return 0
        if proc.poll() is not None:
            if rpc_server.is_running(area, s):     # another starter won the lock
                print(f"mt-serve: already running{_where(area)}")
                return 0
            break
        time.sleep(0.05)
    sys.stderr.write(f"mt-serve: error: the server did not start; see {log}\n")
    return 1


def _start_detached(area, port, bind):
    """A server in its own session, outliving this process; (Popen, log path)."""
    import subprocess
    exe = os.path.abspath(sys.argv[0])
    argv = [exe] if os.path.basename(exe) == "mt-serve" and os.access(exe, os.X_OK) \
        else [sys.executable, "-c", RUNNER]
    argv += ["--area", area.toppath, "--port", str(port)] + (["--bind", bind] if bind else [])
    logdir = os.path.join(area.toppath, LOG_DIR)
    os.makedirs(logdir, exist_ok=True)
    log = os.path.join(logdir, LOG_NAME)
    with open(log, "a") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    return proc, log


def require_writable(area, logdir=None):
    """MtError naming the first of the area's directories that the server must write and
    cannot (a read-only or full area): .mt (token, server.json every few seconds), and LOGDIR
    for a background server's log. Checked before anything is claimed or started, so the
    user gets this one line rather than an error from deep in the start."""
    paths = [area.state_dir] + ([os.path.join(area.toppath, logdir)] if logdir else [])
    for path in paths:
        try:
            os.makedirs(path, exist_ok=True)
            tempfile.TemporaryFile(dir=path).close()
        except OSError as err:
            raise MtError(f"cannot write {path}: {err.strerror}",
                          hint="mt-serve keeps .mt/token, .mt/server.json and logs/mt-serve.log "
                               "in the area: make it writable there") from None


def _status(area, s, home):
    from megatest.serve import rpc_server
    info = rpc_server.status(area, s, home)
    if info is None:
        print(f"mt-serve: no server running for {area.toppath}")
        return 1
    started = info.get("started")
    uptime = _duration(time.time() - started) if started else "starting"
    requests = sum((info.get("requests") or {}).values())
    for key, value in (("host", info.get("host", "")), ("address", info.get("address", "")),
                       ("port", info.get("port", "")), ("pid", info.get("pid", "")),
                       ("uptime", uptime), ("requests", requests)):
        print(f"{key}: {value}")
    return 0


def _stop(area, s):
    from megatest.serve import rpc_server
    outcome = rpc_server.stop(area, s, wait=STOP_WAIT)
    if outcome == "none":
        print(f"mt-serve: no server running for {area.toppath}")
        return 0
    if outcome == "stopped":
        print("mt-serve: stopped")
        return 0
    sys.stderr.write(f"mt-serve: error: the server{_where(area)} did not stop\n")
    return 1


def idle_timeout(s):
    """Seconds of [server] timeout (a bare number is hours), or None for never."""
    text = (s.config.get("server", "timeout") or "").strip()
    if not text:
        return None
    try:
        return float(text) * 3600 or None
    except ValueError:
        from megatest.config.parse import parse_hms
        return parse_hms(text, s.where("server", "timeout"), _warn) or None


def _where(area):
    from megatest.serve import rpc_client
    info = rpc_client.read_server(area.toppath)
    if not info:
        return ""
    return f" (pid {info.get('pid')} at {rpc_client.server_address(info)}:{info.get('port')})"


def _duration(seconds):
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def _configure_logging():
    import logging
    level = logging.DEBUG if os.environ.get("MT_DEBUG_MODE") else logging.INFO
    logging.basicConfig(stream=sys.stderr, level=level,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")


def _warn(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
