"""megatest's switches outside a test: runs, queries, changes, set-up and the server.

Each action is the mt-* command that does it (mt-run, mt-list, mt-clean, mt-init, mt-serve:
their main() with the translated arguments) or, where that command has no such option, the
library functions those commands use (runops, clean, db); set-up, files and the server
are in megatest_setup.py. Several actions in one call run in
Megatest's order (megatest.scm); a given switch that none of them uses is named on stderr.
"""
import json
import os
import sys

from megatest.commands.megatest_setup import create_area, create_test, env2file, server, servers
from megatest.commands.megatest_switches import note_unused, usage_line
from megatest.commands.words import plural
from megatest.errors import MtError, UsageError
import megatest

MEGATEST_VERSION = "1.6501"      # the Megatest release whose command line this one follows
SELECT = ("-target", "-reqtarg", "-runname", ":runname", "-testpatt", "-itempatt")
FILTERS = ("-state", ":state", "-status", ":status")
RUNS = ("-run", "-runall", "-runtests", "-rerun-clean", "-rerun-all")
WAITS = ("-run-wait", "-runwait")
WAIT_POLL = 2.0                  # s between two looks at the runs -run-wait waits for


def main(opts, words):
    if words:
        raise UsageError(f"unexpected argument {words[0]!r}", hint="megatest -h")
    if "-version" in opts:
        print(f"{MEGATEST_VERSION}-py{megatest.__version__}")
        return 0
    if opts.get("-reqtarg") or opts.get("-target"):
        # As Megatest does first thing: config files see the target (#{getenv MT_TARGET}).
        os.environ["MT_TARGET"] = opts.get("-reqtarg") or opts["-target"]
    todo = [(switches, handler, used) for switches, handler, used in ACTIONS
            if any(s in opts for s in switches)
            and not (switches == WAITS and any(s in opts for s in RUNS))]
    if not todo:
        raise UsageError("nothing to do: give an action switch (-run, -list-runs, -remove-runs ...)",
                         hint="megatest -h")
    used = {s for switches, _, extra in todo for s in switches + extra}
    note_unused(opts, used, " ".join(s for switches, _, _ in todo for s in switches if s in opts))
    for _, handler, _ in todo:
        code = handler(opts)
        if code:
            return code
    return 0


# ---------------------------------------------------------------- arguments

def _area():
    from megatest.config.area import find_area
    return find_area(None)


def _settings(area, target=None):
    """The area's settings, read with the key variables of TARGET (else of $MT_TARGET, which
    -target sets) when it is one target of the area, as Megatest reads megatest.config."""
    from megatest.config import settings as settings_mod
    target = target or os.environ.get("MT_TARGET")
    if target and not any(c in target for c in "%*,"):
        try:
            return settings_mod.load_settings(area, warn=_warn, target=target)
        except MtError:
            pass                         # not a target of this area: read without one
    return settings_mod.load_settings(area, warn=_warn)


def _warn(message):
    sys.stderr.write(message.rstrip("\n") + "\n")


def _target(opts, action, required=True):
    """-reqtarg, -target, else $MT_TARGET (inside a test), as Megatest looks for it."""
    target = opts.get("-reqtarg") or opts.get("-target") or os.environ.get("MT_TARGET")
    if required and not target:
        raise UsageError(f"{action} needs -target TARGET", hint=usage_line(action))
    if "-reqtarg" in opts:
        _check_reqtarg(opts["-reqtarg"], _area())
    return target


def _runname(opts, action, default=None):
    name = opts.get("-runname") or opts.get(":runname") or default
    if not name:
        raise UsageError(f"{action} needs -runname NAME", hint=usage_line(action))
    return name


def _testpatt(opts):
    """-testpatt (or -runtests' value), with Megatest's -itempatt appended as /ITEMPATT."""
    patt = opts.get("-testpatt") or opts.get("-runtests")
    if "-itempatt" in opts:
        patt = f"{patt or '%'}/{opts['-itempatt']}"
        _warn(f"megatest: warning: -itempatt is Megatest's old spelling; the test pattern is {patt}")
    return patt


def _filters(opts):
    return _commas(opts.get("-state") or opts.get(":state")), \
        _commas(opts.get("-status") or opts.get(":status"))


