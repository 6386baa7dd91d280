"""Argument parsing shared by the commands (docopt, with usage errors as exit 2)."""
from megatest.errors import UsageError


def parse(doc, argv, version=None):
    """docopt with --help printing to stdout (exit 0) and bad usage raised as UsageError."""
    import docopt
    try:
        return docopt.docopt(doc, argv, default_help=True, version=version)
    except docopt.DocoptExit as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else "bad arguments"
        if first.lower().startswith("usage:"):
            first = "bad arguments: " + " ".join(argv)
        raise UsageError(first, hint=usage_hint(doc)) from None


def usage_hint(doc):
    """The first usage line of a docopt text, offered as `try:` after a usage error."""
    lines = doc.splitlines()
    for n, line in enumerate(lines):
        if line.strip().lower().startswith("usage:"):
            for candidate in lines[n + 1:]:
                if candidate.strip().startswith("mt-"):
                    return candidate.strip() + "   (see --help)"
    return "--help"


def int_option(args, name, minimum=None):
    value = args.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{name} expects an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise UsageError(f"{name} must be at least {minimum}, got {number}")
    return number
