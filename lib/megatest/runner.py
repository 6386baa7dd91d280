"""The runner: one process drives every test record of a run.

State lives in the database; the in-memory records are a write-through mirror, so a runner
killed at any instant is replaced by the next `mt-run` of the same run, which adopts the
tests still running (they run in their own sessions) and records what finished meanwhile.
"""
import os
import select
import signal
import socket
import time
from dataclasses import dataclass, field

from megatest import db, finish, states, triggers
from megatest.launch import direct
from megatest.progress import read_progress

POLL_INTERVAL = 0.5        # s: adopted tests, kill requests, limits, step progress
HEARTBEAT_INTERVAL = 10.0  # s: heartbeat_at of the runner's running tests and its task row
KILL_GRACE = 5.0           # s between SIGTERM and SIGKILL of a test's process group
LAUNCH_GRACE = 5.0         # s a LAUNCHED record may lack its wrapper pid after a crash
NO_ITEM_COMMENT = "no item selected"


@dataclass
class Options:
    rerun: tuple = ()
    rerun_clean: bool = False
    rerun_all: bool = False
    max_jobs: int = None
    dry_run: bool = False


@dataclass
class Running:
    rec: dict
    pid: int
    rundir: str
    started: float
    child: bool                 # our own child: waitpid tells us when it ends
    kill_at: float = None       # SIGTERM sent at; SIGKILL after KILL_GRACE
    kill_status: str = ""       # KILLED after a kill request or runtime limit
    steps_size: int = -1
    job: int = None             # its row in the tasks table
    launcher: str = "direct"    # direct, template, slurm, lsf (see megatest.launch)
    job_id: str = ""            # the scheduler's job id
    missing: int = 0            # scheduler polls that did not list the job


@dataclass
class Report:
    """What the command layer prints: one call per finished record, then the summary."""
    finished: list = field(default_factory=list)


