"""Apply a RuleSet to a log, line by line, and give logpro's verdict.

Per line, as logpro does: first every trigger that still has hits left (a hit opens or closes
sections), then the rules that apply to the sections now open (`in`) or closed (`not-in`).
Only the lowest-numbered matching rule counts the line, which is why ignores and waivers are
written before the catch-all error rules. At the end each rule's count is compared with what
it expects; the failed rules' kinds decide the exit code (model.EXIT_PRECEDENCE).

Nothing here keeps the log: a Checker holds counts and the first few hits of each rule.
"""
import re
from dataclasses import dataclass, field
from typing import List, Optional

from megatest.logpro import hooks, model, rx

MAX_HITS_KEPT = 50        # per rule and trigger, for the report; counts are always exact
MAX_HIT_TEXT = 400        # characters of a hit line kept for the report
MAX_LINE = 1 << 20        # bytes of one log line that are checked (a longer one is cut)
_SCHEME_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")


def log_lines(stream):
    """Text lines of a binary STREAM without their line ends, for any bytes.

    Bytes that are not UTF-8 are kept as surrogate escapes, so writing a line back with
    errors="surrogateescape" gives the original bytes. A line longer than MAX_LINE is cut
    there (the rest is skipped, and noted on the line) so memory stays bounded.
    """
    while True:
        raw = stream.readline(MAX_LINE)
        if not raw:
            return
        cut = 0
        if not raw.endswith(b"\n"):
            while True:
                rest = stream.readline(MAX_LINE)
                if not rest:
                    break
                cut += len(rest.rstrip(b"\n"))
                if rest.endswith(b"\n"):
                    break
        raw = raw.rstrip(b"\n")
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        line = raw.decode("utf-8", errors="surrogateescape")
        yield line + (f" [logpro: line cut, {cut} more bytes]" if cut else "")


class Hits:
    """A count plus the first MAX_HITS_KEPT (line number, text) pairs."""

    def __init__(self):
        self.count = 0
        self.kept = []

    def add(self, number, text):
        self.count += 1
        if len(self.kept) < MAX_HITS_KEPT:
            self.kept.append((number, text[:MAX_HIT_TEXT]))


class RuleState:
    """One rule's hits; for value rules also how many values passed or failed, and the last."""

    def __init__(self, rule):
        self.rule = rule
        self.hits = Hits()
        self.passes = self.fails = 0
        self.measured = None

    @property
    def count(self):
        return self.hits.count

    @property
    def ok(self):
        if self.rule.is_value:
            return self.fails == 0 and self.passes > 0
        return self.rule.comparator(self.count, self.rule.expected)


class TriggerState:
    def __init__(self, trigger):
        self.trigger = trigger
        self.remaining = trigger.limit
        self.hits = Hits()

    @property
    def status(self):
        if self.hits.count:
            return "OK"
        return "FAIL" if self.trigger.required else "OPTIONAL"


@dataclass
class LineResult:
    """What one line did: annotations for the annotated log, and what it is marked as."""
    notes: List[str] = field(default_factory=list)
    rule: Optional[RuleState] = None          # the rule that counted the line
    trigger: Optional[TriggerState] = None    # the last trigger it hit
    value_ok: Optional[bool] = None           # for a value rule: did this value pass


@dataclass
class Verdict:
    code: int
    status: str
    message: str                  # "<kind>: <description>" of the rule that decided, or ""
    rules: list
    triggers: list
    lines: int


