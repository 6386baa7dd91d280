"""Data to syntax nodes: checks the shape of every special form once, before anything runs,
and rewrites the derived forms (let, let*, letrec, named let, cond, when ...) into a few
core nodes the machine knows. Calls and variables keep the (source, line) they were read at,
so an error while they run can name it."""
from megatest.config.scheme.data import NIL, UNSPECIFIED, Pair, Symbol, list_items
from megatest.config.scheme.errors import SchemeError
from megatest.config.scheme.printer import brief

# Forms CHICKEN has that this subset refuses by name rather than as an unknown procedure.
UNSUPPORTED_FORMS = frozenset((
    "do", "delay", "delay-force", "make-promise", "quasiquote", "unquote", "unquote-splicing",
    "define-syntax", "let-syntax", "letrec-syntax", "syntax-rules", "er-macro-transformer",
    "define-record", "define-record-type", "let-values", "let*-values", "define-values", "receive",
    "case-lambda", "parameterize", "fluid-let", "handle-exceptions", "condition-case", "guard",
    "dynamic-wind", "module", "import", "use", "require-extension", "include", "cond-expand",
    "declare", "define-inline", "define-constant", "assert", "named-lambda", "set!-values"))
# A name the reader can never produce, for values the rewrites need to hold on to.
_COND_VALUE = " cond-value"


class Source:
    """What analysis knows beyond the data: the name of the text they were read from, the line
    of each list cell (reader.Located.cells), and the host's own forms: name -> fn(datum, where)
    called when such a form is analysed, the form then standing for the value fn returns (how
    logpro ignores CHICKEN's `(use ...)` without evaluating its arguments)."""
    __slots__ = ("name", "cells", "forms")

    def __init__(self, name=None, cells=None, forms=None):
        self.name, self.cells, self.forms = name, cells or {}, forms or {}

    def where(self, cell):
        line = self.cells.get(cell)
        return None if line is None else (self.name, line)


class Const:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Ref:
    """A variable; `call` marks one in operator position, so an unknown name there is reported
    as an unsupported procedure."""
    __slots__ = ("name", "call", "where")

    def __init__(self, name, call=False, where=None):
        self.name, self.call, self.where = name, call, where


class If:
    __slots__ = ("test", "then", "else_")

    def __init__(self, test, then, else_):
        self.test, self.then, self.else_ = test, then, else_


class Lambda:
    __slots__ = ("params", "rest", "body", "name")

    def __init__(self, params, rest, body, name="lambda"):
        self.params, self.rest, self.body, self.name = params, rest, body, name


class Seq:
    __slots__ = ("nodes",)

    def __init__(self, nodes):
        self.nodes = nodes


class Define:
    __slots__ = ("name", "value")

    def __init__(self, name, value):
        self.name, self.value = name, value


class Assign:
    __slots__ = ("name", "value")

    def __init__(self, name, value):
        self.name, self.value = name, value


class App:
    __slots__ = ("fn", "args", "where")

    def __init__(self, fn, args, where=None):
        self.fn, self.args, self.where = fn, args, where


class Or:
    __slots__ = ("nodes",)

    def __init__(self, nodes):
        self.nodes = nodes


class Case:
    """`clauses` holds (datums, body) pairs; `else_` runs when no datum is eqv? to the key."""
    __slots__ = ("key", "clauses", "else_")

    def __init__(self, key, clauses, else_):
        self.key, self.clauses, self.else_ = key, clauses, else_


def _bad(form, why, datum):
    return SchemeError(f"bad '{form}' form: {why}: {brief(datum)}")


def analyse(datum, src):
    """The node for one expression read from SRC."""
    if isinstance(datum, Symbol):
        return Ref(datum.name)
    if not isinstance(datum, Pair):
        if datum is NIL:
            raise SchemeError("empty combination () is not an expression; quote it: '()")
        return Const(datum)
    try:
        return _form(datum, src)
    except SchemeError as err:
        raise err.locate(src.where(datum))


def _form(datum, src):
    items = list_items(datum)
    head = datum.car
    if items is None:
        raise SchemeError(f"malformed expression (a dotted list): {brief(datum)}")
    if isinstance(head, Symbol):
        special = _SPECIAL_FORMS.get(head.name)
        if special is not None:
            return special(items, datum, src)
        if head.name in src.forms:
            return Const(src.forms[head.name](datum, src.where(datum)))
        if head.name in UNSUPPORTED_FORMS:
            raise SchemeError(f"unsupported form '{head.name}'")
    where = src.where(datum)
    fn = Ref(head.name, True, where) if isinstance(head, Symbol) else analyse(head, src)
    operands, cell = [], datum.cdr
    while cell is not NIL:
        operand = cell.car
        operands.append(Ref(operand.name, False, src.where(cell)) if isinstance(operand, Symbol)
                        else analyse(operand, src))
        cell = cell.cdr
    return App(fn, tuple(operands), where)