def _commas(text):
    return tuple(w.strip() for w in (text or "").split(",") if w.strip())


def _dumpmode(opts, action, allowed):
    mode = opts.get("-dumpmode")
    if mode is not None and mode not in allowed:
        raise UsageError(f"-dumpmode {mode}: {action} prints {' or '.join(allowed)} here")
    return mode


def _check_reqtarg(target, area):
    """-reqtarg: the target must be a section of runconfigs.config (Megatest exits 1; here 2)."""
    from megatest.config.parse import list_targets
    found = os.path.isfile(area.runconfig_path) and target in list_targets(
        area.runconfig_path, toppath=area.toppath, warn=_warn)
    if not found:
        raise MtError(f"[{target}] is not a section of {area.runconfig_path}",
                      hint="-target takes any target; -reqtarg only those runconfigs.config names")


# ---------------------------------------------------------------- runs (mt-run)

def _run(opts):
    """-run/-runall/-runtests/-rerun-clean/-rerun-all: mt-run, which waits for the end of the
    run (Megatest's -run returned after the last launch unless -run-wait was given)."""
    from megatest.commands import run
    if "-runtests" in opts:
        _warn(f"megatest: warning: -runtests is deprecated in Megatest; "
              f"use -run -testpatt {opts['-runtests']}")
    action = next(s for s in RUNS if s in opts)
    argv = ["--target", _target(opts, action), "--runname", _runname(opts, action)]
    patt = _testpatt(opts)
    if patt and patt != "%":       # Megatest: `%` gives way to the runconfig's TESTPATT, as no pattern
        argv += ["--testpatt", patt]
    if "-rerun" in opts:
        argv += ["--rerun", opts["-rerun"]]
    argv += ["-" + s for s in ("-rerun-clean", "-rerun-all", "-preclean") if s in opts]
    if "-q" in opts:
        argv.append("--quiet")
    code = run.main(argv, prog="megatest")
    # Megatest's -run exits 0 when tests fail: Makefiles chaining runs go on to the next one.
    return 0 if code == 1 else code


def _run_wait(opts):
    """-run-wait without -run: wait until every selected record of the runs is final."""
    import time
    from megatest.run import clean, runops
    target, runname, patt = _target(opts, "-run-wait"), _runname(opts, "-run-wait"), _testpatt(opts)
    area = _area()
    while True:
        conn = _read_conn(area)
        if conn is None:
            return 0
        try:
            left = sum(runops.unfinished(conn, run["id"], patt)
                       for run in clean.matching_runs(conn, target, runname))
        finally:
            conn.close()
        if not left:
            return 0
        time.sleep(WAIT_POLL)


# ---------------------------------------------------------------- queries (mt-list)

def _read_conn(area):
    """A read-only connection to what reads use (live db at home, else a copy); None before any run."""
    from megatest.store import db, readcopy
    path = readcopy.path_for_reading(area, _settings(area))
    return db.open_for_reading(area, paths=[path]) if path else None


def _list_runs(opts):
    """-list-runs RUNPATT (mt-list runs --megatest) and -list-db-targets."""
    from megatest.commands import list as listing
    action = "-list-db-targets" if "-list-db-targets" in opts else "-list-runs"
    mode = _dumpmode(opts, action, ("json",))
    states, statuses = _filters(opts)
    area = _area()
    runs = listing.read_runs(area, _target(opts, action, required=False),
                             opts.get("-list-runs", "%"), _testpatt(opts), states, statuses,
                             detail=mode is None, prog="megatest", settings=_settings(area)).runs
    if action == "-list-db-targets":
        targets = list(dict.fromkeys(sel["run"]["target"] for sel in runs))
        _print_list(targets, mode, wrap="targets")
    elif mode == "json":
        print(json.dumps(listing.megatest_json(runs)))
    else:
        for sel in runs:
            listing.print_megatest(sel, fields_line=True)
    return 0


def _print_list(items, mode, wrap=None):
    if mode == "json":
        print(json.dumps({wrap: items} if wrap else items))
    else:
        for item in items:
            print(item)


