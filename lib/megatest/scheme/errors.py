"""Why an evaluation stopped: SchemeError for users, ProcError inside procedures."""


class SchemeError(Exception):
    """An expression that cannot be evaluated; the message names the form or procedure at fault."""


class ProcError(Exception):
    """Raised by a procedure about its own arguments or effect. The machine knows which procedure
    was running, so it turns this into a SchemeError that names it; procedures need not repeat
    their own name in every message."""
