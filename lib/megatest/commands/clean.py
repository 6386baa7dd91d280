"""Remove runs or tests and their run directories; stop running tests; queue either;
archive finished runs into compressed files and restore them.

Usage:
  mt-clean --target PATT --runname PATT [--testpatt PATT] [--keep-dirs] [--queue] [--area DIR]
  mt-clean --kill --target PATT --runname PATT [--testpatt PATT] [--queue] [--area DIR]
  mt-clean (--lock | --unlock) --target PATT --runname PATT [--area DIR]
  mt-clean --archive DIR --target PATT --runname PATT [--testpatt PATT] [--area DIR]
  mt-clean --archive DIR --keep-runs [--target PATT] [--area DIR]
  mt-clean --restore --target PATT --runname PATT [--area DIR]
  mt-clean (-h | --help)

Options:
  --target PATT    target pattern; each /-part may use % (any text) or * (glob); fewer
                   parts than keys leave the others free (as in mt-list)
  --runname PATT   run name pattern
  --testpatt PATT  records to remove, kill or archive (test[/itempath] patterns) [default: %]
  --keep-dirs      mark the records removed but leave their run directories on disk
  --kill           stop the selected running tests (KILLREQ; the runner or mt-clean kills
                   their process trees) instead of removing anything
  --queue          do not act here: queue the action for the area's server (mt-serve),
                   which carries it out on the home host
  --lock           lock the runs: removal and archiving skip them
  --unlock         unlock them
  --archive DIR    move the run directories of finished runs into one compressed archive
                   per run in DIR (an existing, writable directory); the records stay,
                   marked archived
  --keep-runs      with --archive: archive every run but the newest N of each target
                   (by start time), N from `[archive] keep-runs N` in megatest.config;
                   runs already archived are passed over in silence (for cron)
  --restore        put the run directories of archived runs back from their archives and
                   clear the mark; the archive files are kept
  --area DIR       the test area (else $MT_RUN_AREA_HOME, else upward search)

Removal first stops an active mt-run of the run, kills its selected running tests, then
deletes their run directories and links and marks the records DELETED (hidden from
listings; the deletion reaches megatest.db). A locked run is skipped.

Archiving takes runs whose records are all finished (a run with a record running, or a
live mt-run, is skipped with the reason). Its archive is
DIR/<area id>__<target, / as _>__<runname>__<run id>.tar.gz (`-2`, `-3` ... after the
run's first archive), a tar.gz of the selected records' directories (a selected test
brings its items), each stored under <target>/<runname>/<test>[/<itempath>], its path
below its disk. The file is written under a temp name and renamed; then the records are
marked archived (they keep their state and status; mt-list shows where the archive is);
then the directories and their link-tree links are removed. A kill at any point: the same
command again finishes the job. If the archive cannot be written whole (a full disk),
nothing else happens. A run already archived or locked is skipped with a note. Symlinks
pointing outside the run, pipes and devices are left out of the archive (the symlinks are
named).

Restoring checks every member of the archive first (no absolute path, no `..`, nothing
outside the archived directories, no symlink pointing outside the run) and refuses to
write over an existing directory that is not empty; it unpacks each directory beside its
place, renames it into place, makes the links again and clears the mark.

Exit status: 0 done (or nothing to do: no run matched, a run was already archived,
locked, or not archived), 1 something could not be stopped, archived or restored,
2 usage or config error (a missing or unwritable archive DIR, a bad [archive] keep-runs).
"""
import sys

from megatest.commands.cli import parse
from megatest.errors import UsageError
from megatest.commands.words import plural


def main(argv):
    try:
        args = parse(__doc__, argv)
    except UsageError as err:
        raise _clearer(err, argv) from None
    from megatest.config import settings as settings_mod
    from megatest.config.area import find_area
    from megatest.run import clean
    from megatest.store import db, homehost
    area = find_area(args["--area"])
    settings = settings_mod.load_settings(area, warn=_warn)
    target, runname, testpatt = args["--target"], args["--runname"], args["--testpatt"] or "%"
    if args["--archive"] is not None or args["--restore"]:
        return _archive_or_restore(area, settings, args)
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


def _clearer(err, argv):
    """docopt's guess names the first usage line; archiving's options say more."""
    given = {a.split("=", 1)[0] for a in argv}
    if "--restore" in given and "--archive" in given:
        return UsageError("--restore takes no --archive DIR: each run's archive path is recorded "
                          "with it", hint="mt-clean --restore --target PATT --runname PATT")
    if "--keep-runs" in given and "--archive" not in given:
        return UsageError("--keep-runs needs --archive DIR",
                          hint="mt-clean --archive DIR --keep-runs [--target PATT]")
    return err


def _archive_or_restore(area, settings, args):
    from megatest.run import archive, clean
    from megatest.store import db, homehost
    restore = args["--restore"]
    directory = None if restore else archive.archive_dir(args["--archive"])
    keep = archive.keep_runs(settings) if args["--keep-runs"] else None
    homehost.require_home(area, settings, "mt-clean")
    conn = db.open_area_db(area, dbdir=settings.dbdir)
    target, runname = args["--target"] or "%", args["--runname"] or "%"
    host = homehost.this_host()
    code = 0
    with archive.lock(settings):
        runs = clean.matching_runs(conn, target, runname)
        if keep is not None:
            runs = [r for r in archive.beyond_keep(runs, keep) if archive.state_of(conn, r) != "archived"]
            if not runs:
                print(f"mt-clean: nothing to archive: [archive] keep-runs {keep} keeps the newest "
                      f"{plural(keep, 'run')} of each target")
        elif restore and runs:
            runs = [r for r in runs if archive.state_of(conn, r)]
            if not runs:
                print(f"mt-clean: no archived run matches --target {target} --runname {runname}")
        elif not runs:
            print(f"mt-clean: no run matches --target {target} --runname {runname}")
        for run in runs:
            if restore:
                result = archive.restore_run(conn, run)
            else:
                result = archive.archive_run(conn, area, run, directory, args["--testpatt"], host)
            _report(f"{run['target']}/{run['runname']}", result)
            code = max(code, 1 if result.failed else 0)
            if result.stop:
                break
    _sync_now(area, settings)
    return code


def _report(name, result):
    """One line per run (and one naming the symlinks an archive left out)."""
    if result.failed:
        sys.stderr.write(f"mt-clean: error: {name}: {result.failed}\n")
    elif result.skipped:
        print(f"{name}: {result.skipped}")
    elif result.done == "archived":
        print(f"{name}: archived {plural(result.records, 'record')} "
              f"({plural(result.dirs, 'directory', 'directories')}, {_size(result.size)}) "
              f"in {result.path}")
    elif result.done == "finished":
        print(f"{name}: finished archiving in {result.path} (removed "
              f"{plural(result.dirs, 'directory', 'directories')} left by an interrupted run)")
    else:
        print(f"{name}: restored {plural(result.records, 'record')} "
              f"({plural(result.dirs, 'directory', 'directories')}) from {result.path}; "
              "the archive is kept")
    if result.left_out:
        print(f"  left out {plural(len(result.left_out), 'symlink')} pointing outside the run: "
              + ", ".join(result.left_out))


def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


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
