"""The dependency graph between tests of one run: waitons, modes, itemmaps, cycles, inclusion.

Works on plain data (`Deps` per test name), so the runner, `mt-list` and the
tests can all use it without a database (behaviour.md §9).
"""
import re
from dataclasses import dataclass, field
from functools import lru_cache

from megatest import states as st
from megatest.config.patterns import match_part, split_elements
from megatest.errors import MtError

__all__ = [
    "Deps", "parse_itemmap", "apply_itemmap", "clean_waitons", "find_cycle",
    "check_no_cycle", "closure", "upstream_verdict", "toplevel_verdict",
    "expansion_verdict", "launch_order_key",
]

_GROUP_REF = re.compile(r"\\([0-9])")


@lru_cache(maxsize=512)
def _compile(regex):
    try:
        return re.compile(regex)
    except re.error as err:
        raise MtError(f"bad itemmap regex {regex!r}: {err}") from None


def parse_itemmap(text):
    """Parse itemmap lines `REGEX [REPLACEMENT]` into a list of (regex, replacement).

    Each line is split on its first whitespace; a missing replacement is "".
    Bad regexes and references to groups the regex lacks raise MtError.
    """
    rules = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split(None, 1)
        regex, replacement = parts[0], (parts[1] if len(parts) > 1 else "")
        compiled = _compile(regex)
        for ref in _GROUP_REF.findall(replacement):
            if int(ref) > compiled.groups:
                raise MtError(f"itemmap {line!r}: \\{ref} refers to a group the regex does not have")
        rules.append((regex, replacement))
    return rules


def apply_itemmap(rules, itempath):
    """Apply each rule in order, replacing the first match; the result names the upstream item."""
    for regex, replacement in rules:
        match = _compile(regex).search(itempath)
        if match:
            expanded = _GROUP_REF.sub(lambda ref: match.group(int(ref.group(1))) or "", replacement)
            itempath = itempath[:match.start()] + expanded + itempath[match.end():]
    return itempath


@dataclass
class Deps:
    """One test's `[requirements]`: waiton names, modes and itemmaps."""
    waitons: list = field(default_factory=list)
    modes: set = field(default_factory=set)
    itemmap: list = field(default_factory=list)
    itemmaps: dict = field(default_factory=dict)

    def map_for(self, upstream):
        """The itemmap for UPSTREAM: its `[itemmap]` entry, else `[requirements] itemmap`."""
        return self.itemmaps[upstream] if upstream in self.itemmaps else self.itemmap

    @property
    def itemwait(self):
        return "itemwait" in self.modes or "itemmatch" in self.modes

    @property
    def toplevel(self):
        return "toplevel" in self.modes


def clean_waitons(deps_by_test, known):
    """Drop self-waitons and unknown waitons from each Deps; return the messages (§9.6)."""
    messages = []
    for test, deps in deps_by_test.items():
        kept = []
        for upstream in deps.waitons:
            if upstream == test:
                messages.append(f"warning: test {test} waits on itself; ignored")
            elif upstream not in known:
                messages.append(f"ERROR: test {test}: unrecognised waiton {upstream}")
            elif upstream not in kept:
                kept.append(upstream)
        deps.waitons[:] = kept
    return messages


def find_cycle(deps_by_test):
    """Return the names along one waiton cycle, first name repeated at the end, or None."""
    done = set()
    for start in deps_by_test:
        if start in done:
            continue
        path, position = [start], {start: 0}
        stack = [iter(_waitons(deps_by_test, start))]
        while stack:
            upstream = next(stack[-1], None)
            if upstream is None:
                stack.pop()
                finished = path.pop()
                del position[finished]
                done.add(finished)
            elif upstream in position:
                return path[position[upstream]:] + [upstream]
            elif upstream not in done:
                position[upstream] = len(path)
                path.append(upstream)
                stack.append(iter(_waitons(deps_by_test, upstream)))
    return None


def _waitons(deps_by_test, test):
    deps = deps_by_test.get(test)
    return deps.waitons if deps is not None else ()


def check_no_cycle(deps_by_test):
    """Raise MtError naming the tests of a waiton cycle, if there is one."""
    cycle = find_cycle(deps_by_test)
    if cycle:
        raise MtError("waiton cycle: " + " -> ".join(cycle),
                      hint="remove one of these waitons; a cycle can never start")


def _useful_item_pattern(text):
    return bool(text) and not text.startswith("~") and "," not in text


def _upstream_element(deps, upstream, itempart, has_itempart, iterated):
    """The pattern element that pulls in UPSTREAM for one selecting element of its waiter."""
    if not deps.itemwait or deps.toplevel or upstream not in iterated or not has_itempart:
        return upstream, "%", False
    mapped = apply_itemmap(deps.map_for(upstream), itempart)
    if not _useful_item_pattern(mapped):
        mapped = "%"
    return f"{upstream}/{mapped}", mapped, True


def closure(patt, deps_by_test, iterated):
    """Return PATT plus an element for every upstream it pulls in, recursively (§9.4).

    A `normal` or `toplevel` waiter, or a non-iterated upstream, adds the whole
    upstream (`A`). An `itemwait` waiter selected as `B/P` adds `A/<itemmap(P)>`,
    or `A/%` when the mapped text is not a usable pattern.
    """
    elements, work = [], []
    for text in (patt or "").split(","):
        text = text.strip()
        if text and text not in elements:
            elements.append(text)
            (testpart, itempart), = split_elements(text)
            tests = [name for name in deps_by_test if match_part(testpart, name)]
            work.append((tests, itempart, "/" in text))
    seen = set(elements)
    for tests, itempart, has_itempart in work:  # grows while we walk it
        for test in tests:
            deps = deps_by_test.get(test)
            for upstream in (deps.waitons if deps is not None else ()):
                text, up_item, up_has = _upstream_element(deps, upstream, itempart, has_itempart, iterated)
                if text not in seen:
                    seen.add(text)
                    elements.append(text)
                    work.append(([upstream], up_item, up_has))
    return ",".join(elements)


def upstream_verdict(state, status):
    """How a `normal`/`itemwait` waiter sees an upstream record: ok, failed, blocked or wait."""
    if not st.is_final(state, status):
        return "wait"
    if state == st.COMPLETED and status in st.OK_STATUSES:
        return "ok"
    if state == st.NOT_STARTED and status in st.BLOCKED_STATUSES:
        return "blocked"
    return "failed"


def toplevel_verdict(state, status):
    """How a `toplevel` waiter sees its upstream: any final record satisfies it."""
    return "ok" if st.is_final(state, status) else "wait"


def expansion_verdict(state, status):
    """When an `itemwait` test may expand its items, from the upstream's toplevel.

    The upstream must be RUNNING or final (§9.2); each item then waits on its
    own upstream item. A blocked upstream blocks the whole waiter.
    """
    if state == st.RUNNING:
        return "ok"
    if not st.is_final(state, status):
        return "wait"
    if state == st.NOT_STARTED and status in st.BLOCKED_STATUSES:
        return "blocked"
    return "ok"


def launch_order_key(priority, waited_on, name):
    """Sort key for ready tests: higher priority, then tests others wait on, then name (§13.2)."""
    try:
        prio = float(priority) if priority not in (None, "") else 0.0
    except (TypeError, ValueError):
        raise MtError(f"test {name}: bad priority {priority!r}", hint="priority must be a number") from None
    return (-prio, 0 if waited_on else 1, name)
