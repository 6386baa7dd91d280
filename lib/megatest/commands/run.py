"""mt-run: start or resume a run.

Usage:
  mt-run --target TARGET --runname NAME [--testpatt PATT] [--area DIR]
         [--rerun STATUSES | --rerun-clean | --rerun-all] [--no-wait] [--dry-run]
         [-j N] [--quiet] [--queue] [--preclean]
  mt-run (-h | --help)

Options:
  --target TARGET     key values joined by / (e.g. ubuntu/nfs/none)
  --runname NAME      the run's name; the same target and name again resumes the run
  --testpatt PATT     comma-separated test[/itempath] patterns; % wildcard, ~ negation,
                      test/ = toplevel only (default: the runconfig's TESTPATT, else %)
  --area DIR          the test area (else $MT_RUN_AREA_HOME, else upward search)
  --rerun STATUSES    relaunch finished records whose status is listed (comma list)
  --rerun-clean       relaunch records in [validvalues] cleanrerun-states/-statuses
  --rerun-all         relaunch every selected record
  --no-wait           return at once; the run goes on in a background mt-run whose
                      output goes to <area>/logs/mt-run-<target>-<runname>.log
  --dry-run           print the tests and items that would run; change nothing
  -j N                at most N tests of this run at once (besides max_concurrent_jobs)
  --quiet             no live progress; one line per finished test
  --queue             queue a "start run" action; the area's server (mt-serve) starts it
  --preclean          accepted for Megatest compatibility (relaunches always clean)

Exit status: 0 all selected tests clean (PASS WARN CHECK WAIVED SKIP), 1 some test did not
pass or did not finish, 2 usage or configuration error, 130 interrupted.
"""
import os
import signal
import sys
import time

from megatest.commands.cli import int_option, parse, unknown_value_warnings
from megatest.commands.words import plural, tests_and_items
from megatest.errors import MtError, UsageError, option_name


def main(argv, prog="mt-run"):
    """PROG: the front end whose spelling messages use (mt-run, or megatest's -run)."""
    args = parse(__doc__, argv)
    from megatest.config.area import find_area
    from megatest.run import runplan
    max_jobs = int_option(args, "-j", minimum=1)       # every option is checked before --dry-run
    if args["--dry-run"] and args["--queue"]:
        raise UsageError(f"{option_name(prog, 'dry-run')} changes nothing, "
                         f"{option_name(prog, 'queue')} queues a run: give one of them")
    area = find_area(args["--area"])
    warn = _stderr_line
    plan = runplan.make_plan(area, args["--target"], args["--runname"], args["--testpatt"],
                             warn=warn, prog=prog, evaluate=not args["--dry-run"])
    for message in _unknown_statuses(plan.settings, args["--rerun"], prog):
        warn(message)
    if args["--no-wait"]:
        runplan.check_name_lengths(plan, extra=[("--no-wait log name", _log_name(plan))])
    if args["--queue"]:
        return _queue(area, plan, args)
    for message in plan.messages:
        warn(message)
    if args["--dry-run"]:
        return _dry_run(plan)
    from megatest.launch import rundir
    from megatest.run.runner import Options, Runner
    from megatest.store import db, homehost
    home = homehost.home_host(area, plan.settings, claim=True)
    if not homehost.is_home(home):
        raise MtError(f"this area's home host is {home}; mt-run runs tests from there",
                      hint=f"ssh {home} mt-run ..., or mt-run ... --queue (the area server starts it there)")
    rundir.check_disks(plan.settings, warn)
    _note_server_for_remote_tests(area, plan, warn)
    rundir.ensure_linktree(plan.settings)
    opts = Options(rerun=tuple(_statuses(args["--rerun"])), rerun_clean=args["--rerun-clean"],
                   rerun_all=args["--rerun-all"], max_jobs=max_jobs)
    if args["--no-wait"] and _detach(area, plan):
        return 0
    signal.signal(signal.SIGTERM, _interrupt)
    conn = db.open_area_db(area, dbdir=plan.settings.dbdir)
    show = Progress(sys.stdout, live=sys.stdout.isatty() and not args["--quiet"])
    runner = Runner(plan, area, conn, opts, on_event=show.event,
                    say=lambda text: sys.stderr.write(f"mt-run: {text}\n"))
    show.state_counts = lambda: _state_counts(runner)
    syncer = _start_syncer(area, plan.settings)
    interrupted = False
    try:
        runner.register()
        runner.run()
    except KeyboardInterrupt:
        interrupted = True
        runner.stop = True
        if runner.run_id is None:
            _stop_syncer(area, plan.settings, syncer)
            raise
    show.clear()
    runner.close(interrupted=interrupted)
    _stop_syncer(area, plan.settings, syncer)
    code = runner.exit_code()
    _summary(runner, plan, show, interrupted)
    if interrupted:
        return 130
    return _late_elements(runner, plan, prog, warn) or code