def analyse_body(forms, src, form="lambda", datum=NIL):
    """A body: one or more expressions (definitions among them), the last one's value wins."""
    if not forms:
        raise _bad(form, "empty body", datum)
    nodes = tuple(analyse(form_, src) for form_ in forms)
    return nodes[0] if len(nodes) == 1 else Seq(nodes)


def _named(node, name):
    """Give a lambda the name it is bound to, for arity messages and display."""
    if isinstance(node, Lambda) and node.name == "lambda":
        node.name = name
    return node


def _quote(items, datum, src):
    if len(items) != 2:
        raise _bad("quote", "expected exactly one datum", datum)
    return Const(items[1])


def _if(items, datum, src):
    if len(items) not in (3, 4):
        raise _bad("if", "expected (if TEST THEN [ELSE])", datum)
    otherwise = analyse(items[3], src) if len(items) == 4 else Const(UNSPECIFIED)
    return If(analyse(items[1], src), analyse(items[2], src), otherwise)


def _params(spec, form, datum):
    """Parameter names and the rest name (or None) of a lambda list: (a b), (a . r) or r."""
    names = []
    while isinstance(spec, Pair):
        if not isinstance(spec.car, Symbol):
            raise _bad(form, "parameters must be symbols", datum)
        names.append(spec.car.name)
        spec = spec.cdr
    if spec is not NIL and not isinstance(spec, Symbol):
        raise _bad(form, "parameters must be symbols", datum)
    rest = spec.name if isinstance(spec, Symbol) else None
    every = names + ([rest] if rest else [])
    if len(set(every)) != len(every):
        raise _bad(form, "a parameter is named twice", datum)
    return tuple(names), rest


def _lambda(items, datum, src):
    if len(items) < 3:
        raise _bad("lambda", "expected (lambda PARAMS BODY ...)", datum)
    params, rest = _params(items[1], "lambda", datum)
    return Lambda(params, rest, analyse_body(items[2:], src, "lambda", datum))


def _define(items, datum, src):
    if len(items) < 2:
        raise _bad("define", "expected (define NAME VALUE) or (define (NAME PARAMS ...) BODY ...)", datum)
    target = items[1]
    if isinstance(target, Symbol):
        if len(items) > 3:
            raise _bad("define", "more than one value", datum)
        value = analyse(items[2], src) if len(items) == 3 else Const(UNSPECIFIED)
        return Define(target.name, _named(value, target.name))
    if isinstance(target, Pair) and isinstance(target.car, Symbol) and len(items) >= 3:
        params, rest = _params(target.cdr, "define", datum)
        body = analyse_body(items[2:], src, "define", datum)
        return Define(target.car.name, Lambda(params, rest, body, target.car.name))
    raise _bad("define", "expected a name or (NAME PARAMS ...) and a body", datum)


def _set(items, datum, src):
    if len(items) != 3 or not isinstance(items[1], Symbol):
        raise _bad("set!", "expected (set! NAME VALUE)", datum)
    return Assign(items[1].name, analyse(items[2], src))


def _bindings(spec, form, datum):
    """(name, value-datum) pairs of a let-style binding list."""
    pairs = list_items(spec)
    if pairs is None:
        raise _bad(form, "bindings must be a list", datum)
    result = []
    for binding in pairs:
        parts = list_items(binding)
        if parts is None or len(parts) != 2 or not isinstance(parts[0], Symbol):
            raise _bad(form, f"each binding must be (NAME VALUE), not {brief(binding)}", datum)
        result.append((parts[0].name, parts[1]))
    names = [name for name, _ in result]
    if form != "let*" and len(set(names)) != len(names):
        raise _bad(form, "a name is bound twice", datum)
    return result


def _let(items, datum, src):
    if len(items) >= 2 and isinstance(items[1], Symbol):
        return _named_let(items, datum, src)
    if len(items) < 3:
        raise _bad("let", "expected (let ((NAME VALUE) ...) BODY ...)", datum)
    bindings = _bindings(items[1], "let", datum)
    body = analyse_body(items[2:], src, "let", datum)
    inits = tuple(_named(analyse(value, src), name) for name, value in bindings)
    return App(Lambda(tuple(name for name, _ in bindings), None, body, "let"), inits)


def _named_let(items, datum, src):
    """(let loop ((v init) ...) body): a procedure `loop` visible in its own body, called once."""
    if len(items) < 4:
        raise _bad("let", "expected (let NAME ((VAR INIT) ...) BODY ...)", datum)
    name = items[1].name
    bindings = _bindings(items[2], "let", datum)
    loop = Lambda(tuple(var for var, _ in bindings), None, analyse_body(items[3:], src, "let", datum), name)
    holder = Lambda((), None, Seq((Define(name, loop), Ref(name))), name)
    return App(App(holder, ()), tuple(analyse(value, src) for _, value in bindings))


