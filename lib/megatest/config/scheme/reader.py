"""Text to data: the part of CHICKEN's reader that #{scheme} expressions and logpro rule files
need, including CHICKEN's keywords (`name:`) and irregex literals (#/regex/flags)."""
import bisect

from megatest.config.scheme.data import NIL, Char, Keyword, Pair, Regex, Symbol, make_list
from megatest.config.scheme.errors import SchemeError
from megatest.config.scheme.numtext import parse_number
from megatest.config.scheme.printer import CHAR_NAMES

# Deeper source nesting is refused while reading; this keeps the (recursive) syntax analysis
# far from Python's recursion limit. Real uses nest about ten deep.
MAX_NESTING = 64

_DELIMITERS = frozenset(" \t\n\r\f\v()[]{}\";'`,")
_CLOSER = {"(": ")", "[": "]"}
_PREFIXES = {"'": "quote", "`": "quasiquote", ",": "unquote", ",@": "unquote-splicing"}
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "0": "\0", "\\": "\\", '"': '"'}
_BOOLEANS = {"#t": True, "#true": True, "#f": False, "#false": False}
REGEX_FLAGS = "ixu"           # caseless, extended (spaces and comments ignored), utf8


class _List:
    """A list being read: its items so far (and where each began), and its tail once a '.' has
    been seen."""
    __slots__ = ("opener", "start", "items", "starts", "dot", "tail")

    def __init__(self, opener, start):
        self.opener, self.start, self.items, self.starts = opener, start, [], []
        self.dot = self.tail = None


class _Prefix:
    """A quote mark (or a #; datum comment, name None) waiting for the datum it applies to."""
    __slots__ = ("name", "start", "mark")

    def __init__(self, name, start, mark):
        self.name, self.start, self.mark = name, start, mark


def _line_column(text, index):
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def where(text, index):
    return "line {}, column {}".format(*_line_column(text, index))


class Located:
    """The data of one text and where they began, for errors that name a line: `lines[i]` is the
    line of datum i, and `cells` maps each list cell to the line of its item (a list's first
    cell: the line of its opening parenthesis). Cells are keyed by identity, as Pair has no
    equality of its own, and nothing ever changes a cell."""
    __slots__ = ("data", "lines", "cells")

    def __init__(self, data, lines, cells):
        self.data, self.lines, self.cells = data, lines, cells


def read_all(text):
    """Every datum in TEXT, in order, with their lines (a Located). Iterative, so no input
    makes Python recurse."""
    reader = _Reader(text)
    return Located(reader.run(), reader.lines, reader.cells)


