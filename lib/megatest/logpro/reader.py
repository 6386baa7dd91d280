"""Read a logpro rule file's Scheme text into data: lists, strings, numbers, symbols, regexes.

The reader only builds data; nothing is evaluated here. It is iterative (an explicit stack of
open lists), so a file of deeply nested parentheses cannot exhaust Python's recursion limit.
Every list remembers the line of its opening parenthesis and of each element, so that later
errors can name FILE:LINE.
"""
import re

from megatest.errors import MtError

_DELIMITERS = frozenset(" \t\r\n\f\v()[]\";'`,")
_CLOSERS = {")": "(", "]": "["}
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_INTEGER = re.compile(r"[+-]?\d+\Z")
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "0": "\0",
                   "\\": "\\", '"': '"', "'": "'"}
REGEX_FLAGS = "ixu"   # caseless, extended, utf8: what logpro's #/.../ literal accepts


class Symbol(str):
    """A Scheme symbol (`expect:error`, `in`, `=`); a str so it compares and hashes by name."""
    __slots__ = ()


class Keyword(str):
    """A keyword argument name, written `expires:` (or `#:expires`); holds the bare name."""
    __slots__ = ()


class RegexLiteral:
    """`#/source/flags` as written; compiled later, when the rule that uses it is built."""
    __slots__ = ("source", "flags", "line")

    def __init__(self, source, flags, line):
        self.source, self.flags, self.line = source, flags, line

    def __repr__(self):
        return f"#/{self.source}/{self.flags}"


class SList(list):
    """A parenthesised list; `.line` is where it opens, `.lines[i]` where element i starts."""

    def __init__(self, items=(), line=None, lines=None):
        super().__init__(items)
        self.line = line
        self.lines = list(lines) if lines is not None else [line] * len(self)

    def line_of(self, index):
        """Line of element INDEX, or of the list itself when INDEX is out of range."""
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


QUOTE = Symbol("quote")


def read_all(text, path):
    """All top-level data of TEXT (the content of PATH), in order, each with its line."""
    return _Reader(text, path).read_all()


