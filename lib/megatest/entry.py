"""Shared entry point for every bin/mt-* script: errors to exit codes, no tracebacks for users."""
import importlib
import os
import sys


def run_command(name, argv, prog=None):
    """Import commands.<name>, call main(argv); MtError -> exit 2, Ctrl-C -> 130."""
    from megatest.errors import MtError
    prog = prog or "mt-" + name
    try:
        module = importlib.import_module("megatest.commands." + name)
        return module.main(argv)
    except MtError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        if err.hint:
            sys.stderr.write(f"  try: {err.hint}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except BrokenPipeError:
        # `mt-list ... | head` closed the pipe: not an error for the user.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