class Checker:
    """Feed it lines with feed(); verdict() when the log ends.

    RUN_HOOK(command) runs a hook's shell command; without it hooks are only noted.
    """

    def __init__(self, ruleset, run_hook=None):
        self.rules = [RuleState(r) for r in ruleset.rules]
        self.triggers = [TriggerState(t) for t in ruleset.triggers]
        self.sections = list(ruleset.sections)
        self.section_names = {s.name for s in self.sections}
        self.hooks = dict(ruleset.hooks)
        self.run_hook = run_hook
        self.active = set()
        self.lines = 0
        # logpro walks its triggers newest first; only those with hits left are kept here
        self._live_triggers = [t for t in reversed(self.triggers) if t.remaining > 0]
        self._candidates = self._any = None

    def feed(self, text):
        self.lines += 1
        number, result = self.lines, LineResult()
        for state in self._live_triggers:
            if _search(state.trigger.patterns, text):
                self._fire(state, number, text, result)
        candidates, any_rule = self._applicable()
        if any_rule is None or any_rule.search(text):
            for state in candidates:
                match = _search(state.rule.patterns, text)
                if match:
                    self._count(state, match, number, text, result)
                    break
        return result

    def finish(self):
        """Run the value rules' hooks (logpro runs them once the log is read); their notes."""
        notes = []
        for state in self.rules:
            if state.rule.is_value and state.rule.hook and model.is_number(state.measured):
                self._value_hook(state, notes)
        return notes

    def verdict(self):
        failed = [s for s in self.rules if not s.ok and s.rule.tally]
        code = model.exit_code({s.rule.tally for s in failed})
        deciding = [s for s in failed if dict(model.EXIT_PRECEDENCE)[s.rule.tally] == code]
        first = min(deciding, key=lambda s: s.rule.num, default=None)
        message = f"{first.rule.kind}: {first.rule.desc}" if first else ""
        return Verdict(code, model.EXIT_STATUS[code], message, self.rules, self.triggers,
                       self.lines)

    # -- sections -----------------------------------------------------------------------------

    def _fire(self, state, number, text, result):
        state.remaining -= 1
        state.hits.add(number, text)
        result.notes.append(f"LOGPRO: hit trigger {state.trigger.name} on line {number}")
        result.trigger = state
        if state.remaining <= 0:
            self._live_triggers = [t for t in self._live_triggers if t.remaining > 0]
        self._switch_sections(state.trigger.name)

    def _switch_sections(self, trigger_name):
        for section in reversed(self.sections):
            if section.start == trigger_name:
                self.active.add(section.name)
            elif section.end == trigger_name:
                self.active.discard(section.name)
        self._candidates = None

    def _applicable(self):
        """(rules that may count a line now, lowest number first; one regex for all of them
        or None), recomputed when sections open or close."""
        if self._candidates is None:
            self._candidates = [
                s for s in self.rules
                if (s.rule.where == "in" and s.rule.section in self.active)
                or (s.rule.where == "not-in" and s.rule.section in self.section_names
                    and s.rule.section not in self.active)]
            self._any = rx.any_of([p for s in self._candidates for p in s.rule.patterns])
        return self._candidates, self._any

    # -- counting -----------------------------------------------------------------------------

    def _count(self, state, match, number, text, result):
        rule = state.rule
        state.hits.add(number, text)
        result.rule = state
        if rule.is_value:
            result.value_ok = self._measure(state, match)
            verdict = "PASS" if result.value_ok else "FAIL"
            detail = f"{expectation(rule)} got {state.measured} which is {verdict}"
        else:
            detail = f"{rule.comparator.symbol} {rule.expected}"
        result.notes.append(f"LOGPRO {rule.label}: {rule.desc} {detail} "
                            f"in section {rule.section} on line {number}")
        hook = self.hooks.get(rule.hook) if rule.hook else None
        if hook is not None:
            values = {"msg": rule.desc, "line": text}
            values.update((f"m{i}", g or "") for i, g in enumerate(match.groups(), 1))
            self._call_hook(hook, values, result.notes)

    def _measure(self, state, match):
        """Take the rule's group from MATCH as the measured value; True when it passes."""
        rule = state.rule
        text = match.group(rule.matchnum) if rule.matchnum <= match.re.groups else None
        if text is not None and _SCHEME_NUMBER.match(text):
            value = float(text) if any(c in text for c in ".eE") else int(text)
            state.measured = value
            if isinstance(rule.tol, model.Comparator):
                ok = rule.tol(value, rule.expected)
            else:
                ok = rule.expected - rule.tol <= value <= rule.expected + rule.tol
        else:
            state.measured = text if text is not None else match.group(0)
            ok = False
        if ok:
            state.passes += 1
        else:
            state.fails += 1
        return ok

    def _value_hook(self, state, notes):
        rule = state.rule
        hook = self.hooks.get(rule.hook)
        if hook is None:
            return
        tol = rule.tol.symbol if isinstance(rule.tol, model.Comparator) else rule.tol
        values = {"measured": state.measured, "message": rule.desc,
                  "expected": rule.expected, "tolerance": tol}
        self._call_hook(hook, values, notes)

    def _call_hook(self, hook, values, notes):
        command = hooks.substitute(hook.command, values)
        notes.append(f"LOGPRO: hook {hook.name}: {command}")
        if self.run_hook is not None:
            self.run_hook(command)
        if hook.one_time:
            self.hooks.pop(hook.name, None)


def _search(patterns, text):
    for pattern in patterns:
        match = pattern.regex.search(text)
        if match:
            return match
    return None


def expectation(rule):
    """`1.9 +/- 0.1` or `> 1.9`: what a value rule expects, as reports write it."""
    if isinstance(rule.tol, model.Comparator):
        return f"{rule.tol.symbol} {rule.expected}"
    return f"{rule.expected} +/- {rule.tol}"