def _list_targets(opts):
    """-list-targets: the target sections of runconfigs.config (mt-list targets), -target filters."""
    from megatest.config import settings as settings_mod
    from megatest.config.parse import list_targets
    from megatest.config.patterns import match_target
    mode = _dumpmode(opts, "-list-targets", ("json",))
    area = _area()
    settings_mod.read_keys(area, warn=_warn)     # a broken megatest.config is an error here too
    targets = list_targets(area.runconfig_path, toppath=area.toppath, warn=_warn) \
        if os.path.isfile(area.runconfig_path) else []
    patts = _commas(opts.get("-target"))
    targets = [t for t in targets if not patts or any(match_target(p, t) for p in patts)]
    _print_list(targets, mode)
    return 0


def _show_config(opts):
    """-show-config: megatest.config as read (ini, or json), or one -section/-var value."""
    mode = _dumpmode(opts, "-show-config", ("ini", "json"))
    settings = _settings(_area(), _target(opts, "-show-config", required=False))
    return _show(opts, settings.config.sections, mode, lambda section: settings.config.sections.get(section))


def _show_runconfig(opts):
    """-show-runconfig: the runconfig variables of the target as written, not run by the shell (mt-list
    config); -section S -var V looks in [S] (S as a target), else in [default]."""
    from megatest.commands.list import resolved_runconfig
    mode = _dumpmode(opts, "-show-runconfig", ("ini", "json"))
    area = _area()
    target = _target(opts, "-show-runconfig", required=False)

    def section_values(name):
        name = None if name == "default" else name
        try:
            return resolved_runconfig(area, _settings(area, name), name)
        except MtError:                  # not a target of this area's keys: [default] alone
            return resolved_runconfig(area, _settings(area), None)

    values = resolved_runconfig(area, _settings(area, target), target)
    return _show(opts, {target or "default": values}, mode, section_values)


def _show(opts, sections, mode, section_values):
    if ("-section" in opts) != ("-var" in opts):
        raise UsageError("-section and -var go together", hint=usage_line("-show-config"))
    if "-section" in opts:
        value = (section_values(opts["-section"]) or {}).get(opts["-var"])
        if value is not None:
            print(value)
        return 0
    if mode == "json":
        print(json.dumps(sections, indent=1))
    else:
        from megatest.commands.list import ini_text
        sys.stdout.write(ini_text(sections))
    return 0


def _test_paths(opts):
    """-test-paths / -test-files GLOB: run directories of the selected records, newest first;
    inside a test the target and run name default to the test's own."""
    import glob
    from megatest.run import runops
    action = "-test-files" if "-test-files" in opts else "-test-paths"
    target = _target(opts, action)
    runname = _runname(opts, action, default=os.environ.get("MT_RUNNAME") or "%")
    states, statuses = _filters(opts)
    conn = _read_conn(_area())
    if conn is None:
        return 0
    try:
        paths = runops.test_paths(conn, target, runname, _testpatt(opts), states, statuses)
    finally:
        conn.close()
    for path in paths:
        if action == "-test-paths":
            print(path)
            continue
        for found in sorted(glob.glob(os.path.join(path, opts["-test-files"]))):
            print(found)
    return 0


# ---------------------------------------------------------------- changes (mt-clean and runops)

def _remove_runs(opts):
    from megatest.commands import clean
    if any(f in opts for f in FILTERS):
        raise UsageError("-remove-runs: -state and -status are not supported here; "
                         "select the records with -testpatt")
    return clean.main(["--target", _target(opts, "-remove-runs"),
                       "--runname", _runname(opts, "-remove-runs"),
                       "--testpatt", _testpatt(opts) or "%"])


def _lock(opts):
    from megatest.commands import clean
    action = "-lock" if "-lock" in opts else "-unlock"
    return clean.main(["--" + action[1:], "--target", _target(opts, action),
                       "--runname", _runname(opts, action)])


