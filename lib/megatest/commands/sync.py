"""Copy the live database's changes to the area's shared megatest.db.

Usage:
  mt-sync [--area DIR] [--once | --for SECONDS] [--interval SECONDS] [--verbose]
  mt-sync --crontab [--area DIR]
  mt-sync (-h | --help)

Options:
  --area DIR           the test area (else $MT_RUN_AREA_HOME, else upward search)
  --once               one pass, then exit (the default when --for is not given)
  --for SECONDS        keep syncing for this long (cron: --for 60, every minute)
  --interval SECONDS   longest time a change waits before it reaches megatest.db [default: 5]
  --verbose            one line per pass that copied something (or: nothing to copy)
  --crontab            print the crontab line that keeps this area synced

Only one syncer runs per area: a second mt-sync exits 0 at once while the first holds
the lock. A pass that cannot write megatest.db (a full or read-only disk) leaves the previous
copy whole and says why; the next pass catches up.
Exit status: 0 done (or another syncer is running), 1 the last pass failed (megatest.db is
behind), 2 usage or config error.
"""
import os
import shlex
import sys
import time

from megatest.commands.cli import parse
from megatest.commands.words import plural
from megatest.errors import UsageError


def main(argv):
    args = parse(__doc__, argv)
    from megatest.config import settings as settings_mod
    from megatest.config.area import find_area
    from megatest.store import homehost, sync
    area = find_area(args["--area"])
    s = settings_mod.load_settings(area, warn=_warn)
    if args["--crontab"]:
        print(crontab_line(area, "mt-sync", "--for 60"))
        return 0
    homehost.require_home(area, s, "mt-sync")
    interval = _seconds(args["--interval"], "--interval")
    duration = _seconds(args["--for"], "--for") if args["--for"] else None
    if duration is not None and interval >= duration:
        raise UsageError(f"--interval ({interval:g}) must be smaller than --for ({duration:g})")
    live = s.live_db_path()
    if not os.path.exists(live):               # nothing was ever run here: nothing to copy
        if args["--verbose"]:
            print(f"nothing to copy: no live database on this host ({live})")
        return 0
    lock = sync.lock_path(area, dbdir=s.dbdir)
    report = _report if args["--verbose"] else None
    result = sync.run(live, area.shared_db_path, lock, interval, until=time.time() + (duration or 0),
                      on_result=report,
                      on_error=lambda r: _failed(sync.behind_message(area.shared_db_path, r.error)))
    return 1 if result is not None and result.error else 0


def crontab_line(area, command, args):
    """A crontab line running a project command for this area every minute."""
    exe = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), command)
    env = f"MT_TMPDIR={shlex.quote(os.environ['MT_TMPDIR'])} " if os.environ.get("MT_TMPDIR") else ""
    line = f"{env}{shlex.quote(exe)} --area {shlex.quote(area.toppath)} {args} >/dev/null 2>&1"
    return "* * * * * " + line.replace("%", "\\%")      # cron turns a bare % into a newline


def _seconds(text, name):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{name} expects a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):         # nan and inf too
        raise UsageError(f"{name} must be a positive number of seconds, got {text!r}")
    return value


def _report(result):
    kind = "full copy" if result.full else "changes"
    print(f"{time.strftime('%H:%M:%S')} {kind}: {plural(result.rows, 'row')}, mark {result.mark}, "
          f"{result.seconds * 1000:.0f} ms", flush=True)


def _failed(message):
    """A failed pass: one line on stderr (exit 1 follows when it was the last pass)."""
    _warn(f"mt-sync: error: {message}")


def _warn(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
