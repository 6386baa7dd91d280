"""A small, bounded evaluator for the Scheme that Megatest config files put in #{scheme EXPR},
and that logpro rule files are written in.

Megatest hands such text to CHICKEN's eval as the body of (lambda (ht) EXPR) and puts
(conc result) in its place. This package evaluates a subset of that Scheme with a step budget,
a depth limit and size limits, and with access to nothing but the procedures it is given:
LANGUAGE, which reaches nothing outside the evaluation, and HOST, which reaches the outside
world only through a SchemeContext. A caller with procedures of its own (logpro) adds them to
a Session."""
from types import MappingProxyType

from megatest.config.scheme import effects, host, lists, numeric, strings
from megatest.config.scheme.context import SchemeContext
from megatest.config.scheme.data import UNSPECIFIED, Keyword, Regex, Symbol, list_items, registrar
from megatest.config.scheme.errors import ProcError, SchemeError, UnknownProcedure
from megatest.config.scheme.printer import brief, to_text
from megatest.config.scheme.session import Session

__all__ = ["HOST", "LANGUAGE", "UNSPECIFIED", "Keyword", "ProcError", "Regex", "SchemeContext",
           "SchemeError", "Session", "Symbol", "UnknownProcedure", "brief", "evaluate", "list_items",
           "registrar", "to_text"]

LANGUAGE = MappingProxyType({**numeric.PROCEDURES, **lists.PROCEDURES, **strings.PROCEDURES,
                             **effects.PROCEDURES})
HOST = MappingProxyType(host.PROCEDURES)


def evaluate(text: str, ctx: SchemeContext) -> str:
    """Evaluate every form in TEXT, return the last value as the text Megatest would substitute."""
    session = Session(ctx, {**LANGUAGE, **HOST, "*toppath*": ctx.toppath or False})
    value = session.run_text(text)
    if value is None:
        raise SchemeError("no expression to evaluate")
    try:
        return to_text(value)
    except ProcError as err:
        raise SchemeError(f"the result is too long: {err}") from None
