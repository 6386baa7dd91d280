"""Files of a record's run directory for the dashboard, read-only, and nothing else.

A path from a URL is taken relative to one record's run directory. It is refused when it is
absolute, has a `..` part or a NUL, and after every symlink is resolved (realpath) it must
still lie inside that run directory, which itself must lie inside the area's run
directories: a [disks] path, `<area>/runs` or the link tree. So neither a crafted URL, nor
a link a test left in its directory, nor a record whose rundir a bad write pointed
elsewhere, reaches any other file.
"""
import os
import stat

from megatest.launch.rundir import DEFAULT_DISK_DIR
from megatest.report import logs

MAX_INLINE = 256 * 1024       # bytes of a file shown inside a page (its environment)
TAIL_LINES = 60               # lines of the failing log a test page shows
# What a file is served as; anything else is text/plain. Every file goes out with
# `Content-Security-Policy: sandbox`, so an HTML log's scripts never run as the dashboard.
TYPES = {".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
         ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
         ".svg": "image/svg+xml", ".gz": "application/gzip"}
TEXT = "text/plain; charset=utf-8"


class Forbidden(Exception):
    """A path the dashboard will not serve; the message says which rule refused it."""


def roots(settings):
    """The area's run directories, resolved: [disks] paths, <area>/runs, the link tree."""
    paths = [p for _, p in settings.disks]
    paths += [os.path.join(settings.area.toppath, DEFAULT_DISK_DIR), settings.linktree]
    return [os.path.realpath(p) for p in paths if p]


def _inside(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def run_dir(settings, rundir):
    """The record's run directory, resolved; Forbidden unless inside the area's roots."""
    if not rundir:
        raise Forbidden("this record has no run directory yet")
    real = os.path.realpath(rundir)
    if not any(_inside(real, top) for top in roots(settings)):
        raise Forbidden("the record's run directory is outside the area's run directories")
    return real


def resolve(settings, rundir, rel):
    """The real path of REL inside the record's run directory RUNDIR; Forbidden when a rule
    refuses it (see the module's docstring), FileNotFoundError when it does not exist."""
    if "\0" in rel:
        raise Forbidden("a NUL in a path")
    if rel.startswith("/"):
        raise Forbidden("an absolute path: paths are relative to the run directory")
    if ".." in rel.split("/"):
        raise Forbidden("a '..' in a path")
    base = run_dir(settings, rundir)
    real = os.path.realpath(os.path.join(base, rel))
    if not _inside(real, base):
        raise Forbidden("the path leads outside the record's run directory")
    if not os.path.exists(real):
        raise FileNotFoundError(rel)
    return real


def relative(rundir, path):
    """PATH as a path under RUNDIR (as written: no symlink resolved), or None outside it."""
    if not rundir or not path:
        return None
    path = os.path.normpath(os.path.join(rundir, path))
    rundir = os.path.normpath(rundir)
    if not path.startswith(rundir + "/"):
        return None
    return path[len(rundir) + 1:]


def listing(real):
    """[(name, is_dir, size, mtime)] of a directory, directories first, by name."""
    out = []
    with os.scandir(real) as entries:
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            out.append((entry.name, stat.S_ISDIR(st.st_mode), st.st_size, st.st_mtime))
    return sorted(out, key=lambda e: (not e[1], e[0]))


def content_type(real):
    return TYPES.get(os.path.splitext(real)[1].lower(), TEXT)


def read_text(settings, rundir, rel, limit=MAX_INLINE):
    """(text, cut) of a file inside the run directory: its first LIMIT bytes, and whether
    there is more; ("", False) when it is missing or refused."""
    try:
        with open(resolve(settings, rundir, rel), "rb") as f:
            data = f.read(limit + 1)
    except (Forbidden, OSError):
        return "", False
    return data[:limit].decode("utf-8", "replace"), len(data) > limit


def tail(settings, rundir, rel, lines=TAIL_LINES):
    """The last LINES lines of a file in the run directory ("" when missing or refused)."""
    try:
        real = resolve(settings, rundir, rel)
    except (Forbidden, OSError):
        return ""
    return logs.tail(real, lines)
