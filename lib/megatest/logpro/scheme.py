"""The little Scheme that real rule files are written in, and nothing more.

Megatest's own rule files go beyond a flat list of expects: they `define` strings, lists and
helper procedures, loop with `for-each` and `apply`, build regexes with `regexp` and `conc`,
and `load` shared files. This evaluator covers exactly that: `quote`, `define`, `lambda`,
`let`, `let*`, `begin` and calls, over the data of reader.py. There is no `if`, no mutation,
no I/O but what rules.py provides, so a rule file can only describe rules. Nesting is
bounded (MAX_DEPTH) so a runaway definition is an error naming its line, not a crash.
"""
from megatest.errors import MtError
from megatest.logpro.reader import Keyword, RegexLiteral, SList, Symbol

MAX_DEPTH = 200


class Procedure:
    """Anything callable from a rule file."""
    name = "procedure"

    def call(self, interp, args, where):
        raise NotImplementedError


class Builtin(Procedure):
    """A procedure written in Python: fn(interp, args, where) -> value."""

    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def call(self, interp, args, where):
        return self.fn(interp, args, where)


class SpecialForm:
    """A form whose arguments are not evaluated: fn(interp, form, env, where, depth)."""

    def __init__(self, name, fn):
        self.name, self.fn = name, fn


class Lambda(Procedure):
    def __init__(self, name, params, rest, body, env, path):
        self.name, self.params, self.rest = name, params, rest
        self.body, self.env, self.path = body, env, path

    def call(self, interp, args, where):
        if len(args) < len(self.params) or (self.rest is None and len(args) > len(self.params)):
            wanted = f"{len(self.params)}{'+' if self.rest else ''}"
            raise MtError(f"{self.name} takes {wanted} arguments, got {len(args)}",
                          where[0], where[1])
        env = Env(self.env)
        for name, value in zip(self.params, args):
            env.define(name, value)
        if self.rest is not None:
            env.define(self.rest, list(args[len(self.params):]))
        return interp.eval_body(self.body, env, self.path, where[2] + 1)


class Env:
    """One scope of names; the outermost holds the builtins, the next the file's defines."""

    def __init__(self, parent=None):
        self.vars, self.parent = {}, parent

    def define(self, name, value):
        self.vars[name] = value

    def find(self, name):
        env = self
        while env is not None:
            if name in env.vars:
                return env.vars[name]
            env = env.parent
        raise KeyError(name)


class Interpreter:
    """Evaluates data from reader.py in GLOBALS (an Env whose root holds the builtins)."""

    def __init__(self, globals_env, unknown_hint=None):
        self.globals = globals_env
        self.unknown_hint = unknown_hint or (lambda name: "")

    def run(self, data, path):
        """Evaluate each top-level (datum, line) of one file in order."""
        for datum, line in data:
            self.eval(datum, self.globals, path, line, 0)

    def eval_body(self, body, env, path, depth):
        result = None
        for datum, line in body:
            result = self.eval(datum, env, path, line, depth)
        return result

    def eval(self, x, env, path, line, depth):
        if depth > MAX_DEPTH:
            raise MtError(f"forms nested or called more than {MAX_DEPTH} deep", path, line)
        if isinstance(x, Symbol):
            try:
                return env.find(x)
            except KeyError:
                raise MtError(f"unbound variable {x}", path, line) from None
        if isinstance(x, RegexLiteral):
            from megatest.logpro import rx
            return rx.compile_pattern(x.source, x.flags, path, x.line)
        if not isinstance(x, SList):
            return x          # strings, numbers, booleans, keywords evaluate to themselves
        if not x:
            raise MtError("empty form ()", path, x.line)
        head = x[0]
        line = x.line
        op = self._operator(head, env, path, line, depth)
        if isinstance(op, SpecialForm):
            return op.fn(self, x, env, (path, line, depth))
        if not isinstance(op, Procedure):
            raise MtError(f"{show(head)} is not a procedure (it is {show(op)})", path, line)
        args = [self.eval(a, env, path, x.line_of(i + 1), depth + 1) for i, a in enumerate(x[1:])]
        return op.call(self, args, (path, line, depth))

    def _operator(self, head, env, path, line, depth):
        if isinstance(head, Symbol):
            try:
                return env.find(head)
            except KeyError:
                hint = self.unknown_hint(head)
                raise MtError(f"unknown form ({head} ...){hint}", path, line) from None
        return self.eval(head, env, path, line, depth + 1)


