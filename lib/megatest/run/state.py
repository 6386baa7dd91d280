"""The runner's state, apart from the loop that drives it (runner.py): the mirror of the run's
records and who waits on whom (Records), the queue of records ready to start (ReadyQueue),
and the tests this runner watches with the counts its limits are checked against (Jobs).

The database is the truth: Records is a write-through mirror of it, so a runner killed at
any instant loses nothing that the next `mt-run` cannot read back.
"""
from dataclasses import dataclass, field

from megatest import states


@dataclass
class Records:
    """The run's selected records, by (testname, item_path), and what must be judged again."""
    recs: dict = field(default_factory=dict)         # key -> dict(row)
    selected: set = field(default_factory=set)       # keys this run selected
    iterated: dict = field(default_factory=dict)     # testname -> True when iterated
    expanded: dict = field(default_factory=dict)     # testname -> True once its items exist
    no_item: set = field(default_factory=set)        # toplevels with items, none selected
    item_values: dict = field(default_factory=dict)  # key -> {var: value}
    item_total: dict = field(default_factory=dict)   # testname -> items expanded (before selection)
    watchers: dict = field(default_factory=dict)     # key -> keys waiting on it
    dirty: set = field(default_factory=set)          # keys to judge again

    def notify(self, key):
        """KEY changed: what waits on it is judged again."""
        waiting = self.watchers.pop(key, None)
        if waiting:
            self.dirty |= waiting

    def watch(self, upstream, key):
        self.watchers.setdefault(upstream, set()).add(key)

    def final(self, key):
        """Is the record done for this run? A toplevel of an iterated test is when its items are."""
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

    def counted(self):
        """The selected records a summary and the exit code count, sorted: every item and
        non-iterated test, and the toplevel of an iterated test only where it stands for the
        test because no item record exists (blocked, zero items, refused item values)."""
        with_items = {name for name, path in self.selected if path}
        return [key for key in sorted(self.selected)
                if key[1] or not self.iterated.get(key[0])
                or (key[0] not in with_items and key[0] not in self.no_item)]

    def failures(self):
        return [self.recs[key] for key in self.counted()
                if not self.final(key) or not states.is_clean(self.recs[key]["status"])]

    def reload(self, rows):
        """Take ROWS (the db's) into the mirror, for records it holds."""
        for row in rows:
            key = (row["testname"], row["item_path"])
            if key in self.recs:
                self.recs[key].update(dict(row))


@dataclass
class ReadyQueue:
    """Records whose waitons allow them to start, in launch order (launching.enqueue)."""
    waited_on: set                                   # testnames others wait on: they go first
    ready: list = field(default_factory=list)        # keys, in launch order
    ready_set: set = field(default_factory=set)      # keys queued now or launched from the queue
    order_of: dict = field(default_factory=dict)     # testname -> its launch order key
    next_launch: float = 0.0                         # [setup] launch-delay: not before this


@dataclass
class Jobs:
    """The tests this runner started or adopted and watches, and what limits are checked
    against: its own running tests plus the counts of other runs' (launching.limit_free)."""
    jobgroup_of: dict                                # testname -> its jobgroup
    running: dict = field(default_factory=dict)      # test id -> Running
    others_running: int = 0                          # running records of other runners
    others_by_group: dict = field(default_factory=dict)  # jobgroup -> others' running records
    unsaved_pids: dict = field(default_factory=dict)  # test id -> pid the shell reported, unwritten
    kinds: dict = field(default_factory=dict)        # key -> its launcher's kind
    relaunches: dict = field(default_factory=dict)   # test id -> times launched again


@dataclass
class Running:
    """One test this runner watches."""
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
    shell_pid: int = 0          # the runner's shell that was sent this test (local tests)
    lost_at: float = None       # first seen with neither a wrapper pid nor a live shell
