"""Reading a record's log for a report: the last lines, and text safe for XML and HTML.

Logs may be huge, binary, half-written or gone: a tail reads at most TAIL_BYTES from the end,
decodes leniently, and a missing file is a line saying so, never an error.
"""
import os
import re

TAIL_LINES = 50
TAIL_BYTES = 256 * 1024
# characters XML 1.0 cannot carry (all C0 controls but tab, newline and carriage return)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def tail(path, lines=TAIL_LINES):
    """The last LINES lines of PATH as text ("" for an empty log), or a one-line note when
    it cannot be read."""
    if not path:
        return "(no log recorded)"
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            data = f.read()
    except OSError as err:
        return f"(log {path} cannot be read: {err.strerror or err})"
    text = data.decode("utf-8", "replace")
    if size > TAIL_BYTES:
        text = text.split("\n", 1)[-1]        # the first line read may be cut
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])


def head_lines(path, limit=TAIL_BYTES):
    """The first LIMIT bytes of PATH as lines; [] when it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError:
        return []
    return data.decode("utf-8", "replace").split("\n")


def xml_safe(text):
    return _NOT_XML.sub("?", text or "")
