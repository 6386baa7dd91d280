"""Argument parsing shared by the commands (docopt, with usage errors as exit 2)."""
from megatest.errors import UsageError, option_name


def parse(doc, argv, version=None):
    """docopt with --help printing to stdout (exit 0) and bad usage raised as UsageError."""
    import docopt
    try:
        return docopt.docopt(doc, argv, default_help=True, version=version)
    except docopt.DocoptExit:
        raise UsageError(_explain(doc, argv), hint=usage_hint(doc)) from None


def _explain(doc, argv):
    """Name the argument docopt did not accept (its own message shows internals)."""
    import re
    known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", doc))
    for arg in argv:
        name = arg.split("=", 1)[0]
        if name.startswith("-") and name != "-" and name not in known:
            return f"unknown option {name}"
    if argv and argv[-1].startswith("-") and re.search(re.escape(argv[-1]) + r"[ =][A-Z<]", doc):
        return f"{argv[-1]} requires an argument"
    for required, commands in _usage_patterns(doc):
        if all(c in argv for c in commands):
            missing = [o for o in required if not any(a.split("=", 1)[0] == o for a in argv)]
            if missing:
                return "missing " + ", ".join(missing)
    if not argv:
        return "missing arguments"
    return "bad or missing arguments: " + " ".join(argv)


def _usage_patterns(doc):
    """(required options, command words) of each usage line: tokens outside [] and ()."""
    out, in_usage = [], False
    for line in doc.splitlines():
        text = line.strip()
        if text.lower().startswith("usage:"):
            in_usage = True
            continue
        if in_usage and not text:
            break
        if in_usage and text.startswith("mt-") and "-h" not in text.split()[1:2]:
            depth, required, commands = 0, [], []
            for token in text.replace("[", " [ ").replace("]", " ] ").replace("(", " ( ").replace(")", " ) ").split()[1:]:
                if token in ("[", "("):
                    depth += 1
                elif token in ("]", ")"):
                    depth -= 1
                elif depth == 0 and token.startswith("--"):
                    required.append(token)
                elif depth == 0 and token.isalpha() and token.islower():
                    commands.append(token)
            out.append((required, commands))
    return out


def check_subcommand(doc, argv, words, noun, missing, hint):
    """UsageError naming the unknown or missing first word (`unknown listing 'x'`,
    `missing what to list`) when ARGV has none of WORDS; else nothing. The values of
    options (`--area DIR`, as DOC's usage shows them) are not words."""
    import re
    if any(a in words for a in argv):
        return
    valued = set(re.findall(r"(--?[A-Za-z][\w-]*)[ =][A-Z<]", doc))
    given, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = a in valued
        else:
            given.append(a)
    what = f"unknown {noun} {given[0]!r}" if given else f"missing {missing}"
    raise UsageError(f"{what}: expected one of {', '.join(words)}", hint=hint)


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


def unknown_value_warnings(prog, name, values, kind, declared=()):
    """One warning per value of option NAME that is no known state or status (KIND) and not
    in DECLARED (the area's [validvalues] words): the fields are free text, so a typo
    (PASSED) would otherwise select nothing in silence."""
    from megatest import states
    return [f"{prog}: warning: {option_name(prog, name)} {value!r} is not a known {kind}"
            f"{states.suggestion(value, kind)}"
            for value in states.unknown(values, kind, declared)]