def _let_star(items, datum, src):
    if len(items) < 3:
        raise _bad("let*", "expected (let* ((NAME VALUE) ...) BODY ...)", datum)
    node = analyse_body(items[2:], src, "let*", datum)
    bindings = _bindings(items[1], "let*", datum)
    if not bindings:
        return App(Lambda((), None, node, "let*"), ())
    for name, value in reversed(bindings):
        node = App(Lambda((name,), None, node, "let*"), (_named(analyse(value, src), name),))
    return node


def _letrec(items, datum, src):
    form = items[0].name
    if len(items) < 3:
        raise _bad(form, f"expected ({form} ((NAME VALUE) ...) BODY ...)", datum)
    defines = [Define(name, _named(analyse(value, src), name))
               for name, value in _bindings(items[1], form, datum)]
    body = analyse_body(items[2:], src, form, datum)
    body_nodes = body.nodes if isinstance(body, Seq) else (body,)
    return App(Lambda((), None, Seq(tuple(defines) + body_nodes), form), ())


def _begin(items, datum, src):
    return Const(UNSPECIFIED) if len(items) == 1 else analyse_body(items[1:], src, "begin", datum)


def _and(items, datum, src):
    """(and a b c) is (if a (if b c #f) #f): built from the end, so no recursion per operand."""
    if len(items) == 1:
        return Const(True)
    node = analyse(items[-1], src)
    for item in reversed(items[1:-1]):
        node = If(analyse(item, src), node, Const(False))
    return node


def _or(items, datum, src):
    if len(items) == 1:
        return Const(False)
    nodes = tuple(analyse(item, src) for item in items[1:])
    return nodes[0] if len(nodes) == 1 else Or(nodes)


def _when(items, datum, src):
    form = items[0].name
    if len(items) < 3:
        raise _bad(form, f"expected ({form} TEST BODY ...)", datum)
    test, body = analyse(items[1], src), analyse_body(items[2:], src, form, datum)
    if form == "when":
        return If(test, body, Const(UNSPECIFIED))
    return If(test, Const(UNSPECIFIED), body)


def _cond(items, datum, src):
    """Nested ifs, built from the last clause back; (test => f) binds the test's value."""
    node = Const(UNSPECIFIED)
    clauses = items[1:]
    for position in range(len(clauses) - 1, -1, -1):
        parts = list_items(clauses[position])
        if not parts:
            raise _bad("cond", f"a clause must be (TEST BODY ...), not {brief(clauses[position])}", datum)
        head = parts[0]
        if isinstance(head, Symbol) and head.name == "else":
            if position != len(clauses) - 1 or len(parts) < 2:
                raise _bad("cond", "'else' must be the last clause and have a body", datum)
            node = analyse_body(parts[1:], src, "cond", datum)
        elif len(parts) == 1:
            node = Or((analyse(head, src), node))
        elif isinstance(parts[1], Symbol) and parts[1].name == "=>":
            if len(parts) != 3:
                raise _bad("cond", "expected (TEST => PROCEDURE)", datum)
            call = App(analyse(parts[2], src), (Ref(_COND_VALUE),))
            chooser = Lambda((_COND_VALUE,), None, If(Ref(_COND_VALUE), call, node), "cond")
            node = App(chooser, (analyse(head, src),))
        else:
            node = If(analyse(head, src), analyse_body(parts[1:], src, "cond", datum), node)
    return node


def _case(items, datum, src):
    if len(items) < 2:
        raise _bad("case", "expected (case KEY ((DATUM ...) BODY ...) ... [(else BODY ...)])", datum)
    clauses, otherwise = [], None
    for position, clause in enumerate(items[2:], start=2):
        parts = list_items(clause)
        if not parts or len(parts) < 2:
            raise _bad("case", f"a clause must be ((DATUM ...) BODY ...), not {brief(clause)}", datum)
        body = analyse_body(parts[1:], src, "case", datum)
        if isinstance(parts[0], Symbol) and parts[0].name == "else":
            if position != len(items) - 1:
                raise _bad("case", "'else' must be the last clause", datum)
            otherwise = body
            continue
        datums = list_items(parts[0])
        if datums is None:
            raise _bad("case", f"clause data must be a list, not {brief(parts[0])}", datum)
        clauses.append((tuple(datums), body))
    return Case(analyse(items[1], src), tuple(clauses), otherwise or Const(UNSPECIFIED))


_SPECIAL_FORMS = {
    "quote": _quote, "if": _if, "define": _define, "set!": _set, "lambda": _lambda,
    "let": _let, "let*": _let_star, "letrec": _letrec, "letrec*": _letrec, "begin": _begin,
    "and": _and, "or": _or, "when": _when, "unless": _when, "cond": _cond, "case": _case,
}
