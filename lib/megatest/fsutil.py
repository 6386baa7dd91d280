"""Atomic file writes: write a temp file beside the target, fsync, rename."""
import os
import tempfile


def write_atomic(path, text, mode=0o644, fsync=True):
    _publish(path, text, mode, fsync, os.replace)


def _publish(path, text, mode, fsync, place):
    """Write text to a temp file beside path, then place(tmp, path); the temp file never stays."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        place(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def create_exclusive(path, text):
    """Create path with text only if it does not exist yet; return the content that won.
    The text is whole before the name appears (a hard link, which fails if path exists), so
    a full disk or a crash never leaves an empty file behind that a later reader believes."""
    try:
        _publish(path, text, 0o644, True, os.link)
    except FileExistsError:
        with open(path) as f:
            return f.read()
    return text
