"""A small, bounded evaluator for the Scheme that Megatest config files put in #{scheme EXPR}.

Megatest hands such text to CHICKEN's eval as the body of (lambda (ht) EXPR) and puts
(conc result) in its place. This package evaluates a subset of that Scheme with a step budget,
a depth limit and size limits, and with access to nothing but what SchemeContext holds."""
from megatest.scheme import host, lists, numeric, strings
from megatest.scheme.context import Runtime, SchemeContext
from megatest.scheme.errors import ProcError, SchemeError
from megatest.scheme.machine import Env, Machine
from megatest.scheme.printer import to_text
from megatest.scheme.reader import read_all
from megatest.scheme.syntax import analyse_body

__all__ = ["SchemeContext", "SchemeError", "evaluate"]

_PROCEDURES = {**numeric.PROCEDURES, **lists.PROCEDURES, **strings.PROCEDURES, **host.PROCEDURES}


def evaluate(text: str, ctx: SchemeContext) -> str:
    """Evaluate every form in TEXT, return the last value as the text Megatest would substitute."""
    forms = read_all(text)
    if not forms:
        raise SchemeError("no expression to evaluate")
    body = analyse_body(forms)
    bindings = dict(_PROCEDURES)           # a copy: set! and define never reach another evaluation
    bindings["*toppath*"] = ctx.toppath or False
    value = Machine(Runtime(ctx)).run(body, Env({}, Env(bindings)))
    try:
        return to_text(value)
    except ProcError as err:
        raise SchemeError(f"the result is too long: {err}") from None