class _Reader:
    def __init__(self, text, path):
        self.text, self.path = text, path
        self.pos, self.line = 0, 1
        self.stack = []          # open lists: (SList, closer expected, prefixes before it)
        self.prefixes = []       # pending "'" and "#;" for the next datum at this depth
        self.top = SList(line=1)

    def error(self, message, line=None):
        return MtError(message, self.path, line or self.line)

    def read_all(self):
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                break
            self.read_token()
        if self.stack:
            opened = self.stack[-1][0].line
            raise self.error(f"missing ')' for the '(' opened on line {opened}", opened)
        if self.prefixes:
            raise self.error("end of file after a quote or #; with nothing to apply it to")
        return [(item, line) for item, line in zip(self.top, self.top.lines)]

    # -- tokens -------------------------------------------------------------------------------

    def skip_blank(self):
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\n":
                self.line += 1
                self.pos += 1
            elif ch in " \t\r\f\v":
                self.pos += 1
            elif ch == ";":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("#|", self.pos):
                self.skip_block_comment()
            else:
                return

    def skip_block_comment(self):
        start, depth = self.line, 0
        while self.pos < len(self.text):
            if self.text.startswith("#|", self.pos):
                depth, self.pos = depth + 1, self.pos + 2
            elif self.text.startswith("|#", self.pos):
                depth, self.pos = depth - 1, self.pos + 2
                if depth == 0:
                    return
            else:
                self.line += self.text[self.pos] == "\n"
                self.pos += 1
        raise self.error(f"unterminated #| comment opened on line {start}", start)

    def read_token(self):
        ch, line = self.text[self.pos], self.line
        if ch in "([":
            self.pos += 1
            self.stack.append((SList(line=line), ch, self.prefixes))
            self.prefixes = []
        elif ch in ")]":
            self.close_list(ch, line)
        elif ch == '"':
            self.emit(self.read_string(), line)
        elif ch == "'":
            self.pos += 1
            self.prefixes.append("quote")
        elif ch in "`,":
            raise self.error(f"'{ch}' (quasiquote) is not supported in logpro rule files")
        elif ch == "#":
            self.read_hash(line)
        else:
            self.emit(self.read_atom(), line)

    def close_list(self, ch, line):
        if not self.stack:
            raise self.error(f"unexpected '{ch}' (no list is open)")
        done, opener, prefixes = self.stack.pop()
        if _CLOSERS[ch] != opener:
            raise self.error(f"'{ch}' closes the '{opener}' opened on line {done.line}")
        self.pos += 1
        self.prefixes = prefixes
        self.emit(done, done.line)

    def emit(self, datum, line):
        """Attach DATUM to the innermost open list, after applying pending prefixes."""
        while self.prefixes:
            kind = self.prefixes.pop()
            if kind == "discard":
                return
            datum = SList([QUOTE, datum], line=line)
        target = self.stack[-1][0] if self.stack else self.top
        target.append(datum)
        target.lines.append(line)

    def read_hash(self, line):
        text, pos = self.text, self.pos
        nxt = text[pos + 1:pos + 2]
        if nxt == "/":
            self.pos += 2
            self.emit(self.read_regex(line), line)
        elif nxt == ";":
            self.pos += 2
            self.prefixes.append("discard")
        elif nxt == ":":
            self.pos += 2
            name = self.read_word()
            if not name:
                raise self.error("'#:' without a keyword name")
            self.emit(Keyword(name), line)
        elif nxt == "\\":
            raise self.error("character literals (#\\...) are not supported; use a string")
        else:
            word = self.read_word()
            values = {"#t": True, "#true": True, "#f": False, "#false": False}
            if word not in values:
                raise self.error(f"unknown '#' syntax {word!r}")
            self.emit(values[word], line)

    def read_word(self):
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _DELIMITERS:
            self.pos += 1
        return self.text[start:self.pos]

    def read_atom(self):
        word = self.read_word()
        if _NUMBER.match(word):
            return int(word) if _INTEGER.match(word) else float(word)
        if len(word) > 1 and word.endswith(":"):
            return Keyword(word[:-1])
        if "|" in word or "#" in word[:1]:
            raise self.error(f"unsupported symbol syntax {word!r}")
        return Symbol(word)

    def read_string(self):
        start_line, text = self.line, self.text
        self.pos += 1
        out = []
        while self.pos < len(text):
            ch = text[self.pos]
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\n":
                self.line += 1
            if ch != "\\":
                out.append(ch)
                continue
            out.append(self.read_string_escape(start_line))
        raise self.error(f"unterminated string starting on line {start_line}", start_line)

    def read_string_escape(self, start_line):
        text = self.text
        if self.pos >= len(text):
            raise self.error(f"unterminated string starting on line {start_line}", start_line)
        ch = text[self.pos]
        self.pos += 1
        if ch in _STRING_ESCAPES:
            return _STRING_ESCAPES[ch]
        if ch == "x":
            end = text.find(";", self.pos)
            digits = text[self.pos:end] if end >= 0 else ""
            if not digits or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise self.error("bad \\x escape in string (expected \\xHEX;)")
            self.pos = end + 1
            return chr(int(digits, 16))
        if ch in " \t\n":
            return self.read_line_continuation(ch)
        return ch

    def read_line_continuation(self, ch):
        """`\\<spaces><newline><indent>` inside a string stands for nothing."""
        text, q = self.text, self.pos - 1
        while q < len(text) and text[q] in " \t":
            q += 1
        if q >= len(text) or text[q] != "\n":
            return ch
        q += 1
        self.line += 1
        while q < len(text) and text[q] in " \t":
            q += 1
        self.pos = q
        return ""

    def read_regex(self, line):
        """Body of #/.../ up to the unescaped '/': an escape keeps its backslash for the regex."""
        text, out = self.text, []
        while self.pos < len(text):
            ch = text[self.pos]
            self.pos += 1
            if ch == "/":
                return RegexLiteral("".join(out), self.read_regex_flags(), line)
            if ch == "\n":
                self.line += 1
            if ch == "\\" and self.pos < len(text):
                out.append(ch)
                ch = text[self.pos]
                self.pos += 1
                if ch == "\n":
                    self.line += 1
            out.append(ch)
        raise self.error("unterminated regex literal #/...", line)

    def read_regex_flags(self):
        flags = ""
        while len(flags) < len(REGEX_FLAGS) and self.pos < len(self.text) \
                and self.text[self.pos] in REGEX_FLAGS:
            flags += self.text[self.pos]
            self.pos += 1
        if self.pos < len(self.text) and self.text[self.pos] not in _DELIMITERS:
            bad = self.text[self.pos]
            raise self.error(f"unknown regex flag {bad!r} after #/.../ (logpro knows i, x and u)")
        return flags
