"""Why an evaluation stopped: SchemeError for users, ProcError inside procedures."""


class SchemeError(Exception):
    """An expression that cannot be read or evaluated; the message names the form or procedure
    at fault. `source` and `line` say where, when known: a caller that read a file (logpro)
    names FILE:LINE with them, while a one-line #{scheme} text needs no line. Only a reading
    error has a `column`, and then the text itself ends with "at line L, column C"."""

    def __init__(self, message, line=None, column=None):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column
        self.source = None

    def __str__(self):
        if self.column is None:
            return self.message
        return f"{self.message} at line {self.line}, column {self.column}"

    def locate(self, where):
        """Take WHERE, a (source, line) pair or None, unless a nearer place is already known."""
        if self.line is None and where is not None:
            self.source, self.line = where
        return self


class UnknownProcedure(SchemeError):
    """A call of a name that is bound to nothing: kept apart so that a caller with its own
    vocabulary (logpro's "unknown form") can say so in its words."""

    def __init__(self, name):
        super().__init__(f"unsupported procedure '{name}'")
        self.name = name


class ProcError(Exception):
    """Raised by a procedure about its own arguments or effect. The machine knows which procedure
    was running, so it turns this into a SchemeError that names it; procedures need not repeat
    their own name in every message. A procedure whose message already says everything (one
    of logpro's rule forms) raises SchemeError instead."""
