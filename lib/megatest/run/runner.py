"""The runner: one process drives every test record of a run.

State lives in the database; the in-memory records are a write-through mirror, so a runner
killed at any instant is replaced by the next `mt-run` of the same run, which adopts the
tests still running (they run in their own sessions) and records what finished meanwhile.
This module holds the loop, the judging of pending records and the records' writes; the
state it drives is state.py, starting tests launching.py, watching them watching.py and
localshell.py, the stall guard stall.py.
"""
import os
import select
import signal
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass

from megatest import states
from megatest.launch import triggers
from megatest.launch.progress import read_progress
from megatest.run import launching, localshell, registering, stall, watching
from megatest.run.state import Jobs, ReadyQueue, Records
from megatest.run.watching import HEARTBEAT_INTERVAL, POLL_INTERVAL
from megatest.store import db
from megatest.testside import finish, journal

NO_ITEM_COMMENT = "no item selected"


@dataclass
class Options:
    rerun: tuple = ()
    rerun_clean: bool = False
    rerun_all: bool = False
    max_jobs: int = None


class Runner:
    """Drives one run to its end. Its state is three small holders (state.py): the records
    mirror, the ready queue and the jobs it watches; helpers that act on that state take the
    runner (launching, localshell, watching, stall, launch/launchprep, launch/remote).

    `register` loads the run, `run` loops until every selected record is final, `close`
    writes the run's result. Each pass of the loop (`_pass`) is one write transaction."""

    def __init__(self, plan, area, conn, opts, on_event=None, say=None):
        self.plan, self.area, self.conn, self.opts = plan, area, conn, opts
        self.settings = plan.settings
        self.on_event = on_event or (lambda kind, **kw: None)
        self.say = say or (lambda text: None)     # the command says where (commands/run.py)
        self.host = socket.gethostname()
        self.records = Records()
        self.queue = ReadyQueue(waited_on={w for t in plan.tests.values() for w in t.deps.waitons})
        self.jobs = Jobs(jobgroup_of={n: t.jobgroup for n, t in plan.tests.items()})
        self.stop = False
        self.run_id = None
        self.task_id = None
        self.conn_path = plan.settings.live_db_path()
        from megatest.launch.launchprep import Caches
        from megatest.launch.slurm import Pacer
        self.pacer = Pacer()      # scheduler submissions and polls
        self.caches = Caches()    # launch work remembered between tests
        self.shell = None         # the shell that forks local tests (launch/shell.py)
        self.after_commit = []    # what waits for the current transaction to commit
        self.rollups_due = None   # during a pass: iterated tests whose toplevel waits for a rollup
        self.given_back = []      # (rundir, journal text) delivered in the open transaction
        self.stall_seen = False   # the stall guard saw a stall at its last check

    # ------------------------------------------------------------ setup

    def register(self):
        """Run, keys, runner task, every selected record and the rerun resets: one transaction."""
        with self._refused_storage(started=False):
            registering.register(self)
        self.records.dirty = set(self.records.selected)

    # ------------------------------------------------------------ the loop

    def run(self):
        rfd, wfd = os.pipe()
        os.set_blocking(wfd, False)
        os.set_blocking(rfd, False)
        old_wakeup = signal.set_wakeup_fd(wfd)
        old_chld = signal.signal(signal.SIGCHLD, lambda *a: None)
        try:
            with self._refused_storage():
                watching.adopt(self)
                self._loop(rfd)
        finally:
            signal.signal(signal.SIGCHLD, old_chld)
            signal.set_wakeup_fd(old_wakeup)
            os.close(rfd)
            os.close(wfd)

    def _loop(self, rfd):
        """Until every selected record is final (or the run stops): the timed checks, one
        pass, what waited for its commit, then sleep until a child, the shell or a timer."""
        next_poll = next_beat = 0.0
        while True:
            now = time.time()
            if now >= next_poll:          # kill requests, limits, progress, others' load
                watching.poll(self, now)
                next_poll = now + POLL_INTERVAL
                if stall.stalled(self):
                    return
            if now >= next_beat:
                watching.heartbeat(self, now)
                next_beat = now + HEARTBEAT_INTERVAL
            self._pass()
            self._run_after_commit()      # tests start and triggers fire on committed records
            if self._done():
                return
            self._sleep(rfd, min(next_poll, next_beat))

    def _pass(self):
        """One pass, in one write transaction (a commit costs more than the rest of a trivial
        test's records together), in this order:
          1. ends: children reaped, wrappers the shell saw end (each gets its final record);
          2. readiness: every record whose upstream changed is judged again, toplevels that
             others wait on are rolled up first;
          3. starts: ready records launched in order while the limits allow;
          4. rollups: the toplevels whose items changed in this pass."""
        try:
            with self._writing():
                self.rollups_due = set()
                watching.reap(self)
                localshell.shell_events(self)
                while self.records.dirty or self._rollups(watched_only=True):
                    self._evaluate()
                if not self.stop:
                    launching.launch(self)
                self._rollups()
        finally:
            self.rollups_due = None

    def _sleep(self, rfd, next_timer):
        """Until a signal (SIGCHLD wakes the pipe), the shell's report, the next timer or the
        launch delay; no sleep while records wait to be judged."""
        timeout = 0.0 if self.records.dirty else max(0.0, next_timer - time.time())
        if self.queue.ready and not self.stop and self.queue.next_launch > time.time():
            timeout = min(timeout, self.queue.next_launch - time.time())
        select.select([rfd, self.shell.notify] if self.shell else [rfd], [], [], timeout)
        try:
            while os.read(rfd, 512):
                pass
        except BlockingIOError:
            pass

    @contextmanager
    def _writing(self):
        """A write transaction of the runner's. When the outermost one rolls back, nothing it
        queued may start, and journals it delivered get their lines back (delivery trims a
        journal at once; the calls would otherwise be lost with the rollback)."""
        outer = not self.conn.in_transaction
        try:
            with db.transaction(self.conn):
                yield
        except BaseException:
            if outer:
                self.after_commit.clear()
                self._give_back_journals()
            raise
        if outer:
            self.given_back.clear()

    def _give_back_journals(self):
        while self.given_back:
            journal.give_back_journal(*self.given_back.pop())

    def _deliver_journal(self, rundir):
        """The calls a test kept in its journal (the live db refused them, or mt-serve was
        away), into its record before its end is judged."""
        from megatest.testside import testops
        if self.conn.in_transaction:
            kept = journal.journal_text(rundir)
            if kept is None:
                return
            self.given_back.append((rundir, kept))
        testops.deliver_journal(self.conn, rundir, self.plan.env, warn=self.say)

    @contextmanager
    def _refused_storage(self, started=True):
        """The live db (or the shell's file beside it) refusing a write becomes the one line
        users see: exit 2 when the run was not registered, else exit 1. What was being written
        is rolled back, so every record is as last committed: tests already running go on
        (their calls wait in their journals), the others start when the same mt-run runs again."""
        try:
            yield
        except (OSError, db.sqlite3.Error) as err:
            reason = db.storage_reason(err)
            if reason is None:
                raise
            what = f"run {self.plan.target}/{self.plan.runname} "
            what += self._stopped_counts() if started else "not started"
            origin = db.live_origin(dbdir=self.settings.dbdir)
            raise db.StorageError(
                f"{what}: the live database ({origin}) refused a write",
                db.storage_path(err, self.conn_path), reason, exit_code=1 if started else 2,
                hint="free space there (or make it writable), then run the same mt-run again: "
                     "it resumes the run and records what the tests kept in their journals") from None

    def _stopped_counts(self):
        try:
            self._reload()                   # the rolled-back pass changed the mirror
        except db.sqlite3.Error:
            pass
        waiting = sum(1 for k in self.records.counted()
                      if states.is_pending(self.records.recs[k]["state"], self.records.recs[k]["status"]))
        return f"stopped ({len(self.jobs.running)} still running, {waiting} not started)"

    def _later(self, action):
        """Run action once what is being written is committed (now, outside a transaction):
        a test starts, and a trigger fires, only on records others can read."""
        if self.conn.in_transaction:
            self.after_commit.append(action)
        else:
            action()

    def _run_after_commit(self):
        while self.after_commit:
            self.after_commit.pop(0)()

    def _done(self):
        if self.stop:
            return True
        if self.jobs.running or self.queue.ready or self.records.dirty:
            return False                 # the full check below is O(records): not every pass
        return all(self.records.final(k) for k in self.records.selected)

    # ------------------------------------------------------------ readiness

    def _evaluate(self):
        """Judge again every record whose upstream changed: queue it, expand it, or block it."""
        recs = self.records.recs
        while self.records.dirty:
            batch, self.records.dirty = self.records.dirty, set()
            changed = []
            # record ids follow registration, so items are judged (and queued) in expansion order
            for key in sorted(batch, key=lambda k: recs[k]["id"] if k in recs else 0):
                r = recs.get(key)
                if r is None or not states.is_pending(r["state"], r["status"]):
                    continue
                verdict, why = self._verdict(key)
                if verdict == "wait":
                    continue
                if verdict == "ok":
                    if key[1] == "" and self.records.iterated.get(key[0]):
                        self._expand_now(key)
                    elif key not in self.queue.ready_set:
                        launching.enqueue(self, key)
                        self.queue.ready_set.add(key)
                else:
                    status = "PREQ_FAIL" if verdict == "failed" else "PREQ_DISCARDED"
                    changed.append((key, status, why))
            if changed:
                with db.transaction(self.conn):
                    for key, status, why in changed:
                        self._set(key, state="NOT_STARTED", status=status, comment=why)

    def _verdict(self, key):
        from megatest.run import readiness
        name, path = key
        t = self.plan.tests[name]
        records = self.records
        worst, why, watch = readiness.verdict(t, key, self.plan.tests, records.recs, records.iterated,
                                              records.expanded, records.final)
        for upstream in watch:
            self.records.watch(upstream, key)
        if worst == "ok" and "exclusive" in t.deps.modes and db.running_elsewhere(
                self.conn, self.run_id, name, path, states.RUNNING_STATES):
            self.records.watch(("exclusive", ""), key)
            return "wait", ""
        return worst, why

    def _expand_now(self, key):
        """Late expansion of an iterated test once its waitons allow it (behaviour.md §7.5)."""
        from megatest.errors import MtError
        name = key[0]
        t = self.plan.tests[name]
        if t.deferred:
            try:
                selected = registering.expansion(self, t, environ=self._expansion_env())
            except MtError as err:
                # refused values: the test is over (no item will ever exist), and everything
                # waiting on its expansion or its record must hear so
                self.records.expanded[name] = True
                self.records.item_total[name] = 0
                with db.transaction(self.conn):
                    self._set(key, state="COMPLETED", status="ABORT", comment=str(err))
                self.records.notify((name, ""))
                return
        else:
            selected = []
        with db.transaction(self.conn):
            db.register_tests(self.conn, self.run_id, [(name, p) for p, _ in selected])
            if self.records.item_total.get(name) == 0:
                self._set(key, state="NOT_STARTED", status="ZERO_ITEMS", comment="the item list is empty")
            elif name in self.records.no_item:
                self._set(key, comment=NO_ITEM_COMMENT)
            for path, _ in selected:
                row = db.find_test(self.conn, self.run_id, name, path)
                self.records.recs[(name, path)] = dict(row)
                self.records.selected.add((name, path))
                self.records.dirty.add((name, path))
        self.records.notify((name, ""))

    def _expansion_env(self):
        return self.plan.env

    # ------------------------------------------------------------ launching

    def job_tag(self):
        from megatest.launch import remote
        return remote.run_tag(self.run_id, self.area.area_id)

    # ------------------------------------------------------------ watching and finishing

    def _absorb(self, run, row):
        """A record someone else finished: mirror, watchers, toplevel, journal, job row."""
        key = (run.rec["testname"], run.rec["item_path"])
        if run.rundir:
            self._deliver_journal(run.rundir)
            row = db.get_test(self.conn, row["id"])
        self.records.recs[key].update(dict(row))
        self.records.notify(key)
        if key[1]:
            top = db.find_test(self.conn, self.run_id, key[0], "")
            if top:
                self.records.recs[(key[0], "")].update(dict(top))
                self.records.notify((key[0], ""))
        self._forget(run, "done", None)

    def _forget(self, run, job_state, code):
        self.jobs.running.pop(run.rec["id"], None)
        if run.job:
            with db.transaction(self.conn):
                db.update_task(self.conn, run.job, state=job_state, exit_code=code,
                               finished_at=time.time())
        self.on_event("finished", rec=self.records.recs[(run.rec["testname"], run.rec["item_path"])])

    def _finish(self, runs):
        """Record the final state of ended wrappers (behaviour.md §11.6), in one transaction."""
        fired = []
        now = time.time()
        with self._writing():
            for run in runs:
                self.jobs.running.pop(run.rec["id"], None)
                fired.append(self._finish_one(run, now))
        for rec, old in fired:
            if rec and (rec["state"], rec["status"]) != old:
                self.fire_triggers(rec)          # both once the end is committed: a pass
                self._later(lambda rec=rec: self.on_event("finished", rec=rec))   # may roll back

    def _finish_one(self, run, now):
        key = (run.rec["testname"], run.rec["item_path"])
        if run.rundir:
            self._deliver_journal(run.rundir)
        row = dict(db.get_test(self.conn, run.rec["id"]))
        old = (run.rec["state"], run.rec["status"])
        self.records.recs[key].update(row)
        p = read_progress(run.rundir) if run.rundir else None
        if p:
            finish.record_steps(self.conn, row["id"], p, run.rundir)
        killed = None
        if run.kill_status:
            killed = "FAILED TO KILL" if watching.reap_group(run.pid) else "KILLED"
        fields, only = finish.final_fields(self.conn, row, p, now, killed, run.rec.get("comment"))
        if self.jobs.unsaved_pids.pop(row["id"], None) and not row["pid"]:
            fields["pid"] = run.pid
        self._set(key, only_states=only, **fields)
        job = run.job or db.job_of_test(self.conn, row["id"])
        if job:
            code = p.exit_code if p else None
            db.update_task(self.conn, job, finished_at=now, exit_code=code,
                           state="killed" if killed else "done" if code is not None else "failed")
        return self.records.recs[key], old

    def _set(self, key, only_states=None, **fields):
        """Write a record (rolling up its toplevel) and keep the mirror and watchers in step."""
        r = self.records.recs[key]
        fields.setdefault("last_update", time.time())
        if not db.update_test(self.conn, r["id"], only_states=only_states, **fields):
            return False
        r.update(fields)
        self.records.notify(key)
        if key[1]:
            if self.rollups_due is None:
                self._rollup(key[0])
            else:
                self.rollups_due.add(key[0])
        return True

    def _rollup(self, name):
        """The toplevel of an iterated test from its items, into the db and the mirror."""
        top = db.rollup_toplevel(self.conn, self.run_id, name)
        mirror = self.records.recs[(name, "")]
        if top and (top["state"], top["status"]) != (mirror["state"], mirror["status"]):
            self.records.notify((name, ""))
        if top:
            mirror.update(top)
        row = db.find_test(self.conn, self.run_id, name, "")
        if row and (row["state"], row["status"]) != (mirror["state"], mirror["status"]):
            mirror.update(dict(row))
            self.records.notify((name, ""))

    def _rollups(self, watched_only=False):
        """Roll up, once each, the toplevels whose items this pass changed (a big iterated
        test's rollup reads all its items: once per pass, not once per item change); with
        watched_only, only those a record waits on. True when one was rolled up."""
        due = sorted(n for n in self.rollups_due if not watched_only or (n, "") in self.records.watchers)
        self.rollups_due.difference_update(due)
        for name in due:
            self._rollup(name)
        return bool(due)

    def fire_triggers(self, rec):
        """Fire the record's [triggers] for its current state/status once it is committed."""
        t = self.plan.tests.get(rec["testname"])
        if t is None or t.triggers:      # the spec in the run dir comes from these
            state, status = rec["state"], rec["status"]
            self._later(lambda: triggers.fire(rec["rundir"] or "", rec["id"], state, status,
                                              self._trigger_env(rec)))

    def _trigger_env(self, rec):
        return {**self.plan.env, "MT_TEST_NAME": rec["testname"], "MT_ITEMPATH": rec["item_path"],
                "MT_TEST_RUN_DIR": rec["rundir"] or ""}

    # ------------------------------------------------------------ the end

    def close(self, interrupted=False):
        """Derive the run's state and rollup status, close the runner's task, copy the db."""
        with self._refused_storage():
            self._close(interrupted)

    def _close(self, interrupted):
        from megatest import rollup
        db.rollback_open(self.conn)          # interrupted while a rollback was under way
        if interrupted:
            self._reload()                   # a pass cut short changed the mirror, not the db
        if self.shell:
            localshell.shell_events(self)
            self.shell.close()
        localshell.save_pids(self)
        finals = all(self.records.final(k) for k in self.records.selected)
        tops = [(r["state"], r["status"]) for r in db.run_toplevel_statuses(self.conn, self.run_id)]
        result = rollup.rollup(tops) or ("NOT_STARTED", "n/a")
        passes = sum(1 for _, s in tops if s == "PASS")
        fails = sum(1 for _, s in tops if not states.is_clean(s))
        with db.transaction(self.conn):
            db.set_run(self.conn, self.run_id, state="completed" if finals else "incomplete",
                       rollup_status=result[1], pass_count=passes, fail_count=fails)
            db.update_task(self.conn, self.task_id, state="killed" if interrupted else "done",
                           finished_at=time.time(), exit_code=self.exit_code())

    def _reload(self):
        self.records.reload(db.tests_of_run(self.conn, self.run_id, include_deleted=True))

    def exit_code(self):
        return 1 if self.records.failures() else 0

    def still_running(self):
        return list(self.jobs.running.values())

