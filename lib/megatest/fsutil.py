"""Atomic file writes: write a temp file beside the target, fsync, rename."""
import os
import tempfile


def write_atomic(path, text, mode=0o644, fsync=True):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def create_exclusive(path, text):
    """Create path with text only if it does not exist yet; return the content that won."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        with open(path) as f:
            return f.read()
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return text