# -- special forms ----------------------------------------------------------------------------

def _quote(interp, form, env, where):
    _arity(form, 1, where)
    return _plain(form[1])


def _define(interp, form, env, where):
    path, line, depth = where
    if len(form) < 3 and not (len(form) == 2 and isinstance(form[1], Symbol)):
        raise MtError("define needs a name and a value", path, line)
    target = form[1]
    if isinstance(target, SList):        # (define (name . params) body ...)
        if not target or not isinstance(target[0], Symbol):
            raise MtError("define: (define (NAME ARGS...) BODY...) needs a NAME", path, line)
        params, rest = _params(SList(target[1:], target.line, target.lines[1:]), path, line)
        value = Lambda(str(target[0]), params, rest, _body(form, 2), env, path)
    elif isinstance(target, Symbol):
        value = None
        if len(form) > 2:
            value = interp.eval(form[2], env, path, form.line_of(2), depth + 1)
        if len(form) > 3:
            raise MtError(f"define {target}: one value expected, got {len(form) - 2}", path, line)
        if isinstance(value, Lambda) and value.name == "lambda":
            value.name = str(target)
    else:
        raise MtError(f"define: cannot define {show(target)}", path, line)
    env.define(target if isinstance(target, Symbol) else target[0], value)
    return None


def _lambda(interp, form, env, where):
    path, line, _ = where
    if len(form) < 3:
        raise MtError("lambda needs parameters and a body", path, line)
    spec = form[1]
    if isinstance(spec, Symbol):
        params, rest = [], spec
    elif isinstance(spec, SList):
        params, rest = _params(spec, path, line)
    else:
        raise MtError(f"lambda: bad parameter list {show(spec)}", path, line)
    return Lambda("lambda", params, rest, _body(form, 2), env, path)


def _let(sequential):
    def form_fn(interp, form, env, where):
        path, line, depth = where
        name = "let*" if sequential else "let"
        if len(form) < 3 or not isinstance(form[1], SList):
            raise MtError(f"{name} needs bindings and a body", path, line)
        inner = Env(env)
        for binding in form[1]:
            if not (isinstance(binding, SList) and len(binding) == 2
                    and isinstance(binding[0], Symbol)):
                raise MtError(f"{name}: bad binding {show(binding)} (expected (NAME VALUE))",
                              path, getattr(binding, "line", line))
            value = interp.eval(binding[1], inner if sequential else env, path,
                                binding.line_of(1), depth + 1)
            inner.define(binding[0], value)
        return interp.eval_body(_body(form, 2), inner, path, depth + 1)
    return form_fn


def _begin(interp, form, env, where):
    path, _, depth = where
    return interp.eval_body(_body(form, 1), env, path, depth + 1)


SPECIAL_FORMS = {
    "quote": _quote, "define": _define, "lambda": _lambda,
    "let": _let(False), "let*": _let(True), "begin": _begin,
}


def _params(spec, path, line):
    names = list(spec)
    rest = None
    if Symbol(".") in names:
        dot = names.index(Symbol("."))
        if dot != len(names) - 2:
            raise MtError("bad '.' in parameter list", path, line)
        rest, names = names[-1], names[:dot]
    for name in names + ([rest] if rest is not None else []):
        if not isinstance(name, Symbol):
            raise MtError(f"parameter {show(name)} is not a name", path, line)
    return names, rest


def _body(form, start):
    return [(form[i], form.line_of(i)) for i in range(start, len(form))]


