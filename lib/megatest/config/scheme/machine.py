"""Runs syntax nodes on an explicit stack of frames, so neither deep recursion in Scheme nor a
long loop ever grows Python's stack; tail calls (loops written as named lets) use no frame at
all. Every procedure call costs one step of the budget and the stack has a fixed height limit.
A builtin finds where it was called from in rt.call_site, and an error leaving `run` carries
the (source, line) of the innermost call or variable that has one."""
from megatest.config.scheme import syntax
from megatest.config.scheme.data import UNSPECIFIED, Builtin, Procedure, eqv, make_list
from megatest.config.scheme.errors import ProcError, SchemeError, UnknownProcedure
from megatest.config.scheme.printer import brief


class Env:
    """One scope: its own bindings and the scope around it."""
    __slots__ = ("vars", "parent")

    def __init__(self, bindings, parent=None):
        self.vars, self.parent = bindings, parent

    def scope_of(self, name):
        env = self
        while env is not None and name not in env.vars:
            env = env.parent
        return env


class Closure(Procedure):
    """A lambda together with the scope it was made in."""
    __slots__ = ("name", "params", "rest", "body", "env")

    def __init__(self, node, env):
        self.name, self.params, self.rest, self.body, self.env = node.name, node.params, node.rest, node.body, env


def _arity_error(name, low, high, got):
    if high is None:
        wanted = f"at least {low}"
    else:
        wanted = str(low) if low == high else f"{low} to {high}"
    return SchemeError(f"wrong number of arguments to '{name}' (expected {wanted}, got {got})")


def _failed(proc, err):
    return SchemeError(f"error in '{proc.name}': {err}")


class Machine:
    """Holds the frame stack of one evaluation; `run` is the only loop."""

    def __init__(self, rt):
        self.rt = rt
        self.stack = []

    def run(self, node, env):
        stack, limit, value, frame = self.stack, self.rt.ctx.max_depth, None, None
        try:
            while True:
                if node is not None:
                    node, env, value = _EVALUATORS[type(node)](self, node, env)
                elif stack:
                    frame = stack.pop()
                    node, env, value = frame.resume(self, value)
                else:
                    return value
                if len(stack) > limit:
                    raise SchemeError(f"evaluation nested deeper than {limit} levels")
        except SchemeError as err:
            raise err.locate(_innermost_where(frame if node is None else node, stack))

    def apply(self, proc, args):
        """Start a call: a closure's body becomes the next node (a tail call, no frame); a
        builtin answers at once, or, if it calls back into Scheme, runs as a frame."""
        self.rt.charge()
        if isinstance(proc, Closure):
            return proc.body, _bind(proc, args), None
        if not isinstance(proc, Builtin):
            raise SchemeError(f"call of non-procedure: {brief(proc)}")
        if not proc.min_args <= len(args) <= (len(args) if proc.max_args is None else proc.max_args):
            raise _arity_error(proc.name, proc.min_args, proc.max_args, len(args))
        if proc.calls:
            return _Calling(proc, proc.fn(self.rt, *args), self.rt.call_site).resume(self, None)
        try:
            return None, None, proc.fn(self.rt, *args)
        except ProcError as err:
            raise _failed(proc, err) from None


def _innermost_where(failed, stack):
    """Where the failing step was written: the node being evaluated or the frame being resumed,
    else the nearest call still waiting on the stack."""
    for place in (failed, *reversed(stack)):
        where = getattr(place, "where", None)
        if where is not None:
            return where
    return None


def _bind(proc, args):
    count = len(proc.params)
    if len(args) < count or (proc.rest is None and len(args) > count):
        raise _arity_error(proc.name, count, None if proc.rest else count, len(args))
    bindings = dict(zip(proc.params, args))
    if proc.rest is not None:
        bindings[proc.rest] = make_list(args[count:])
    return Env(bindings, proc.env)


class _Then:
    """After an if's test: pick a branch."""
    __slots__ = ("node", "env")

    def __init__(self, node, env):
        self.node, self.env = node, env

    def resume(self, machine, value):
        return (self.node.then if value is not False else self.node.else_), self.env, None