class _Reader:
    def __init__(self, text):
        self.text, self.stack, self.data = text, [], []
        self.lines, self.cells, self.newlines = [], {}, _newline_offsets(text)

    def fail(self, message, index):
        raise SchemeError(message, *_line_column(self.text, index))

    def line_of(self, index):
        return bisect.bisect_right(self.newlines, index) + 1

    def run(self):
        text, index = self.text, 0
        while True:
            index = self.skip_blanks(index)
            if index >= len(text):
                break
            index = self.read_one(index)
        if self.stack:
            self.fail_unclosed(self.stack[-1])
        return self.data

    def fail_unclosed(self, frame):
        if isinstance(frame, _Prefix):
            self.fail(f"nothing follows {frame.mark!r}", frame.start)
        closer = _CLOSER[frame.opener]
        line, column = _line_column(self.text, frame.start)
        raise SchemeError(f"missing {closer!r}: the {frame.opener!r} at line {line}, column {column} "
                          "is never closed", line)

    def read_one(self, index):
        text, char = self.text, self.text[index]
        if char in _CLOSER:
            self.push(_List(char, index), index)
            return index + 1
        if char in ")]":
            return self.close(index)
        mark = text[index:index + 2] if text.startswith(",@", index) else char
        if mark in _PREFIXES:
            self.push(_Prefix(_PREFIXES[mark], index, mark), index)
            return index + len(mark)
        if text.startswith("#;", index):
            self.push(_Prefix(None, index, "#;"), index)
            return index + 2
        if char == '"':
            value, end = self.read_string(index)
        elif text.startswith("#\\", index):
            value, end = self.read_char(index)
        elif text.startswith("#/", index):
            value, end = self.read_regex(index)
        elif char in "{}":
            self.fail(f"unexpected {char!r}", index)
        else:
            end = self.token_end(index)
            token = text[index:end]
            if token == ".":
                self.dot(index)
                return end
            value = self.atom(token, index)
        self.deliver(value, index)
        return end

    def push(self, frame, index):
        self.stack.append(frame)
        if len(self.stack) > MAX_NESTING:
            self.fail(f"expression nested deeper than {MAX_NESTING} levels", index)

    def close(self, index):
        closer = self.text[index]
        frame = self.stack[-1] if self.stack else None
        if not isinstance(frame, _List):
            if frame is not None:
                self.fail(f"nothing follows {frame.mark!r}", frame.start)
            self.fail(f"unexpected {closer!r} with no list open", index)
        if _CLOSER[frame.opener] != closer:
            self.fail(f"{closer!r} does not match the {frame.opener!r} at {where(self.text, frame.start)}", index)
        if frame.dot is not None and frame.tail is None:
            self.fail("nothing follows '.'", frame.dot)
        self.stack.pop()
        result = make_list(frame.items, frame.tail if frame.dot is not None else NIL)
        if frame.items:
            self.note_cells(result, frame)
        self.deliver(result, frame.start)
        return index + 1

    def note_cells(self, cell, frame):
        lines = [self.line_of(frame.start)] + [self.line_of(start) for start in frame.starts[1:]]
        for line in lines:
            self.cells[cell] = line
            cell = cell.cdr

    def dot(self, index):
        frame = self.stack[-1] if self.stack else None
        if not isinstance(frame, _List) or not frame.items or frame.dot is not None:
            self.fail("misplaced '.'", index)
        frame.dot = index

    def deliver(self, value, index):
        """Hand a finished datum to whatever is waiting for it: a quote mark, a list, the top level."""
        while self.stack and isinstance(self.stack[-1], _Prefix):
            prefix = self.stack.pop()
            if prefix.name is None:
                return
            value = Pair(Symbol(prefix.name), Pair(value, NIL))
        if not self.stack:
            self.data.append(value)
            self.lines.append(self.line_of(index))
            return
        frame = self.stack[-1]
        if frame.tail is not None:
            self.fail("more than one datum after '.'", index)
        if frame.dot is not None:
            frame.tail = value
        else:
            frame.items.append(value)
            frame.starts.append(index)

    def skip_blanks(self, index):
        """Skip white space, ; comments and (nested) #| |# comments."""
        text = self.text
        while index < len(text):
            if text[index].isspace():
                index += 1
            elif text[index] == ";":
                end = text.find("\n", index)
                index = len(text) if end < 0 else end + 1
            elif text.startswith("#|", index):
                index = self.skip_block_comment(index)
            else:
                break
        return index

    def skip_block_comment(self, start):
        text, depth, index = self.text, 0, start
        while index < len(text):
            if text.startswith("#|", index):
                depth, index = depth + 1, index + 2
            elif text.startswith("|#", index):
                depth, index = depth - 1, index + 2
                if depth == 0:
                    return index
            else:
                index += 1
        self.fail("unterminated '#|' comment", start)

    def token_end(self, index):
        text = self.text
        while index < len(text) and text[index] not in _DELIMITERS:
            index += 1
        return index

    def atom(self, token, index):
        if token.startswith("#"):
            if token in _BOOLEANS:
                return _BOOLEANS[token]
            if token.startswith("#:") and len(token) > 2:
                return Keyword(token[2:])
            if token == "#" and self.text.startswith("#(", index):
                self.fail("vectors (#(...)) are not supported", index)
            self.fail(f"unsupported syntax {token!r}", index)
        number = parse_number(token)
        if number is not None:
            return number
        return Keyword(token[:-1]) if len(token) > 1 and token.endswith(":") else Symbol(token)

    def read_regex(self, start):
        """#/SOURCE/FLAGS: SOURCE runs to the first '/' not after a backslash; a backslash stays
        in SOURCE with the character after it, for the regex to read."""
        text, index = self.text, start + 2
        while index < len(text) and text[index] != "/":
            index += 2 if text[index] == "\\" else 1
        if index >= len(text):
            self.fail("unterminated regex literal #/.../", start)
        source, end = text[start + 2:index], index + 1
        while end < len(text) and text[end] in REGEX_FLAGS:
            end += 1
        if end < len(text) and text[end] not in _DELIMITERS:
            self.fail(f"unknown regex flag {text[end]!r} (#/.../ takes {', '.join(REGEX_FLAGS)})", end)
        return Regex(source, text[index + 1:end]), end

    def read_char(self, index):
        text, start = self.text, index + 2
        if start >= len(text):
            self.fail("nothing follows '#\\'", index)
        end = start + 1 if text[start] in _DELIMITERS else self.token_end(start)
        name = text[start:end]
        if len(name) == 1:
            return Char(name), end
        if name in CHAR_NAMES:
            return Char(CHAR_NAMES[name]), end
        code = _hex_value(name[1:]) if name[:1] == "x" else None
        if code is None:
            self.fail(f"unknown character name '#\\{name}'", index)
        return Char(chr(code)), end

    def read_string(self, start):
        text, index, pieces = self.text, start + 1, []
        while index < len(text):
            char = text[index]
            if char == '"':
                return "".join(pieces), index + 1
            if char != "\\":
                pieces.append(char)
                index += 1
                continue
            piece, index = self.read_escape(index, start)
            pieces.append(piece)
        self.fail("unterminated string", start)

    def read_escape(self, index, start):
        """One backslash escape at INDEX: its text and where reading goes on."""
        text = self.text
        code = text[index + 1:index + 2]
        if not code:
            self.fail("unterminated string", start)
        if code in _STRING_ESCAPES:
            return _STRING_ESCAPES[code], index + 2
        if code == "x":
            semicolon = text.find(";", index + 2, index + 10)
            end = semicolon if semicolon > 0 else index + 4
            value = _hex_value(text[index + 2:end])
            if value is None:
                self.fail("bad '\\x' escape in string", index)
            return chr(value), end + (1 if semicolon > 0 else 0)
        rest = index + 1
        while rest < len(text) and text[rest] in " \t":
            rest += 1
        if text.startswith("\n", rest):          # backslash-newline: the line goes on
            rest += 1
            while rest < len(text) and text[rest] in " \t":
                rest += 1
            return "", rest
        self.fail(f"unknown escape '\\{code}' in string", index)


def _newline_offsets(text):
    offsets, index = [], text.find("\n")
    while index >= 0:
        offsets.append(index)
        index = text.find("\n", index + 1)
    return offsets


def _hex_value(digits):
    if not digits or len(digits) > 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        return None
    value = int(digits, 16)
    return value if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else None