def _unknown_statuses(settings, rerun, prog):
    """--rerun names statuses: one that no vocabulary knows is most likely a typo (PASSED)."""
    from megatest import states
    valid = states.validvalues_words(settings.config.section("validvalues"))
    return [message + "; no record will have it"
            for message in unknown_value_warnings(prog, "rerun", _statuses(rerun), "status", valid)]


def _late_elements(runner, plan, prog, warn):
    """Pattern elements only tests with [system] items could satisfy, checked now that their
    items are known: each that selected nothing is named; when the whole pattern selected
    nothing the run was not what was asked for, and the exit is 2."""
    from megatest.config.patterns import dead_elements, pattern_elements
    pending = [n for n, t in plan.tests.items() if t.deferred and n not in runner.records.item_total]
    dead = dead_elements(",".join(plan.late_elements), runner.records.selected, pending)
    opt = option_name(prog, "testpatt")
    for text in dead:
        warn(f"{prog}: warning: {opt} element {text!r} selected no test or item "
             "(its items were expanded during the run)")
    if dead and len(plan.dead_elements) + len(dead) == len(pattern_elements(plan.user_testpatt)):
        warn(f"{prog}: error: {opt} {plan.user_testpatt!r} selected no test or item")
        return 2
    return 0


def _note_server_for_remote_tests(area, plan, warn):
    """Tests launched elsewhere report through the area server: say so when none runs."""
    from megatest.launch import remote
    from megatest.store import locks
    if not plan.settings.config.get("jobtools", "launcher") and not plan.settings.config.section("launchers"):
        return                   # every test runs here (40 ms of imports and choices saved)
    kinds = {remote.choice_for(plan.settings, (name, "")).kind for name in plan.tests}
    if kinds <= {"direct"}:
        return
    from megatest.serve import rpc_server
    if locks.is_held(rpc_server.lock_path(area, plan.settings)):
        return
    warn("mt-run: note: no area server runs; tests a launcher puts on other hosts report "
         f"through it (start one: mt-serve --ensure --area {area.toppath}, or its cron line)")


def _queue(area, plan, args):
    """Queue a "start run" action; the area server runs it on the home host."""
    from megatest.serve import actions
    from megatest.store import db, homehost
    params = {"rerun": args["--rerun"] or "", "rerun_all": args["--rerun-all"],
              "rerun_clean": args["--rerun-clean"]}
    home = homehost.home_host(plan.settings.area, plan.settings, claim=True)
    if homehost.is_home(home):
        conn = db.open_area_db(area, dbdir=plan.settings.dbdir)
        task_id = actions.queue(conn, "run", plan.target, plan.runname, plan.user_testpatt, params)
    else:
        from megatest.serve import rpc_client
        task_id = rpc_client.call(area, "queue", {"action": "run", "target": plan.target,
                                                  "runname": plan.runname,
                                                  "testpatt": plan.user_testpatt, "params": params,
                                                  "request": os.urandom(8).hex()})
    print(f"mt-run: queued run {plan.target}/{plan.runname} as task {task_id}; the area server "
          f"(mt-serve) starts it on {home or 'the home host'}")
    return 0


def _start_syncer(area, settings):
    """megatest.db follows the live db while this runner lives (unless cron's syncer does it)."""
    from megatest.store import sync
    return sync.start_background(settings.live_db_path(), area.shared_db_path,
                                 sync.lock_path(area, dbdir=settings.dbdir), interval=1.0)


def _stop_syncer(area, settings, syncer):
    from megatest.store import sync
    thread, stop = syncer
    stop.set()
    thread.join()
    sync.sync_if_free(settings.live_db_path(), area.shared_db_path,      # a last pass
                      sync.lock_path(area, dbdir=settings.dbdir))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _detach(area, plan):
    """--no-wait: the run continues in a background child; True in the parent."""
    logdir = os.path.join(area.toppath, "logs")
    os.makedirs(logdir, exist_ok=True)
    log = os.path.join(logdir, _log_name(plan))
    sys.stdout.flush()
    pid = os.fork()
    if pid:
        print(f"mt-run: run {plan.target}/{plan.runname} continues in the background (pid {pid}); "
              f"log: {log}")
        return True
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    return False


