"""Values to text, as CHICKEN's display (what conc and a #{scheme} result use) and write do."""
from megatest.config.scheme.context import MAX_STRING_LENGTH
from megatest.config.scheme.data import NIL, UNSPECIFIED, Char, HashTable, Keyword, Pair, Procedure, Regex, Symbol
from megatest.config.scheme.errors import ProcError
from megatest.config.scheme.numtext import format_number

CHAR_NAMES = {"space": " ", "newline": "\n", "tab": "\t", "nul": "\0", "null": "\0", "return": "\r",
              "linefeed": "\n", "alarm": "\a", "backspace": "\b", "delete": "\x7f", "escape": "\x1b"}
_NAME_OF_CHAR = {" ": "space", "\n": "newline", "\t": "tab", "\0": "nul", "\r": "return",
                 "\a": "alarm", "\b": "backspace", "\x7f": "delete", "\x1b": "escape"}
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
BRIEF_LENGTH = 60


def to_text(value, write=False, limit=MAX_STRING_LENGTH):
    """VALUE as display (or write) prints it. Works with an explicit stack, so a list nested
    thousands deep prints without Python recursion; stops with ProcError past LIMIT characters,
    which also bounds the work on a list that shares one big sublist many times."""
    out, size, todo = [], 0, [value]
    while todo:
        item = todo.pop()
        if isinstance(item, Pair):
            _push_list(item, todo)
            continue
        piece = item[0] if type(item) is tuple else _atom_text(item, write)
        size += len(piece)
        if size > limit:
            raise ProcError(f"text longer than {limit} characters")
        out.append(piece)
    return "".join(out)


def _push_list(pair, todo):
    """Queue the pieces of a list, last first; raw text is pushed as 1-tuples, which no Scheme
    value ever is."""
    items = []
    while isinstance(pair, Pair):
        items.append(pair.car)
        pair = pair.cdr
    todo.append((")",))
    if pair is not NIL:
        todo.append(pair)
        todo.append((" . ",))
    for index in range(len(items) - 1, -1, -1):
        todo.append(items[index])
        if index:
            todo.append((" ",))
    todo.append(("(",))


def _atom_text(value, write):
    if isinstance(value, str):
        return _quoted(value) if write else value
    if value is True:
        return "#t"
    if value is False:
        return "#f"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, Char):
        return "#\\" + _NAME_OF_CHAR.get(value.char, value.char) if write else value.char
    if isinstance(value, Keyword):
        return value.name + ":" if write else value.name
    if isinstance(value, Regex):
        return f"#/{value.source}/{value.flags}"
    if value is NIL or value is UNSPECIFIED:
        return value.text
    if isinstance(value, Procedure):
        return f"#<procedure {value.name}>"
    if isinstance(value, HashTable):
        return "#<hash-table>"
    raise TypeError(f"not a Scheme value: {value!r}")


def _quoted(text):
    pieces = []
    for char in text:
        if char in _STRING_ESCAPES:
            pieces.append(_STRING_ESCAPES[char])
        elif ord(char) < 32:
            pieces.append("\\x%02x;" % ord(char))
        else:
            pieces.append(char)
    return '"' + "".join(pieces) + '"'


def brief(value):
    """VALUE as write shows it, cut short for an error message."""
    try:
        text = to_text(value, write=True, limit=BRIEF_LENGTH * 4)
    except ProcError:
        text = "..."
    return text if len(text) <= BRIEF_LENGTH else text[:BRIEF_LENGTH - 3] + "..."
