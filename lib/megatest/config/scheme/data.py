"""The values Scheme code works on besides Python's own (str, int, float, bool)."""


class _Text:
    """A value that is one piece of text and is compared by it, so (eq? 'a 'a) holds without
    an intern table."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return type(other) is type(self) and other.text == self.text

    def __hash__(self):
        return hash((type(self), self.text))

    def __repr__(self):
        return f"{type(self).__name__}({self.text!r})"


class Symbol(_Text):
    __slots__ = ()
    name = property(lambda self: self.text)


class Char(_Text):
    """A character object (#\\a), kept apart from one-letter strings."""
    __slots__ = ()
    char = property(lambda self: self.text)


class Keyword(_Text):
    """A keyword, written `name:` or `#:name` as CHICKEN reads both; it evaluates to itself, so
    a procedure can take `expires: "01/01/2030"` style arguments and tell names from values."""
    __slots__ = ()
    name = property(lambda self: self.text)


class Regex:
    """A regular expression as written, #/SOURCE/FLAGS (flags among i, x, u). The evaluator only
    carries it; whatever matches text with it (logpro) translates SOURCE for itself."""
    __slots__ = ("source", "flags")

    def __init__(self, source, flags=""):
        self.source, self.flags = source, flags

    def __repr__(self):
        return f"Regex({self.source!r}, {self.flags!r})"


class Pair:
    """A cons cell. No procedure changes one after it is made (there is no set-car!), so no
    structure can be circular and every walk over a list ends."""
    __slots__ = ("car", "cdr")

    def __init__(self, car, cdr):
        self.car = car
        self.cdr = cdr

    def __repr__(self):
        return f"Pair({self.car!r}, {self.cdr!r})"


class _Marker:
    """A value that is only ever compared by identity: the empty list, the unspecified value."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


NIL = _Marker("()")
UNSPECIFIED = _Marker("#<unspecified>")


class HashTable:
    """A read-only table (what tests:get-all answers); only looked at, never changed."""
    __slots__ = ("table",)

    def __init__(self, table):
        self.table = dict(table)


class Procedure:
    """Anything that can be called: a Builtin here, or a closure made by the machine."""
    __slots__ = ()
    name = "lambda"


class Builtin(Procedure):
    """A procedure written in Python. fn(rt, *args) returns the value; when `calls` is set it is
    a generator instead, which yields (procedure, args) to have the machine call Scheme code and
    receives each result back, so a map over a lambda never recurses in Python."""
    __slots__ = ("name", "fn", "min_args", "max_args", "calls")

    def __init__(self, name, fn, min_args, max_args, calls):
        self.name, self.fn, self.calls = name, fn, calls
        self.min_args, self.max_args = min_args, max_args


def registrar(table):
    """A decorator factory filling TABLE with Builtins; max_args None means any number."""
    def procedure(name, min_args, max_args=-1, calls=False):
        def register(fn):
            table[name] = Builtin(name, fn, min_args, min_args if max_args == -1 else max_args, calls)
            return fn
        return register
    return procedure


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def make_list(items, tail=NIL):
    """A Scheme list of a Python sequence's items (built back to front, one cell each)."""
    result = tail
    for item in reversed(items):
        result = Pair(item, result)
    return result


def list_items(value):
    """The items of a proper list, or None when VALUE is not one."""
    items = []
    while isinstance(value, Pair):
        items.append(value.car)
        value = value.cdr
    return items if value is NIL else None


def eqv(a, b):
    """eqv?: the same object, or equal numbers of the same exactness, or equal symbols, chars
    or keywords."""
    if a is b:
        return True
    if is_number(a) and is_number(b):
        return type(a) is type(b) and a == b
    return isinstance(a, _Text) and a == b
