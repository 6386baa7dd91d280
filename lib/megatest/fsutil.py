"""Atomic file writes: write a temp file beside the target, fsync, rename."""
import os
import tempfile


def write_atomic(path, text, mode=0o644, fsync=True):
    _publish(path, text, mode, fsync, os.replace)


def write_atomic_with(path, writer, mode=0o644, prefix=".tmp-"):
    """Like write_atomic, for a file written by writer(binary file object) (an archive):
    its temp file is named PREFIX... (a kill leaves only that name behind), and the rename
    is made durable with an fsync of the directory."""
    _publish(path, writer, mode, True, os.replace, prefix=prefix, binary=True)
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(path, content, mode, fsync, place, prefix=".tmp-", binary=False):
    """Write content (text, or a writer function with binary) to a temp file beside path,
    then place(tmp, path); the temp file never stays."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as out:
            if binary:
                content(out)
            else:
                out.write(content)
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