def _arity(form, count, where):
    if len(form) != count + 1:
        raise MtError(f"{form[0]} takes {count} argument{'s' if count != 1 else ''}",
                      where[0], where[1])


def _plain(datum):
    """Quoted data: lists become plain lists (regex literals stay literals until used)."""
    if isinstance(datum, SList):
        return [_plain(item) for item in datum]
    return datum


# -- values -----------------------------------------------------------------------------------

def display(value):
    """How Scheme's display (and logpro's conc and print) write VALUE."""
    if value is True:
        return "#t"
    if value is False or value is None:
        return "#f" if value is False else ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "(" + " ".join(show(v) for v in value) + ")"
    if isinstance(value, Keyword):
        return value + ":"
    if isinstance(value, Procedure):
        return f"#<procedure {value.name}>"
    return str(value)


def show(value):
    """Like display, but strings keep their quotes (for error messages)."""
    if isinstance(value, str) and not isinstance(value, (Symbol, Keyword)):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, SList):
        return "(" + " ".join(show(v) for v in value) + ")"
    return display(value)



# -- generic procedures -----------------------------------------------------------------------

def need(condition, message, where):
    """MtError(MESSAGE) at WHERE (path, line, ...) unless CONDITION holds."""
    if not condition:
        raise MtError(message, where[0], where[1])


def _list_arg(value, name, where):
    need(isinstance(value, list), f"{name}: expected a list, got {show(value)}", where)
    return value


def _conc(interp, args, where):
    return "".join(display(a) for a in args)


def _string_append(interp, args, where):
    for a in args:
        need(isinstance(a, str) and not isinstance(a, Symbol),
              f"string-append: {show(a)} is not a string", where)
    return "".join(args)


def _string_split(interp, args, where):
    need(1 <= len(args) <= 3 and isinstance(args[0], str),
          "string-split takes a string and optional delimiters", where)
    delims = args[1] if len(args) > 1 else " \t\n"
    keep_empty = len(args) > 2 and args[2] is not False
    parts, current = [], []
    for ch in args[0]:
        if ch in delims:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts if keep_empty else [p for p in parts if p]


def _apply(interp, args, where):
    need(len(args) >= 2 and isinstance(args[0], Procedure),
          "apply takes a procedure and a list of arguments", where)
    spread = list(args[1:-1]) + list(_list_arg(args[-1], "apply", where))
    return args[0].call(interp, spread, where)


def _mapper(collect):
    def fn(interp, args, where):
        name = "map" if collect else "for-each"
        need(len(args) >= 2 and isinstance(args[0], Procedure),
              f"{name} takes a procedure and at least one list", where)
        lists = [_list_arg(a, name, where) for a in args[1:]]
        results = [args[0].call(interp, list(items), where) for items in zip(*lists)]
        return results if collect else None
    return fn


def _cons(interp, args, where):
    need(len(args) == 2, "cons takes 2 arguments", where)
    return [args[0]] + list(_list_arg(args[1], "cons (only proper lists)", where))


def _car(interp, args, where):
    need(len(args) == 1 and isinstance(args[0], list) and args[0], "car of an empty list", where)
    return args[0][0]


def _cdr(interp, args, where):
    need(len(args) == 1 and isinstance(args[0], list) and args[0], "cdr of an empty list", where)
    return args[0][1:]


def _append(interp, args, where):
    out = []
    for a in args:
        out.extend(_list_arg(a, "append", where))
    return out


BUILTINS = {
    "list": lambda interp, args, where: list(args),
    "cons": _cons, "car": _car, "cdr": _cdr, "append": _append,
    "conc": _conc, "string-append": _string_append, "string-split": _string_split,
    "apply": _apply, "for-each": _mapper(False), "map": _mapper(True),
}


def base_env():
    """An Env holding the special forms and the generic procedures above."""
    env = Env()
    for name, fn in SPECIAL_FORMS.items():
        env.define(Symbol(name), SpecialForm(name, fn))
    for name, fn in BUILTINS.items():
        env.define(Symbol(name), Builtin(name, fn))
    return env