def _log_name(plan):
    return f"mt-run-{plan.target.replace('/', '-')}-{plan.runname}.log"


def _stderr_line(message):
    sys.stderr.write(message.rstrip("\n") + "\n")


def _statuses(text):
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def _dry_run(plan):
    from megatest.run.runplan import expand
    for name, t in plan.tests.items():
        expansion = None if t.deferred else expand(t, plan)
        if t.deferred:
            print(f"{name}  (items expanded when its waitons are done)")
        elif expansion is None:
            print(name)
        else:
            for path, _ in expansion[0]:
                print(f"{name}/{path}")
    return 0


class Progress:
    """Live counts on a terminal; otherwise one line per finished test."""

    def __init__(self, out, live):
        self.out, self.live = out, live
        self.started = time.time()
        self.counts = {}
        self.last = 0.0
        self.state_counts = None

    def event(self, kind, rec):
        if kind not in ("finished", "started"):
            return
        if kind == "started":
            if self.live:
                self._live()
            return
        name = rec["testname"] + (f"/{rec['item_path']}" if rec["item_path"] else "")
        self.counts[rec["status"]] = self.counts.get(rec["status"], 0) + 1
        if self.live:
            self._live()
        else:
            self.out.write(f"{rec['state']:<10} {rec['status']:<8} {name}  "
                           f"({rec.get('run_duration') or 0:.1f}s)\n")
            self.out.flush()

    def _live(self):
        """One status line, redrawn at most five times a second: records per state."""
        now = time.time()
        if now - self.last < 0.2:
            return
        self.last = now
        by_state = self.state_counts() if self.state_counts else {}
        states_text = " ".join(f"{k}:{v}" for k, v in sorted(by_state.items()))
        fails = sum(v for k, v in self.counts.items() if k not in CLEAN)
        self.out.write(f"\r[{now - self.started:6.1f}s] {states_text}  failed:{fails}\x1b[K")
        self.out.flush()

    def clear(self):
        if self.live:
            self.out.write("\r\x1b[K")
            self.out.flush()


CLEAN = ("PASS", "WARN", "CHECK", "WAIVED", "SKIP")


def _state_counts(runner):
    counts = {}
    for key in runner.records.selected:
        if key[1] == "" and runner.records.iterated.get(key[0]):
            continue
        state = runner.records.recs[key]["state"]
        counts[state] = counts.get(state, 0) + 1
    return counts


def _flaky(runner):
    """Names of the counted records that passed after failing in this run."""
    from megatest.report import results
    from megatest.store import db
    try:
        earlier = db.attempts_of_runs(runner.conn, [runner.run_id])
    except db.sqlite3.Error:              # the summary must not fail a finished run
        return []
    recs = [runner.records.recs[k] for k in runner.records.counted()]
    return [results.name_of(r) for r in recs if r["id"] in earlier
            and results.is_flaky(r, earlier[r["id"]])]


def _summary(runner, plan, show, interrupted):
    from megatest import states
    out = show.out
    counts = {}
    for key in runner.records.counted():
        status = runner.records.recs[key]["status"]
        counts[status] = counts.get(status, 0) + 1
    total = sum(counts.values())
    elapsed = time.time() - show.started
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    flaky = _flaky(runner)
    if flaky:
        summary += f" ({len(flaky)} FLAKY: {', '.join(flaky[:5])}{' ...' if len(flaky) > 5 else ''})"
    out.write(f"run {plan.target}/{plan.runname}: {tests_and_items(total)} in {elapsed:.1f}s"
              f"{': ' + summary if summary else ''}\n")
    for r in runner.records.failures():
        name = r["testname"] + (f"/{r['item_path']}" if r["item_path"] else "")
        where = r["rundir"] or ""
        final = states.is_final(r["state"], r["status"])      # a running test has no final log yet
        log = os.path.join(where, r["final_logf"]) if final and where and r["final_logf"] else ""
        note = f" ({r['comment']})" if r["comment"] else ""
        out.write(f"  {r['state']}/{r['status']}  {name}{note}{'  log: ' + log if log else ''}\n")
    if interrupted:
        still = runner.still_running()
        out.write(f"mt-run interrupted: {plural(len(still), 'test')} still running; they continue.\n")
        pids = " ".join(f"-{r.pid}" for r in still if r.pid)   # 0: not forked yet (never -0)
        if pids:
            out.write(f"  to stop them: kill -TERM -- {pids}\n")
        if still:
            out.write("  to finish the run: run the same mt-run command again\n")
