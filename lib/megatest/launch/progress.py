"""Reading what a test's wrapper wrote into its run directory (steps, exit code)."""
import os
from dataclasses import dataclass, field

from megatest.launch.direct import STEPS_FILE
from megatest.states import exit_to_status, worse_status


@dataclass
class Progress:
    starts: list = field(default_factory=list)      # [(name, time)]
    ends: list = field(default_factory=list)        # [(name, rc, kind, time)]
    runscript_rc: int = None
    exit_code: int = None                           # None: the wrapper has not finished
    pid: int = None
    started: float = None                           # the wrapper's own start and end times
    ended: float = None

    def duration(self):
        """Seconds the wrapper ran by its own clock; None for a wrapper of an older format."""
        if self.started is None or self.ended is None:
            return None
        return round(max(0.0, self.ended - self.started), 3)

    def step_status(self, rc, kind):
        if kind == "nochecker":
            return "FAIL"
        return exit_to_status(rc, "checker" if kind == "checker" else "ezstep")

    def worst(self):
        """(status, comment) over what ran so far; n/a before anything ended."""
        if self.runscript_rc is None and not self.ends:
            return ("PASS" if self.exit_code == 0 else "n/a"), ""
        status, comment = "PASS", ""
        if self.runscript_rc is not None:
            status = exit_to_status(self.runscript_rc, "runscript")
            if status != "PASS":
                comment = f"runscript exited {self.runscript_rc}"
        for name, rc, kind, _ in self.ends:
            step = self.step_status(rc, kind)
            if worse_status(status, step) == step and step != status:
                status = step
                comment = ("log checker not found" if kind == "nochecker"
                           else f"failed at step {name}" if step == "FAIL" else f"{step}: step {name}")
        return status, comment


def read_progress(rundir):
    p = Progress()
    try:
        with open(os.path.join(rundir, STEPS_FILE)) as f:
            lines = f.read().split("\n")[:-1]     # a line without newline is still being written
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(" ")
        try:
            if parts[0] == "start":
                p.starts.append((parts[1], float(parts[2])))
            elif parts[0] == "end":
                p.ends.append((parts[1], int(parts[2]), parts[3], float(parts[4])))
            elif parts[0] == "runscript":
                p.runscript_rc = int(parts[1])
            elif parts[0] == "exit":
                p.exit_code = int(parts[1])
                p.ended = _time(parts, 2)
            elif parts[0] == "pid":
                # a wrapper starts its record with its pid: a second one (a requeued
                # scheduler job running the test again) starts a new attempt
                p = Progress(pid=int(parts[1]), started=_time(parts, 2))
        except (IndexError, ValueError):
            continue
    return p


def _time(parts, i):
    """The optional time field i ($EPOCHREALTIME); None when absent (an older wrapper)."""
    return float(parts[i].replace(",", ".")) if len(parts) > i else None
