"""logpro's regular expressions (CHICKEN's irregex, Perl-style syntax) as Python `re` patterns.

The two flavours agree on almost everything rule files use (classes, \\d \\s \\w, anchors,
groups, alternation, lazy quantifiers). What differs is translated here:
* POSIX classes inside brackets (`[[:digit:]]`) become their ASCII ranges;
* `(?<name>...)` named groups become Python's `(?P<name>...)`;
* `\\z` (end of text) becomes `\\Z`; a backslash before any other letter Python does not know
  (`\\e`, `\\y`, ...) means the letter itself, as in irregex, instead of a Python error.
Without the `u` flag, matching is ASCII-only like irregex on bytes: `\\w` and `\\d` never
match accented letters or other scripts' digits.
"""
import re
import warnings

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "punct": r"!-/:-@\[-`{-~", "xdigit": "0-9A-Fa-f",
    "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e", "word": r"\w",
}
# Escapes Python's re understands (letters only; a backslash before punctuation is always fine).
_PYTHON_LETTER_ESCAPES = set("abfnrtvdDsSwWAZbBxuUN")
_FLAG_BITS = {"i": re.IGNORECASE, "x": re.VERBOSE}
# Back-references, named groups and conditionals mean something else once patterns are joined.
_UNJOINABLE = re.compile(r"\\\d|\(\?P[<=]|\(\?\(")


class Pattern:
    """One compiled regex plus the text it was written as (`/ERROR/i`), for reports."""
    __slots__ = ("label", "regex")

    def __init__(self, label, regex):
        self.label, self.regex = label, regex

    def search(self, text):
        return self.regex.search(text)

    def __repr__(self):
        return self.label


def compile_pattern(source, flags=""):
    """A Pattern for irregex SOURCE with logpro FLAGS (any of i, x, u); ValueError, saying what
    is wrong with it, if invalid (the caller knows which line wrote it)."""
    bits = 0 if "u" in flags else re.ASCII
    for flag in flags:
        bits |= _FLAG_BITS.get(flag, 0)
    try:
        translated = translate(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "possible nested set" for '[[' is harmless here
            regex = re.compile(translated, bits)
    except (re.error, ValueError) as err:
        raise ValueError(f"bad regex /{source}/: {err}") from None
    return Pattern(f"/{source}/{flags}", regex)


def any_of(patterns):
    """One regex that finds a match exactly when one of PATTERNS does, or None if they cannot
    be joined. Checking it first lets the common line, which no rule matches, cost one search."""
    parts = []
    for pattern in patterns:
        source, flags = pattern.regex.pattern, pattern.regex.flags
        if _UNJOINABLE.search(source):
            return None
        inline = ("i" if flags & re.IGNORECASE else "") + ("a" if flags & re.ASCII else "u")
        if flags & re.VERBOSE:   # a trailing newline ends any '#' comment before the ')'
            parts.append(f"(?x{inline}:{source}\n)")
        else:
            parts.append(f"(?{inline}:{source})")
    if not parts:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile("|".join(parts))
    except (re.error, ValueError):
        return None


def translate(source):
    """The Python spelling of irregex SOURCE."""
    out, i, n = [], 0, len(source)
    class_body = None   # index where the open bracket class's members start, else None
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n:
            out.append(_escape(source[i + 1]))
            i += 2
        elif class_body is not None:
            i = _class_char(source, i, class_body, out)
            if out[-1] == "]":
                class_body = None
        elif ch == "[":
            class_body = i + 2 if source.startswith("[^", i) else i + 1
            out.append(source[i:class_body])
            i = class_body
        elif source.startswith("(?<", i) and i + 3 < n and source[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _class_char(source, i, class_body, out):
    """Translate one member of a bracket class at I into OUT; return the next index."""
    if source.startswith("[:", i):
        end = source.find(":]", i + 2)
        name = source[i + 2:end] if end > 0 else None
        if name not in _POSIX_CLASSES:
            raise ValueError(f"unknown POSIX class [:{name}:]" if name else "unclosed '[:'")
        out.append(_POSIX_CLASSES[name])
        return end + 2
    ch = source[i]
    if ch == "]" and i == class_body:
        out.append("\\]")          # '[]...]': a leading ']' is a member, not the end
    elif ch == "[":
        out.append("\\[")
    else:
        out.append(ch)
    return i + 1


def _escape(ch):
    if ch == "z":
        return r"\Z"
    if ch.isascii() and ch.isalpha() and ch not in _PYTHON_LETTER_ESCAPES:
        return ch
    return "\\" + ch
