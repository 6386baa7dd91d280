"""What an evaluation may see and touch (SchemeContext) and what it may spend (Runtime)."""
import dataclasses
from typing import Callable, Optional

from megatest.config.scheme.errors import ProcError, SchemeError

DEFAULT_MAX_STEPS = 200_000
DEFAULT_MAX_DEPTH = 200
# One string may not grow past this; building strings also costs a step per CHARS_PER_STEP
# characters, so a loop of string-appends runs out of steps long before it runs out of memory.
MAX_STRING_LENGTH = 1_000_000
CHARS_PER_STEP = 16


@dataclasses.dataclass
class SchemeContext:
    """The outside world as #{scheme} code sees it. Nothing else is reachable."""
    environ: dict                  # read by getenv; written by setenv/unsetenv, as Megatest's process env is
    args: dict                     # Megatest switches, {"-target": "a/b"}; args:get-arg reads it
    toppath: str = ""
    hostname: str = ""
    dbfile_path: str = ""
    make_directory: Optional[Callable[[str], None]] = None   # None: create it here (os.makedirs / os.mkdir)
    tests: Optional[Callable[[], dict]] = None    # the area's tests {name: directory}, for tests:get-all
    max_steps: int = DEFAULT_MAX_STEPS
    max_depth: int = DEFAULT_MAX_DEPTH


class Runtime:
    """One evaluation's context and step budget. A step is a procedure call, or a share of the
    work a procedure does on a long list or string, so every loop pays as it goes. `call_site`
    is the (source, line) of the call being made, or None, for a procedure that records where
    it was called from (logpro's rules name the line they were written on)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.steps = 0
        self.call_site = None

    def charge(self, steps=1):
        self.steps += steps
        if self.steps > self.ctx.max_steps:
            raise SchemeError(f"evaluation exceeded {self.ctx.max_steps} steps")

    def charge_text(self, length):
        """Pay for a string of LENGTH characters before it is built."""
        if length > MAX_STRING_LENGTH:
            raise ProcError(f"a string of {length} characters exceeds the limit of {MAX_STRING_LENGTH}")
        self.charge(length // CHARS_PER_STEP)
