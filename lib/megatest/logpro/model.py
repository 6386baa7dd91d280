"""What a loaded rule file is: rules, triggers, sections and hooks, plus logpro's verdict tables.

Everything here is immutable once loaded; counting hits is the checker's business (check.py),
so one RuleSet can check any number of logs.
"""
import operator
from dataclasses import dataclass, field
from typing import Optional, Tuple

DEFAULT_SECTION = "LogFileBody"
DEFAULT_TRIGGER = "LogFileBodyStart"
DEFAULT_SECTION_END = "LogFileBodyEnd"   # never defined: the body section never ends

# kind -> (name shown in reports, which tally a failed rule of this kind raises).
# ignore and note rules raise none: a count that misses only shows in the report.
KINDS = {
    "error": ("Error", "error"),
    "required": ("Required", "error"),
    "value": ("Value", "error"),
    "warning": ("Warning", "warning"),
    "required-warn": ("Required-warn", "warning"),
    "check": ("Check", "check"),
    "abort": ("Abort", "abort"),
    "skip": ("Skip", "skip"),
    "waive": ("Waive", "waive"),
    "ignore": ("Ignore", None),
    "note": ("Note", None),
}
KIND_ALIASES = {"warn": "warning", "waived": "waive", "waiver": "waive"}

# Which failed tally wins, best first (logpro's counts->exit-code): a skip beats an abort,
# an abort beats a check, ..., and a waiver only shows when nothing else failed.
EXIT_PRECEDENCE = (("skip", 6), ("abort", 5), ("check", 3), ("error", 1), ("warning", 2),
                   ("waive", 4))
EXIT_STATUS = {0: "PASS", 1: "FAIL", 2: "WARN", 3: "CHECK", 4: "WAIVE", 5: "ABORT", 6: "SKIP"}
ABORT_CODE = 5   # also what a rule file that cannot be loaded gives (see commands/logpro.py)


@dataclass(frozen=True)
class Comparator:
    """One of logpro's comparison procedures `=`, `<`, `>`, `<=`, `>=`."""
    symbol: str
    test: object = field(compare=False, repr=False)

    def __call__(self, left, right):
        return self.test(left, right)


COMPARATORS = {sym: Comparator(sym, fn) for sym, fn in (
    ("=", operator.eq), ("<", operator.lt), (">", operator.gt),
    ("<=", operator.le), (">=", operator.ge))}


@dataclass(frozen=True)
class Origin:
    """Where a rule, trigger or section was written."""
    path: str
    line: int

    def __str__(self):
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Rule:
    """One expect form for one section. A form naming several sections gives one Rule each,
    all with the same `num` (the form's position: the lowest num wins a line)."""
    num: int
    kind: str
    where: str                 # "in" or "not-in"
    section: str
    desc: str
    patterns: Tuple
    origin: Origin
    comparator: Optional[Comparator] = None    # count rules: count <comparator> expected
    expected: object = 0
    tol: object = None         # value rules: a number (+/-) or a Comparator
    matchnum: int = 1          # value rules: which regex group holds the number
    hook: Optional[str] = None

    @property
    def is_value(self):
        return self.kind == "value"

    @property
    def label(self):
        return KINDS[self.kind][0]

    @property
    def tally(self):
        return KINDS[self.kind][1]


@dataclass(frozen=True)
class Trigger:
    """Marks the line where a section starts or ends; fires at most `limit` times."""
    name: str
    patterns: Tuple
    origin: Origin
    limit: int = 1
    required: bool = True


@dataclass(frozen=True)
class Section:
    name: str
    start: str       # trigger names
    end: str
    origin: Origin


@dataclass(frozen=True)
class Hook:
    """A shell command run when a rule naming it matches (`#{m1}`... substituted)."""
    name: str
    command: str
    one_time: bool = False


@dataclass
class RuleSet:
    """A loaded rule file: in definition order, with what loading printed or warned about."""
    rules: list = field(default_factory=list)
    triggers: list = field(default_factory=list)
    sections: list = field(default_factory=list)
    hooks: dict = field(default_factory=dict)
    output: list = field(default_factory=list)     # (print ...) text and expired-rule notes
    warnings: list = field(default_factory=list)   # "FILE:LINE: message"


def is_number(value):
    """A Scheme number: int or float, and not #t/#f (Python's bools are ints)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def exit_code(failed_tallies):
    """logpro's exit code for the set of tallies that have at least one failed rule."""
    for tally, code in EXIT_PRECEDENCE:
        if tally in failed_tallies:
            return code
    return 0
