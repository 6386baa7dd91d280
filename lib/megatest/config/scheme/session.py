"""Evaluating whole texts: a Session is one global scope and one budget that texts are read
into, analysed and run, form after form. A #{scheme} helper is one such text; a logpro rule
file is another, and the files it loads are run in the same Session."""
from megatest.config.scheme.context import Runtime
from megatest.config.scheme.errors import SchemeError
from megatest.config.scheme.machine import Env, Machine
from megatest.config.scheme.reader import read_all
from megatest.config.scheme.syntax import Source, analyse


class Session:
    """PROCEDURES (name -> value: the Builtins of the tables the caller picked, and any other
    values it binds) are all a text can reach. CTX gives the limits and what host procedures
    see; FORMS are host forms (syntax.Source). A define at the top of one text is seen by the
    texts run after it, never by another Session: the procedure table is copied."""

    def __init__(self, ctx, procedures, forms=None):
        self.rt = Runtime(ctx)
        self.globals = Env({}, Env(dict(procedures)))
        self.forms = forms or {}

    def run_text(self, text, name=None):
        """The value of the last form of TEXT (read from NAME, a file's path, for errors), or
        None when TEXT has none. Every form is analysed before the first one runs, so a
        malformed text has no effect. SchemeError carries the source and line that failed."""
        try:
            located = read_all(text)
        except SchemeError as err:
            err.source = name
            raise
        src = Source(name, located.cells, self.forms)
        places = [(name, line) for line in located.lines]
        nodes = [_at(where, analyse, datum, src) for datum, where in zip(located.data, places)]
        value = None
        for node, where in zip(nodes, places):
            value = _at(where, Machine(self.rt).run, node, self.globals)
        return value


def _at(where, fn, *args):
    """fn(*args); a SchemeError that knows no nearer place is put at WHERE, its form's line."""
    try:
        return fn(*args)
    except SchemeError as err:
        raise err.locate(where)