def _set_state_status(opts):
    """-set-state-status STATE,STATUS on the selected records; their triggers fire."""
    from megatest.run import clean, runops
    value = opts["-set-state-status"]
    if "," not in value:
        raise UsageError(f"-set-state-status {value}: give STATE,STATUS (e.g. COMPLETED,FAIL)")
    state, status = (part.strip() for part in value.split(",", 1))
    target, runname = _target(opts, "-set-state-status"), _runname(opts, "-set-state-status")
    patt = _testpatt(opts)
    states, statuses = _filters(opts)
    area, conn, settings = _write_conn()
    try:
        runs = clean.matching_runs(conn, target, runname)
        for run in runs:
            changed = runops.set_state_status(conn, run, patt, state, status, states, statuses)
            label = f"{run['target']}/{run['runname']}"
            if changed is None:
                print(f"{label}: locked, skipped (megatest -unlock to allow changes)")
                continue
            _fire(changed)
            print(f"{label}: {plural(len(changed), 'record')} set to {state}/{status}")
        if not runs:
            print(f"megatest: no run matches -target {target} -runname {runname}")
    finally:
        conn.close()
    _sync(area, settings)
    return 0


def _write_conn():
    """(area, live db connection, settings) for a change, which only the home host makes."""
    from megatest.store import db, homehost
    area = _area()
    settings = _settings(area)
    homehost.require_home(area, settings, "megatest")
    return area, db.open_area_db(area, dbdir=settings.dbdir), settings


def _sync(area, settings):
    """The change reaches megatest.db now, as mt-clean's do."""
    from megatest.store import sync
    sync.sync_if_free(settings.live_db_path(), area.shared_db_path,
                      sync.lock_path(area, dbdir=settings.dbdir))


def _fire(rows):
    from megatest.launch import triggers
    for row in rows:
        env = dict(os.environ, MT_TEST_NAME=row["testname"], MT_ITEMPATH=row["item_path"],
                   MT_TEST_RUN_DIR=row["rundir"] or "")
        triggers.fire(row["rundir"], row["id"], row["state"], row["status"], env)


def _run_status(opts):
    """-set-run-status STATUS [-m C] on the matching runs, or -get-run-status; no run: exit 1."""
    from megatest.run import clean, runops
    action = "-set-run-status" if "-set-run-status" in opts else "-get-run-status"
    target, runname = _target(opts, action), _runname(opts, action)
    if action == "-get-run-status":
        area = _area()
        conn = _read_conn(area)
    else:
        area, conn, settings = _write_conn()
    try:
        runs = clean.matching_runs(conn, target, runname) if conn else []
        for run in runs:
            if action == "-get-run-status":
                print(run["status"])
            else:
                runops.set_run_status(conn, run["id"], opts["-set-run-status"], opts.get("-m"))
    finally:
        if conn:
            conn.close()
    if not runs:
        _warn(f"megatest: no run matches -target {target} -runname {runname}")
        return 1
    if action == "-set-run-status":
        _sync(area, settings)
    return 0


# (the switches that select an action, its handler, the other switches it uses), in the order
# megatest.scm acts on them.
ACTIONS = [
    (("-env2file",), env2file, ()),
    (("-server",), server, ()),
    (("-list-servers", "-stop-server", "-kill-servers"), servers, ()),
    (("-list-targets",), _list_targets, ("-target", "-dumpmode")),
    (("-show-runconfig",), _show_runconfig, ("-target", "-reqtarg", "-section", "-var", "-dumpmode")),
    (("-show-config",), _show_config, ("-target", "-section", "-var", "-dumpmode")),
    (("-remove-runs",), _remove_runs, SELECT + FILTERS),
    (("-set-state-status",), _set_state_status, SELECT + FILTERS),
    (("-set-run-status", "-get-run-status"), _run_status, ("-target", "-reqtarg", "-runname",
                                                          ":runname", "-m")),
    (("-list-runs", "-list-db-targets"), _list_runs, ("-target", "-reqtarg", "-testpatt",
                                                      "-itempatt", "-dumpmode") + FILTERS),
    (RUNS, _run, SELECT + WAITS + ("-rerun", "-preclean", "-q")),
    (("-lock", "-unlock"), _lock, ("-target", "-reqtarg", "-runname", ":runname")),
    (("-test-paths", "-test-files"), _test_paths, SELECT + FILTERS),
    (("-create-megatest-area",), create_area, ()),
    (("-create-test",), create_test, ()),
    (WAITS, _run_wait, SELECT),
]
