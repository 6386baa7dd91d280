"""Strings, characters and symbols, including CHICKEN's conc, string-split and string-intersperse."""
from megatest.config.scheme.checks import (char_arg, expected, index_arg, list_arg, string_arg, strings_arg,
                                    symbol_arg)
from megatest.config.scheme.data import Char, Keyword, Symbol, make_list, registrar
from megatest.config.scheme.errors import ProcError
from megatest.config.scheme.printer import to_text

PROCEDURES = {}
procedure = registrar(PROCEDURES)
_WHITESPACE = " \t\n\r\f\v"


def _joined(rt, pieces, separator=""):
    """The pieces joined, paid for before the string is built."""
    rt.charge_text(sum(map(len, pieces)) + len(separator) * max(len(pieces) - 1, 0))
    return separator.join(pieces)


for _name, _kind in (("string?", str), ("symbol?", Symbol), ("char?", Char), ("keyword?", Keyword)):
    procedure(_name, 1)(lambda rt, value, kind=_kind: isinstance(value, kind))


@procedure("string-length", 1)
def string_length(rt, text):
    return len(string_arg(text))


@procedure("string-null?", 1)
def string_null(rt, text):
    return string_arg(text) == ""


@procedure("string-append", 0, None)
def string_append(rt, *texts):
    return _joined(rt, [string_arg(text) for text in texts])


@procedure("conc", 0, None)
def conc(rt, *values):
    """CHICKEN's conc: every argument as display shows it, run together."""
    return _joined(rt, [to_text(value) for value in values])


@procedure("->string", 1)
def to_string(rt, value):
    return conc(rt, value)


@procedure("string-intersperse", 1, 2)
def string_intersperse(rt, texts, separator=" "):
    return _joined(rt, strings_arg(rt, texts), string_arg(separator))


@procedure("string-join", 1, 2)
def string_join(rt, texts, separator=" "):
    return string_intersperse(rt, texts, separator)


@procedure("string-split", 1, 3)
def string_split(rt, text, delimiters=_WHITESPACE, keep_empty=False):
    """CHICKEN's: cut at any character of DELIMITERS; empty fields are dropped unless KEEP_EMPTY."""
    string_arg(text)
    string_arg(delimiters)
    rt.charge_text(len(text))
    fields, start = [], 0
    for index, char in enumerate(text):
        if char in delimiters:
            fields.append(text[start:index])
            start = index + 1
    fields.append(text[start:])
    return make_list([field for field in fields if field or keep_empty is not False])


def _bounds(text, start, end):
    end = len(text) if end is None else index_arg(end)
    if not index_arg(start) <= end <= len(text):
        raise ProcError(f"range {start} to {end} is outside a string of length {len(text)}")
    return start, end


@procedure("substring", 2, 3)
def substring(rt, text, start, end=None):
    start, end = _bounds(string_arg(text), start, end)
    rt.charge_text(end - start)
    return text[start:end]


@procedure("string-ref", 2)
def string_ref(rt, text, index):
    if index_arg(index) >= len(string_arg(text)):
        raise ProcError(f"index {index} is outside a string of length {len(text)}")
    return Char(text[index])


def _string_compare(test, fold=False):
    def compare(rt, *texts):
        texts = [string_arg(text).casefold() if fold else string_arg(text) for text in texts]
        rt.charge_text(sum(map(len, texts)))
        return all(test(a, b) for a, b in zip(texts, texts[1:]))
    return compare


for _name, _test in (("string=?", str.__eq__), ("string<?", str.__lt__), ("string>?", str.__gt__),
                     ("string<=?", str.__le__), ("string>=?", str.__ge__)):
    procedure(_name, 1, None)(_string_compare(_test))
procedure("string-ci=?", 1, None)(_string_compare(str.__eq__, fold=True))


def _string_map(change):
    def mapped(rt, text):
        rt.charge_text(len(string_arg(text)))
        return change(text)
    return mapped


for _name, _change in (("string-upcase", str.upper), ("string-downcase", str.lower),
                       ("string-trim", lambda t: t.lstrip(_WHITESPACE)),
                       ("string-trim-right", lambda t: t.rstrip(_WHITESPACE)),
                       ("string-trim-both", lambda t: t.strip(_WHITESPACE))):
    procedure(_name, 1)(_string_map(_change))


@procedure("string-prefix?", 2)
def string_prefix(rt, prefix, text):
    return string_arg(text).startswith(string_arg(prefix))


@procedure("string-suffix?", 2)
def string_suffix(rt, suffix, text):
    return string_arg(text).endswith(string_arg(suffix))


@procedure("substring-index", 2, 3)
def substring_index(rt, which, where, start=0):
    """CHICKEN's: where WHICH first occurs in WHERE (from START), or #f."""
    rt.charge_text(len(string_arg(where)))
    found = where.find(string_arg(which), index_arg(start))
    return False if found < 0 else found


@procedure("string-contains", 2)
def string_contains(rt, where, which):
    return substring_index(rt, which, where)


@procedure("make-string", 1, 2)
def make_string(rt, count, fill=Char(" ")):
    rt.charge_text(index_arg(count))
    return char_arg(fill).char * count


@procedure("string", 0, None)
def string(rt, *chars):
    return _joined(rt, [char_arg(char).char for char in chars])


@procedure("string->list", 1)
def string_to_list(rt, text):
    rt.charge(len(string_arg(text)))
    return make_list([Char(char) for char in text])


@procedure("list->string", 1)
def list_to_string(rt, chars):
    return string(rt, *list_arg(rt, chars))


@procedure("string->symbol", 1)
def string_to_symbol(rt, text):
    return Symbol(string_arg(text))


@procedure("symbol->string", 1)
def symbol_to_string(rt, symbol):
    return symbol_arg(symbol).name


@procedure("char->integer", 1)
def char_to_integer(rt, char):
    return ord(char_arg(char).char)


@procedure("integer->char", 1)
def integer_to_char(rt, code):
    if index_arg(code) > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise expected("a Unicode code point", code)
    return Char(chr(code))
