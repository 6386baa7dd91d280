"""The one exception type users see: a message, optionally a file and line, and a hint; and
how a message names an option."""


class MtError(Exception):
    """A user-facing error (bad config, bad input, usage). Commands turn it into exit 2."""

    def __init__(self, message, path=None, line=None, hint=None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.hint = hint

    def __str__(self):
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return where + self.message


class UsageError(MtError):
    """Bad command-line arguments."""


def option_name(prog, name):
    """NAME as the user of PROG types it: megatest's switches have one dash (`-testpatt`),
    the mt-* commands' options two (`--testpatt`)."""
    return ("-" if prog == "megatest" else "--") + name