class _Next:
    """Between the expressions of a body; the last one runs without a frame."""
    __slots__ = ("nodes", "env", "index")

    def __init__(self, nodes, env):
        self.nodes, self.env, self.index = nodes, env, 1

    def resume(self, machine, value):
        index = self.index
        if index < len(self.nodes) - 1:
            self.index += 1
            machine.stack.append(self)
        return self.nodes[index], self.env, None


class _Either(_Next):
    """Between the operands of an or: stop at the first true value."""
    __slots__ = ()

    def resume(self, machine, value):
        if value is not False:
            return None, None, value
        return super().resume(machine, value)


class _Bind:
    """After a define's (or set!'s) value: store it."""
    __slots__ = ("node", "env")

    def __init__(self, node, env):
        self.node, self.env = node, env

    def resume(self, machine, value):
        name = self.node.name
        if isinstance(self.node, syntax.Define):
            self.env.vars[name] = value
        else:
            scope = self.env.scope_of(name)
            if scope is None:
                raise SchemeError(f"unbound variable '{name}' (set! needs a defined variable)")
            scope.vars[name] = value
        return None, None, UNSPECIFIED


class _Operands:
    """Collects the operator and operands of a call, left to right, then makes the call."""
    __slots__ = ("node", "env", "values")

    def __init__(self, node, env):
        self.node, self.env, self.values = node, env, []

    @property
    def where(self):
        return self.node.where

    def resume(self, machine, value):
        values = self.values
        values.append(value)
        if len(values) <= len(self.node.args):
            machine.stack.append(self)
            return self.node.args[len(values) - 1], self.env, None
        machine.rt.call_site = self.node.where
        return machine.apply(values[0], values[1:])


class _Choose:
    """After a case's key: the first clause with a datum eqv? to it."""
    __slots__ = ("node", "env")

    def __init__(self, node, env):
        self.node, self.env = node, env

    def resume(self, machine, value):
        for datums, body in self.node.clauses:
            if any(eqv(value, datum) for datum in datums):
                return body, self.env, None
        return self.node.else_, self.env, None


class _Calling:
    """A builtin that calls procedures (map, sort ...) runs as a generator: each (proc, args) it
    yields is called by the machine and the result sent back, so the Python stack stays flat.
    Its calls are made from where it was called (`where`), whatever ran in between."""
    __slots__ = ("proc", "calls", "where")

    def __init__(self, proc, calls, where):
        self.proc, self.calls, self.where = proc, calls, where

    def resume(self, machine, value):
        try:
            callee, args = self.calls.send(value)
        except StopIteration as done:
            return None, None, done.value
        except ProcError as err:
            raise _failed(self.proc, err) from None
        machine.stack.append(self)
        machine.rt.call_site = self.where
        return machine.apply(callee, args)


def _ref(machine, node, env):
    scope = env.scope_of(node.name)
    if scope is not None:
        return None, None, scope.vars[node.name]
    if node.call:
        raise UnknownProcedure(node.name)
    raise SchemeError(f"unbound variable '{node.name}'")


def _sequence(frame):
    def evaluate(machine, node, env):
        machine.stack.append(frame(node.nodes, env))
        return node.nodes[0], env, None
    return evaluate


def _push(frame, first):
    def evaluate(machine, node, env):
        machine.stack.append(frame(node, env))
        return first(node), env, None
    return evaluate


_EVALUATORS = {
    syntax.Const: lambda machine, node, env: (None, None, node.value),
    syntax.Ref: _ref,
    syntax.Lambda: lambda machine, node, env: (None, None, Closure(node, env)),
    syntax.If: _push(_Then, lambda node: node.test),
    syntax.Seq: _sequence(_Next),
    syntax.Or: _sequence(_Either),
    syntax.Define: _push(_Bind, lambda node: node.value),
    syntax.Assign: _push(_Bind, lambda node: node.value),
    syntax.App: _push(_Operands, lambda node: node.fn),
    syntax.Case: _push(_Choose, lambda node: node.key),
}
