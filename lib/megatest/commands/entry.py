"""Shared entry point for every bin/mt-* script: errors to exit codes, no tracebacks for users."""
import importlib
import os
import sys


def run_command(name, argv, prog=None):
    """Import commands.<name>, call main(argv); MtError -> exit 2 (or the error's exit_code),
    storage refusing a write -> one line and exit 2, Ctrl-C -> 130."""
    from megatest.errors import MtError
    prog = prog or "mt-" + name
    try:
        module = importlib.import_module("megatest.commands." + name)
        return module.main(argv)
    except MtError as err:
        return _error(prog, err)
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except BrokenPipeError:
        # `mt-list ... | head` closed the pipe: not an error for the user.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as err:
        # the safety net: a full, read-only or unopenable place that no code path turned
        # into its own message still gets one line naming it, not a traceback
        from megatest.store import db
        failure = _storage_failure(err) or db.damaged(err)
        if failure is None:
            raise
        return _error(prog, failure)


def _error(prog, err):
    sys.stderr.write(f"{prog}: error: {err}\n")
    if err.hint:
        sys.stderr.write(f"  try: {err.hint}\n")
    return getattr(err, "exit_code", 2)


def _storage_failure(err):
    """A StorageError for an OSError or sqlite3 error that means the storage refused, else None."""
    from megatest.store import db
    reason = db.storage_reason(err)
    if reason is None:
        return None
    what = "database error" if isinstance(err, db.sqlite3.Error) else "file system error"
    return db.StorageError(what, db.storage_path(err), reason)
