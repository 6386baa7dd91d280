"""The procedures called for their effect, none of which reaches outside the evaluation: the
output ones (display, print ...) write nothing, error stops the evaluation, void makes nothing."""
from megatest.config.scheme.data import UNSPECIFIED, registrar
from megatest.config.scheme.errors import ProcError
from megatest.config.scheme.printer import to_text

PROCEDURES = {}
procedure = registrar(PROCEDURES)


def _discard(rt, *values):
    """Output goes to Megatest's terminal, never into the config, so it is dropped here."""
    return UNSPECIFIED


for _name in ("print", "display", "write", "newline"):
    procedure(_name, 0, None)(_discard)


@procedure("error", 0, None)
def error(rt, *values):
    raise ProcError(" ".join(to_text(value, write=not isinstance(value, str)) for value in values))


@procedure("void", 0, None)
def void(rt, *ignored):
    return UNSPECIFIED