class Runner:
    def __init__(self, plan, area, conn, opts, on_event=None):
        self.plan, self.area, self.conn, self.opts = plan, area, conn, opts
        self.settings = plan.settings
        self.on_event = on_event or (lambda kind, **kw: None)
        self.host = socket.gethostname()
        self.recs = {}            # (testname, item_path) -> dict(row)
        self.selected = set()     # keys of selected records
        self.iterated = {}        # testname -> True when iterated
        self.expanded = {}        # testname -> bool (items registered)
        self.no_item = set()      # toplevels whose items exist but none is selected
        self.watchers = {}        # (testname, item_path) -> set of waiting keys
        self.dirty = set()
        self.ready = []
        self.ready_set = set()    # keys in self.ready or launched from it
        self.ready_unsorted = False
        self.running = {}         # test id -> Running
        self.others_running = 0
        self.others_by_group = {}
        self.jobgroup_of = {n: t.jobgroup for n, t in plan.tests.items()}
        self.waited_on = {w for t in plan.tests.values() for w in t.deps.waitons}
        self.stop = False
        self.next_launch = 0.0
        self.run_id = None
        self.task_id = None
        self.conn_path = plan.settings.live_db_path()
        self.item_values = {}     # (testname, item_path) -> {var: value}
        self.item_total = {}      # testname -> number of items expanded (before selection)
        from megatest.launch.slurm import Pacer
        from megatest.launchprep import Caches
        self.pacer = Pacer()      # scheduler submissions and polls
        self.caches = Caches()    # launch work remembered between tests
        self.shell = None         # the shell that forks local tests (launch/shell.py)
        self.unsaved_pids = {}    # test id -> wrapper pid the shell reported, not yet written
        self.kinds = {}           # key -> its launcher's kind
        self.after_commit = []    # what waits for the current transaction to commit

    # ------------------------------------------------------------ setup

    def register(self):
        """Run, keys, runner task, every selected record and the rerun resets: one transaction."""
        p, conn = self.plan, self.conn
        with db.transaction(conn):
            stored = db.register_keys(conn, self.settings.keys)
            if stored != self.settings.keys:
                from megatest.errors import MtError
                raise MtError(f"the keys in [fields] ({'/'.join(self.settings.keys)}) differ from the "
                              f"keys of existing runs ({'/'.join(stored)})", self.area.config_path)
            self.run_id = db.register_run(conn, self.settings.keys, p.keyvals, p.runname,
                                          p.env.get("USER", ""))
            self._claim_runner()
            names = []
            for name, t in p.tests.items():
                db.set_test_meta(conn, name, {**t.meta, "iterated": "yes" if t.iterated else "no"})
                names.append((name, ""))
                self.iterated[name] = t.iterated
                if t.iterated and not t.deferred:
                    names.extend((name, path) for path, _ in self._expansion(t))
            db.register_tests(conn, self.run_id, names)
            db.set_run(conn, self.run_id, state="running")
            for row in db.tests_of_run(conn, self.run_id, include_deleted=True):
                self._load(dict(row))
            self._apply_resets()
        self.dirty = set(self.selected)

    def _expansion(self, t, environ=None):
        from megatest.runplan import expand
        selected, total = expand(t, self.plan, environ=environ)
        self.expanded[t.name] = True
        self.item_values.update({(t.name, path): item for path, item in selected})
        if total and not selected:
            self.no_item.add(t.name)
        self.item_total[t.name] = total
        return selected

    def _claim_runner(self):
        from megatest.errors import MtError
        for task in db.active_runners(self.conn, self.plan.target, self.plan.runname):
            if task["host"] == self.host and task["pid"] and direct.pid_alive(task["pid"]) \
                    and task["pid"] != os.getpid():
                raise MtError(f"run {self.plan.target}/{self.plan.runname} is already being run by "
                              f"mt-run pid {task['pid']} on {self.host}",
                              hint="wait for it, or stop it first; running the command again later resumes")
            db.update_task(self.conn, task["id"], state="stale", finished_at=time.time())
        self.task_id = db.add_task(self.conn, "runner", action="run", target=self.plan.target,
                                   runname=self.plan.runname, testpatt=self.plan.testpatt,
                                   state="running", host=self.host, pid=os.getpid(),
                                   run_id=self.run_id, heartbeat_at=time.time())

    def _load(self, row):
        key = (row["testname"], row["item_path"])
        t = self.plan.tests.get(row["testname"])
        if t is None:
            return
        from megatest.patterns import compile_testpatt
        match = getattr(self, "_match", None) or compile_testpatt(self.plan.testpatt)
        self._match = match
        if row["item_path"] == "" or match(row["testname"], row["item_path"]):
            self.recs[key] = row
            self.selected.add(key)
            if row["item_path"]:
                self.expanded[row["testname"]] = True

    def _apply_resets(self):
        s, o = self.settings, self.opts
        for key in sorted(self.selected):
            r = self.recs[key]
            if r["item_path"] == "" and self.iterated.get(r["testname"]):
                if r["state"] == "NOT_STARTED" and r["status"] in states.BLOCKED_STATUSES:
                    self._reset(r)
                continue
            state, status = r["state"], r["status"]
            if states.is_running(state):
                continue
            reset = (
                o.rerun_all
                or status in o.rerun
                or (o.rerun_clean and (state in s.cleanrerun_states or status in s.cleanrerun_statuses))
                or any((not a or a == state) and (not b or b == status) for a, b in s.allow_auto_rerun)
                or state in ("INCOMPLETE", "DELETED")
                or (state == "NOT_STARTED" and status not in ("n/a", ""))
            )
            if reset and not (state == "NOT_STARTED" and status in ("n/a", "")):
                self._reset(r)

    def _reset(self, r):
        db.reset_test(self.conn, r["id"])
        r.update(state="NOT_STARTED", status="n/a", comment="", pid=None)
        r["attempt"] = (r.get("attempt") or 0) + 1

    # ------------------------------------------------------------ the loop

    def run(self):
        rfd, wfd = os.pipe()
        os.set_blocking(wfd, False)
        os.set_blocking(rfd, False)
        old_wakeup = signal.set_wakeup_fd(wfd)
        old_chld = signal.signal(signal.SIGCHLD, lambda *a: None)
        try:
            self._adopt()
            self._loop(rfd)
        finally:
            signal.signal(signal.SIGCHLD, old_chld)
            signal.set_wakeup_fd(old_wakeup)
            os.close(rfd)
            os.close(wfd)

    def _loop(self, rfd):
        next_poll = next_beat = 0.0
        while True:
            now = time.time()
            if now >= next_poll:
                self._poll(now)
                next_poll = now + POLL_INTERVAL
            if now >= next_beat:
                self._heartbeat(now)
                next_beat = now + HEARTBEAT_INTERVAL
            # One write transaction for what a pass records (ends, then the starts they allow):
            # a commit costs more than the rest of a trivial test's records together.
            with db.transaction(self.conn):
                self._reap()
                self._shell_events()
                self._evaluate()
                if not self.stop:
                    self._launch()
            self._run_after_commit()
            if self._done():
                return
            timeout = max(0.0, min(next_poll, next_beat) - time.time())
            if self.ready and not self.stop and self.next_launch > time.time():
                timeout = min(timeout, self.next_launch - time.time())
            select.select([rfd, self.shell.notify] if self.shell else [rfd], [], [], timeout)
            try:
                while os.read(rfd, 512):
                    pass
            except BlockingIOError:
                pass

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
        if self.running or self.ready or self.dirty:
            return False                 # the full check below is O(records): not every pass
        return all(self._final(k) for k in self.selected)

    def _final(self, key):
        r = self.recs[key]
        name, path = key
        if path == "" and self.iterated.get(name):
            if r["state"] == "NOT_STARTED" and r["status"] in states.BLOCKED_STATUSES:
                return True
            if not self.expanded.get(name):
                return False
            if name in self.no_item:
                return True
            return states.is_final(r["state"], r["status"]) or all(
                states.is_final(self.recs[k]["state"], self.recs[k]["status"])
                for k in self.selected if k[0] == name and k[1])
        return states.is_final(r["state"], r["status"])

    # ------------------------------------------------------------ readiness

    def _notify(self, key):
        waiting = self.watchers.pop(key, None)
        if waiting:
            self.dirty |= waiting

    def _watch(self, upstream_key, key):
        self.watchers.setdefault(upstream_key, set()).add(key)

    def _evaluate(self):
        while self.dirty:
            batch, self.dirty = self.dirty, set()
            changed = []
            for key in sorted(batch):
                r = self.recs.get(key)
                if r is None or not states.is_pending(r["state"], r["status"]):
                    continue
                verdict, why = self._verdict(key)
                if verdict == "wait":
                    continue
                if verdict == "ok":
                    if key[1] == "" and self.iterated.get(key[0]):
                        self._expand_now(key)
                    elif key not in self.ready_set:
                        self.ready.append(key)
                        self.ready_set.add(key)
                        self.ready_unsorted = True
                else:
                    status = "PREQ_FAIL" if verdict == "failed" else "PREQ_DISCARDED"
                    changed.append((key, status, why))
            if changed:
                with db.transaction(self.conn):
                    for key, status, why in changed:
                        self._set(key, state="NOT_STARTED", status=status, comment=why)

    def _verdict(self, key):
        from megatest import readiness
        name, path = key
        t = self.plan.tests[name]
        worst, why, watch = readiness.verdict(t, key, self.plan.tests, self.recs, self.iterated,
                                              self.expanded, self._final)
        for upstream in watch:
            self._watch(upstream, key)
        if worst == "ok" and "exclusive" in t.deps.modes and db.running_elsewhere(
                self.conn, self.run_id, name, path, states.RUNNING_STATES):
            self._watch(("exclusive", ""), key)
            return "wait", ""
        return worst, why

    def _expand_now(self, key):
        """Late expansion of an iterated test once its waitons allow it (behaviour.md §7.5)."""
        from megatest.errors import MtError
        name = key[0]
        t = self.plan.tests[name]
        if t.deferred:
            try:
                selected = self._expansion(t, environ=self._expansion_env())
            except MtError as err:
                with db.transaction(self.conn):
                    self._set(key, state="COMPLETED", status="ABORT", comment=str(err))
                return
        else:
            selected = []
        with db.transaction(self.conn):
            db.register_tests(self.conn, self.run_id, [(name, p) for p, _ in selected])
            if self.item_total.get(name) == 0:
                self._set(key, state="NOT_STARTED", status="ZERO_ITEMS", comment="the item list is empty")
            elif name in self.no_item:
                self._set(key, comment=NO_ITEM_COMMENT)
            for path, _ in selected:
                row = db.find_test(self.conn, self.run_id, name, path)
                self.recs[(name, path)] = dict(row)
                self.selected.add((name, path))
                self.dirty.add((name, path))
        self._notify((name, ""))

    def _expansion_env(self):
        return self.plan.env

    # ------------------------------------------------------------ launching

    def _limit_free(self, name):
        limit = self.settings.max_jobs
        if self.opts.max_jobs:
            mine = sum(1 for _ in self.running)
            if mine >= self.opts.max_jobs:
                return False
        if len(self.running) + self.others_running >= limit:
            return False
        group = self.jobgroup_of.get(name, "default")
        glimit = self.settings.jobgroups.get(group)
        if glimit:
            mine = sum(1 for run in self.running.values() if self.jobgroup_of.get(run.rec["testname"]) == group)
            if mine + self.others_by_group.get(group, 0) >= glimit:
                return False
        return True

    def _order(self, key):
        t = self.plan.tests[key[0]]
        return (-t.priority, 0 if key[0] in self.waited_on else 1, key[0])

    def _launch(self):
        """Launch ready records in order while limits allow; stop scanning once full."""
        if not self.ready:
            return
        now = time.time()
        if now < self.next_launch:
            return
        capacity = self._capacity() - len(self.running)
        if capacity <= 0:
            return
        if self.ready_unsorted:
            self.ready.sort(key=self._order)   # stable: items keep expansion order
            self.ready_unsorted = False
        batch, rest = [], []
        for n, key in enumerate(self.ready):
            if len(batch) >= capacity or (self.settings.launch_delay and batch):
                rest.extend(self.ready[n:])
                break
            if self._limit_free(key[0]):
                batch.append(key)
            else:
                rest.append(key)
        if self.settings.launch_delay and batch:
            self.next_launch = now + self.settings.launch_delay
        self.ready = rest
        if batch:
            self._start_batch(batch)

    def _capacity(self):
        cap = self.settings.max_jobs - self.others_running
        if self.opts.max_jobs:
            cap = min(cap, self.opts.max_jobs)
        return cap

    def _start_batch(self, keys):
        """Mark a batch started (limits re-counted in the same write transaction, so two
        runners of one area never overshoot together), then start the wrappers. A local
        test is RUNNING from that transaction on, and is handed to the runner's shell once
        it commits; other launchers mark it LAUNCHED and record their start after."""
        from megatest import skip
        local, prepared = [], []
        load = round(os.getloadavg()[0], 2)
        uname = " ".join(os.uname())
        with db.transaction(self.conn):
            total = db.count_running(self.conn, states.RUNNING_STATES)
            by_group = db.count_running_by_group(self.conn, states.RUNNING_STATES) \
                if self.settings.jobgroups else {}
            for key in keys:
                r = self.recs[key]
                if not states.is_pending(r["state"], r["status"]):
                    continue
                group = self.jobgroup_of.get(key[0], "default")
                glimit = self.settings.jobgroups.get(group)
                if total >= self.settings.max_jobs or (glimit and by_group.get(group, 0) >= glimit):
                    self.ready.append(key)
                    self.ready_unsorted = True
                    continue
                reason = skip.check(self.plan.tests[key[0]], r, self.conn, self.run_id)
                if reason:
                    self._set(key, state="COMPLETED", status="SKIP", comment=reason)
                    continue
                try:
                    rundir, linkdir, env, script = self._prepare(key)
                except OSError as err:
                    self._set(key, state="COMPLETED", status="ABORT", comment=f"launch failed: {err}")
                    continue
                now = time.time()
                fields = dict(status="n/a", rundir=linkdir, shortdir=rundir, host=self.host,
                              event_time=now, pid=None, cpuload=load, uname=uname,
                              diskfree=_free_kib(rundir))
                if self._launcher_kind(key) == "direct":
                    self._set(key, state="RUNNING", heartbeat_at=now, **fields)
                    local.append((key, rundir, env, script, self._add_job(key, "direct", None, "", now)))
                else:
                    self._set(key, state="LAUNCHED", **fields)
                    prepared.append((key, rundir, env, script))
                total += 1
                by_group[group] = by_group.get(group, 0) + 1
        if local:
            self._later(lambda: self._start_local(local))
        if prepared:
            self._later(lambda: self._spawn_launched(prepared))

    def _spawn_launched(self, prepared):
        """Start records marked LAUNCHED (committed: a runner that dies meanwhile is followed
        by one that adopts them) and record what the launchers said."""
        started = [self._spawn(key, rundir, env, script) for key, rundir, env, script in prepared]
        now = time.time()
        with db.transaction(self.conn):
            for key, kind, pid, job_id, rundir, error in started:
                if error:
                    self._set(key, state="COMPLETED", status="ABORT", comment=f"launch failed: {error}")
                    continue
                if job_id:
                    self._set(key, job_id=job_id)
                job = self._add_job(key, kind, pid, job_id, now)
                self._track(key, Running(self.recs[key], pid or 0, rundir, now, child=pid is not None,
                                         job=job, launcher=kind, job_id=job_id or ""))

    def _add_job(self, key, kind, pid, job_id, now):
        return db.add_task(self.conn, "job", action=kind, target=self.plan.target,
                           runname=self.plan.runname, state="running", host=self.host, pid=pid,
                           job_id=job_id or "", run_id=self.run_id, test_id=self.recs[key]["id"],
                           claimed_at=now, heartbeat_at=now)

    def _track(self, key, run):
        self.running[run.rec["id"]] = run
        self.on_event("started", rec=run.rec)

    def _start_local(self, batch):
        """Hand committed RUNNING records to the shell; a test whose environment bash cannot
        take (a variable name it refuses) gets a bash of its own."""
        failed = []
        for key, rundir, env, script, job in batch:
            rec, now = self.recs[key], time.time()
            try:
                if self._shell_for(env).start(rec["id"], rundir, env, self._body(key)):
                    self._track(key, Running(rec, 0, rundir, now, child=False, job=job))
                    continue
                pid = direct.start(rundir, script, env)
            except OSError as err:
                failed.append((key, job, err))
                continue
            self.unsaved_pids[rec["id"]] = pid
            self._track(key, Running(rec, pid, rundir, now, child=True, job=job))
        if failed:
            with db.transaction(self.conn):
                for key, job, err in failed:
                    self._set(key, state="COMPLETED", status="ABORT", comment=f"launch failed: {err}")
                    db.update_task(self.conn, job, state="failed", finished_at=time.time())

    def _spawn(self, key, rundir, env, script):
        """Start one prepared record: (key, kind, pid, job id, rundir, error)."""
        from megatest import remote
        choice = remote.choice_for(self.settings, key)
        try:
            remote.write_exec_spec(rundir, env, script, self.plan.tests[key[0]].runtimelim)
            if choice.kind == "template":
                useshell = (self.settings.config.get("jobtools", "useshell") or "yes").strip() != "no"
                pid = remote.start_template(choice, self.plan, self.recs[key], rundir, env,
                                            self.run_id, useshell)
                return key, "template", pid, None, rundir, ""
            sched = remote.scheduler_module(choice.kind)
            self.pacer.before_submit()
            words = sched.resources(self.plan.tests[key[0]].config) if hasattr(sched, "resources") else []
            job_id = sched.submit(list(choice.words), rundir, remote.quoted([remote.exec_path(env), rundir]),
                                  self.job_tag(), words, env, comment=remote.job_comment(self.recs[key]["id"]))
            return key, choice.kind, None, job_id, rundir, ""
        except Exception as err:          # OSError or the scheduler's LaunchError
            if not isinstance(err, OSError) and type(err).__name__ != "LaunchError":
                raise
            return key, choice.kind, None, None, rundir, str(err)

    def _shell_for(self, env):
        if self.shell is None:
            from megatest.launch.shell import Shell
            self.shell = Shell(env, os.path.dirname(self.conn_path))
        return self.shell

    def _body(self, key):
        from megatest import launchprep
        return launchprep.body(self, self.plan.tests[key[0]])

    def _shell_events(self):
        """pids and ends the shell reported: ended wrappers are recorded at once."""
        if self.shell is None:
            return
        ended = []
        for kind, tid, value in self.shell.events():
            run = self.running.get(tid)
            if run is None or run.launcher != "direct":
                continue
            if kind == "pid":
                run.pid = value
                self.unsaved_pids[tid] = value
            else:
                ended.append(run)
        if ended:
            self._finish(ended)

    def _save_pids(self):
        pids = {tid: pid for tid, pid in self.unsaved_pids.items() if tid in self.running}
        self.unsaved_pids = {}
        if pids:
            with db.transaction(self.conn):
                for tid, pid in pids.items():
                    db.update_test(self.conn, tid, only_states=states.RUNNING_STATES, pid=pid)

    def _launcher_kind(self, key):
        kind = self.kinds.get(key)
        if kind is None:
            from megatest import remote
            kind = self.kinds[key] = remote.choice_for(self.settings, key).kind
        return kind

    def job_tag(self):
        from megatest import remote
        return remote.run_tag(self.run_id, self.area.area_id)

    def _prepare(self, key):
        from megatest import launchprep
        return launchprep.prepare(self, key)

    # ------------------------------------------------------------ watching and finishing

    def _reap(self):
        done = {}
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            done[pid] = status
        if not done:
            return
        if self.shell and self.shell.pid in done:
            self.shell.close(wait=0)
            self.shell = None        # the next local test starts a new one
        by_pid = {run.pid: tid for tid, run in self.running.items() if run.child}
        runs = [self.running[by_pid[p]] for p in done if p in by_pid]
        finished = [run for run in runs if run.launcher == "direct"]
        for run in runs:
            if run.launcher != "direct":
                self._launcher_ended(run, os.waitstatus_to_exitcode(done[run.pid]))
        if finished:
            self._finish(finished)

    def _launcher_ended(self, run, code):
        """A launcher process (ssh, nbfake ...) ended: from now on only the record is watched;
        a non-zero exit while the record never started is a failed launch."""
        from megatest import remote
        run.child = False
        if code == 0:
            return
        key = (run.rec["testname"], run.rec["item_path"])
        with db.transaction(self.conn):
            changed = self._set(key, state="COMPLETED", status="ABORT",
                                comment=remote.launch_failed(run.rundir, code), only_states=("LAUNCHED",))
        if changed:
            self._forget(run, "failed", code)

    def _adopt(self):
        """Records left running by an earlier runner: adopt, finish or declare DEAD."""
        now = time.time()
        for key in sorted(self.selected):
            r = self.recs[key]
            if not states.is_running(r["state"]) or (key[1] == "" and self.iterated.get(key[0])):
                continue
            job = db.job_row_of_test(self.conn, r["id"])
            kind = job["action"] if job else self._launcher_kind(key)
            if kind in ("template", "slurm", "lsf"):
                self.running[r["id"]] = Running(r, 0, r["shortdir"] or "", r["event_time"] or now,
                                                child=False, job=job["id"] if job else None,
                                                launcher=kind,
                                                job_id=(job["job_id"] if job else "") or r["job_id"] or "")
                self.on_event("adopted", rec=r)
                continue
            if r["host"] and r["host"] != self.host:
                continue       # on another host: its executor reports; the sweeper judges it
            rundir = r["shortdir"]
            p = read_progress(rundir) if rundir else None
            pid = r["pid"] or (p.pid if p else None) or (direct.find_wrapper(rundir) if rundir else None)
            run = Running(r, pid or 0, rundir, r["event_time"] or now, child=False,
                          job=job["id"] if job else None)
            if rundir and (p.exit_code is not None or direct.is_wrapper_alive(pid, rundir)):
                self.running[r["id"]] = run
            elif not pid and now - (r["event_time"] or now) < LAUNCH_GRACE:
                self.running[r["id"]] = run      # handed to a shell a moment ago: _poll decides
            elif not pid and self._may_relaunch(run):
                self._relaunch([run])
            else:
                self._finish([run])
            self.on_event("adopted", rec=r)

    def _poll(self, now):
        self._save_pids()
        others = db.count_running(self.conn, states.RUNNING_STATES) - len(self.running)
        self.others_running = max(0, others)
        killreq = {row[0] for row in self.conn.execute(
            "SELECT id FROM tests WHERE run_id=? AND state='KILLREQ'", (self.run_id,))}
        self._watch_remote(now, killreq)
        gone, never = [], []
        for tid, run in self.running.items():
            if run.launcher != "direct":
                continue
            if not run.pid:
                p = read_progress(run.rundir) if run.rundir else None
                if p and p.pid:
                    run.pid = p.pid      # started by a shell that is not ours to hear
                    self.unsaved_pids[tid] = p.pid
                elif now - run.started > LAUNCH_GRACE:
                    (never if self._may_relaunch(run) else gone).append(run)
                    continue
                else:
                    continue
            if tid in killreq and run.kill_at is None:
                self._kill(run, now, "KILLED", "kill requested")
            limit = self.plan.tests[run.rec["testname"]].runtimelim
            if limit and run.kill_at is None and now - run.started > limit:
                self._kill(run, now, "KILLED", f"runtime limit {limit:g}s exceeded")
            if run.kill_at is not None and now - run.kill_at > KILL_GRACE:
                direct.signal_group(run.pid, signal.SIGKILL)
            if not run.child:
                p = read_progress(run.rundir) if run.rundir else None
                if p and p.exit_code is not None or not direct.is_wrapper_alive(run.pid, run.rundir):
                    if run.rec["state"] != "LAUNCHED" or now - run.started > LAUNCH_GRACE:
                        gone.append(run)
            else:
                self._step_progress(run)
        if gone:
            self._finish(gone)
        if never:
            self._relaunch(never)
        if self.watchers.get(("exclusive", "")):
            self._notify(("exclusive", ""))

    def _may_relaunch(self, run):
        """A local test that never started (no .mt-steps: its shell died before forking it)
        is launched again, at most twice."""
        return (run.launcher == "direct" and bool(run.rundir) and (run.rec.get("attempt") or 0) < 2
                and not os.path.exists(os.path.join(run.rundir, direct.STEPS_FILE)))

    def _relaunch(self, runs):
        with db.transaction(self.conn):
            for run in runs:
                key = (run.rec["testname"], run.rec["item_path"])
                self.running.pop(run.rec["id"], None)
                self._reset(self.recs[key])
                if run.job:
                    db.update_task(self.conn, run.job, state="failed", finished_at=time.time())
                self.ready_set.discard(key)
                self.dirty.add(key)

    def _watch_remote(self, now, killreq):
        from megatest import remote
        remote.watch(self, now, killreq)

    def _absorb(self, run, row):
        """A record someone else finished: mirror, watchers, toplevel, journal, job row."""
        from megatest import testops
        key = (run.rec["testname"], run.rec["item_path"])
        if run.rundir:
            testops.deliver_journal(self.conn, run.rundir, self.plan.env)
            row = db.get_test(self.conn, row["id"])
        self.recs[key].update(dict(row))
        self._notify(key)
        if key[1]:
            top = db.find_test(self.conn, self.run_id, key[0], "")
            if top:
                self.recs[(key[0], "")].update(dict(top))
                self._notify((key[0], ""))
        self._forget(run, "done", None)

    def _forget(self, run, job_state, code):
        self.running.pop(run.rec["id"], None)
        if run.job:
            with db.transaction(self.conn):
                db.update_task(self.conn, run.job, state=job_state, exit_code=code,
                               finished_at=time.time())
        self.on_event("finished", rec=self.recs[(run.rec["testname"], run.rec["item_path"])])

    def _kill(self, run, now, status, why):
        run.kill_at, run.kill_status = now, status
        run.rec["comment"] = why
        direct.signal_group(run.pid, signal.SIGTERM)

    def _step_progress(self, run):
        try:
            size = os.stat(os.path.join(run.rundir, direct.STEPS_FILE)).st_size
        except OSError:
            return
        if size == run.steps_size:
            return
        run.steps_size = size
        p = read_progress(run.rundir)
        status, _ = p.worst()
        key = (run.rec["testname"], run.rec["item_path"])
        with db.transaction(self.conn):
            finish.record_steps(self.conn, run.rec["id"], p)
            if run.rec["status"] != status:
                self._set(key, status=status, only_states=("RUNNING", "REMOTEHOSTSTART"))

    def _finish(self, runs):
        """Record the final state of ended wrappers (behaviour.md §11.6), in one transaction."""
        fired = []
        now = time.time()
        with db.transaction(self.conn):
            for run in runs:
                self.running.pop(run.rec["id"], None)
                fired.append(self._finish_one(run, now))
        for rec, old in fired:
            if rec and (rec["state"], rec["status"]) != old:
                t = self.plan.tests.get(rec["testname"])
                if t is None or t.triggers:      # the spec in the run dir comes from these
                    self._later(lambda rec=rec: triggers.fire(
                        rec["rundir"] or "", rec["id"], rec["state"], rec["status"],
                        self._trigger_env(rec)))
                self.on_event("finished", rec=rec)

    def _finish_one(self, run, now):
        key = (run.rec["testname"], run.rec["item_path"])
        row = dict(db.get_test(self.conn, run.rec["id"]))
        old = (run.rec["state"], run.rec["status"])
        self.recs[key].update(row)
        p = read_progress(run.rundir) if run.rundir else None
        if p:
            finish.record_steps(self.conn, row["id"], p)
        killed = None
        if run.kill_status:
            killed = "FAILED TO KILL" if _reap_group(run.pid) else "KILLED"
        fields, only = finish.final_fields(self.conn, row, p, now, killed, run.rec.get("comment"))
        if self.unsaved_pids.pop(row["id"], None) and not row["pid"]:
            fields["pid"] = run.pid
        self._set(key, only_states=only, **fields)
        job = run.job or db.job_of_test(self.conn, row["id"])
        if job:
            code = p.exit_code if p else None
            db.update_task(self.conn, job, finished_at=now, exit_code=code,
                           state="killed" if killed else "done" if code is not None else "failed")
        return self.recs[key], old

    def _set(self, key, only_states=None, **fields):
        """Write a record (rolling up its toplevel) and keep the mirror and watchers in step."""
        r = self.recs[key]
        fields.setdefault("last_update", time.time())
        if not db.update_test(self.conn, r["id"], only_states=only_states, **fields):
            return False
        r.update(fields)
        self._notify(key)
        if key[1]:
            top = db.rollup_toplevel(self.conn, self.run_id, key[0])
            mirror = self.recs[(key[0], "")]
            if top and (top["state"], top["status"]) != (mirror["state"], mirror["status"]):
                self._notify((key[0], ""))
            if top:
                mirror.update(top)
        if key[1]:
            top = db.find_test(self.conn, self.run_id, key[0], "")
            if top and (top["state"], top["status"]) != (self.recs[(key[0], "")]["state"],
                                                         self.recs[(key[0], "")]["status"]):
                self.recs[(key[0], "")].update(dict(top))
                self._notify((key[0], ""))
        return True

    def _trigger_env(self, rec):
        return {**self.plan.env, "MT_TEST_NAME": rec["testname"], "MT_ITEMPATH": rec["item_path"],
                "MT_TEST_RUN_DIR": rec["rundir"] or ""}

    def _heartbeat(self, now):
        """Heartbeat the tests this runner watches and itself; sweep the rest of the area."""
        from megatest import sweeper
        with db.transaction(self.conn):
            # tests run elsewhere heartbeat through their own wrapper (mt-exec), never here
            db.heartbeat_tests(self.conn, [tid for tid, run in self.running.items()
                                           if run.launcher == "direct"], now)
            db.heartbeat_jobs(self.conn, [run.job for run in self.running.values() if run.job], now)
            db.update_task(self.conn, self.task_id, heartbeat_at=now)
        for row in sweeper.sweep_once(self.conn, self.host, self.settings.deadtime,
                                      skip_ids=set(self.running)):
            key = (row["testname"], row["item_path"])
            if key in self.recs:
                self.recs[key].update(dict(row))
                self._notify(key)

    # ------------------------------------------------------------ the end

    def close(self, interrupted=False):
        """Derive the run's state and rollup status, close the runner's task, copy the db."""
        from megatest import rollup
        if self.shell:
            self._shell_events()
            self.shell.close()
        self._save_pids()
        finals = all(self._final(k) for k in self.selected)
        tops = [(r["state"], r["status"]) for r in db.run_toplevel_statuses(self.conn, self.run_id)]
        result = rollup.rollup(tops) or ("NOT_STARTED", "n/a")
        passes = sum(1 for _, s in tops if s == "PASS")
        fails = sum(1 for _, s in tops if not states.is_clean(s))
        with db.transaction(self.conn):
            db.set_run(self.conn, self.run_id, state="completed" if finals else "incomplete",
                       rollup_status=result[1], pass_count=passes, fail_count=fails)
            db.update_task(self.conn, self.task_id, state="killed" if interrupted else "done",
                           finished_at=time.time(), exit_code=self.exit_code())

    def exit_code(self):
        for key in self.selected:
            r = self.recs[key]
            if key[1] == "" and self.iterated.get(key[0]):
                if key[0] in self.no_item:
                    continue
                if r["state"] == "NOT_STARTED" and r["status"] in states.BLOCKED_STATUSES:
                    return 1
                continue
            if not self._final(key) or not states.is_clean(r["status"]):
                return 1
        return 0

    def failures(self):
        out = []
        for key in sorted(self.selected):
            r = self.recs[key]
            if key[1] == "" and self.iterated.get(key[0]) and not (
                    r["state"] == "NOT_STARTED" and r["status"] in states.BLOCKED_STATUSES):
                continue
            if not self._final(key) or not states.is_clean(r["status"]):
                out.append(r)
        return out

    def still_running(self):
        return list(self.running.values())


def _free_kib(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize // 1024


def _reap_group(pgid, wait=2.0):
    """SIGKILL what is left of a killed test's process group; True if something survives."""
    deadline = time.time() + wait
    while direct.group_alive(pgid):
        if time.time() > deadline:
            return True
        direct.signal_group(pgid, signal.SIGKILL)
        time.sleep(0.05)
    return False

