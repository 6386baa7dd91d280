"""Test patterns (`-testpatt`), target patterns and run-name patterns, matched in memory.

Rules (behaviour.md §8.1, with this project's Decisions):

* A pattern is a comma-separated list; a record matches if any element matches.
  Empty elements are skipped; a list with no non-empty element matches nothing.
* An element is `TESTPART[/ITEMPART]`. No `/` means ITEMPART `%` (toplevel and
  every item); a trailing `/` means ITEMPART `""` (the toplevel only).
* A part is matched against the whole string. `%` matches any text and makes
  the part case-insensitive. In a part without `%`, `*` matches any text and
  the part is case-sensitive. Every other character is literal.
* A leading `~` negates that one part, inside its element only.

Queries must give exactly these results, so they filter in Python with the
functions here rather than translating to SQL LIKE/GLOB (whose `_`, `?` and
`[` are wildcards).
"""
import re
from functools import lru_cache

__all__ = [
    "compile_testpatt", "match_testpatt", "split_elements", "match_part",
    "match_target", "match_name", "pattern_elements", "dead_elements",
]


def pattern_elements(patt):
    """The non-empty elements of a pattern list, as written (trimmed), in order."""
    return [text.strip() for text in (patt or "").split(",") if text.strip()]


def split_elements(patt):
    """Split a pattern list into (testpart, itempart) pairs, skipping empty elements."""
    elements = []
    for text in (patt or "").split(","):
        text = text.strip()
        if not text:
            continue
        testpart, slash, itempart = text.partition("/")
        elements.append((testpart, itempart if slash else "%"))
    return elements


@lru_cache(maxsize=1024)
def _glob_matcher(part):
    """Return a predicate for one part without negation."""
    if "%" in part:
        body = ".*".join(re.escape(piece) for piece in part.split("%"))
        return re.compile(body, re.IGNORECASE | re.DOTALL).fullmatch
    if "*" in part:
        body = ".*".join(re.escape(piece) for piece in part.split("*"))
        return re.compile(body, re.DOTALL).fullmatch
    return part.__eq__


@lru_cache(maxsize=1024)
def _part_matcher(part):
    if part.startswith("~"):
        inner = _glob_matcher(part[1:])
        return lambda text: not inner(text)
    return _glob_matcher(part)


def match_part(part, text):
    """True if TEXT matches one pattern part (`%`, `*`, leading `~`)."""
    return bool(_part_matcher(part)(text or ""))


@lru_cache(maxsize=256)
def compile_testpatt(patt):
    """Compile a test pattern list into a predicate `(testname, item_path) -> bool`."""
    pairs = tuple((_part_matcher(tp), _part_matcher(ip)) for tp, ip in split_elements(patt))

    def matches(testname, item_path=""):
        item_path = item_path or ""
        for test_ok, item_ok in pairs:
            if test_ok(testname) and item_ok(item_path):
                return True
        return False

    return matches


def match_testpatt(patt, testname, item_path=""):
    """True if the record (testname, item_path) is selected by PATT."""
    return compile_testpatt(patt or "")(testname, item_path)


def match_name(patt, text):
    """Match a run name (or one target part) against a single pattern part, without `~`."""
    return bool(_glob_matcher(patt)(text or ""))


def match_target(patt, target):
    """Match a target such as `a/b` part by part. The one target rule of every command that
    selects runs (mt-list, mt-clean, megatest): a pattern with fewer parts than the target
    leaves the other parts free (`x86` = `x86/%`), one with more parts matches nothing."""
    patt_parts = (patt or "%").split("/")
    target_parts = target.split("/")
    if len(patt_parts) > len(target_parts):
        return False
    return all(match_name(p, t) for p, t in zip(patt_parts, target_parts))


def dead_elements(patt, records, open_tests=()):
    """The elements of PATT that select none of RECORDS ((testname, item_path) pairs, a
    toplevel being item_path ""), in order. An element whose test part names one of
    OPEN_TESTS (their items are not known yet) counts as selecting. Why: one mistyped
    element of a list must not pass unseen behind the others."""
    records = list(records)
    dead = []
    for text in pattern_elements(patt):
        match = compile_testpatt(text)
        testpart = split_elements(text)[0][0]
        if any(match(name, path) for name, path in records):
            continue
        if any(match_part(testpart, name) for name in open_tests):
            continue
        dead.append(text)
    return dead
