"""Remove runs or tests and their run directories; stop running tests; queue either.

Usage:
  mt-clean --target PATT --runname PATT [--testpatt PATT] [--keep-dirs] [--queue] [--area DIR]
  mt-clean --kill --target PATT --runname PATT [--testpatt PATT] [--queue] [--area DIR]
  mt-clean (--lock | --unlock) --target PATT --runname PATT [--area DIR]
  mt-clean (-h | --help)

Options:
  --target PATT    target pattern; each /-part may use % (any text) or * (glob); fewer
                   parts than keys leave the others free (as in mt-list)
  --runname PATT   run name pattern
  --testpatt PATT  records to remove or kill (test[/itempath] patterns) [default: %]
  --keep-dirs      mark the records removed but leave their run directories on disk
  --kill           stop the selected running tests (KILLREQ; the runner or mt-clean kills
                   their process trees) instead of removing anything
  --queue          do not act here: queue the action for the area's server (mt-serve),
                   which carries it out on the home host
  --lock           lock the runs: removal skips them
  --unlock         unlock them
  --area DIR       the test area (else $MT_RUN_AREA_HOME, else upward search)

Removal first stops an active mt-run of the run, kills its selected running tests, then
deletes their run directories and links and marks the records DELETED (hidden from
listings; the deletion reaches megatest.db). A locked run is skipped.
Exit status: 0 done, 1 something could not be stopped, 2 usage or config error.
"""
import sys

from megatest.commands.cli import parse
from megatest.commands.words import plural


def main(argv):
    args = parse(__doc__, argv)
    from megatest.config import settings as settings_mod
    from megatest.config.area import find_area
    from megatest.run import clean
    from megatest.store import db, homehost
    area = find_area(args["--area"])
    settings = settings_mod.load_settings(area, warn=_warn)
    target, runname, testpatt = args["--target"], args["--runname"], args["--testpatt"] or "%"
    if args["--queue"]:
        return _queue(area, settings, "kill" if args["--kill"] else "remove", target, runname, testpatt)
    homehost.require_home(area, settings, "mt-clean")
    conn = db.open_area_db(area, dbdir=settings.dbdir)
    runs = clean.matching_runs(conn, target, runname)
    if not runs:
        print(f"mt-clean: no run matches --target {target} --runname {runname}")
        return 0
    host = homehost.this_host()
    code = 0
    for run in runs:
        name = f"{run['target']}/{run['runname']}"
        if args["--lock"] or args["--unlock"]:
            with db.transaction(conn):
                db.set_run(conn, run["id"], locked=1 if args["--lock"] else 0)
            print(f"{'locked' if args['--lock'] else 'unlocked'} {name}")
            continue
        if args["--kill"]:
            n = clean.request_kill(conn, run, testpatt, host)
            if n and not clean.wait_stopped(conn, run["id"], testpatt):
                print(f"{name}: {plural(n, 'test')} asked to stop, some still running")
                code = 1
            else:
                print(f"{name}: {plural(n, 'test')} stopped")
            continue
        if run["locked"]:
            print(f"{name}: locked, skipped (mt-clean --unlock to allow removal)")
            continue
        clean.stop_runner(conn, run, host)
        clean.request_kill(conn, run, testpatt, host)
        if not clean.wait_stopped(conn, run["id"], testpatt):
            print(f"{name}: tests still running after {clean.KILL_WAIT:.0f}s; not removed")
            code = 1
            continue
        n = clean.remove(conn, run, testpatt, keep_dirs=args["--keep-dirs"])
        print(f"{name}: removed {plural(n, 'record')}")
    _sync_now(area, settings)
    return code


def _queue(area, settings, action, target, runname, testpatt):
    from megatest.serve import actions
    from megatest.store import db
    conn = db.open_area_db(area, dbdir=settings.dbdir)
    task_id = actions.queue(conn, action, target, runname, testpatt)
    print(f"mt-clean: queued {action} of {target}/{runname} as task {task_id}; "
          "the area server (mt-serve) carries it out on the home host")
    return 0


def _sync_now(area, settings):
    from megatest.store import sync
    sync.sync_if_free(settings.live_db_path(), area.shared_db_path,
                      sync.lock_path(area, dbdir=settings.dbdir))


def _warn(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
