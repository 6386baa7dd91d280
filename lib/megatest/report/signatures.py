"""Failure signatures: the first error line of a failing record's log, normalised, so that
the same fault in many records falls into one bucket (numbers, hex, paths, times and dates
stripped). Buckets are listed most frequent first.
"""
import re

from megatest.report import logs, results

# a line that says something went wrong, in the words logs use
_ERROR_LINE = re.compile(r"\b(error|fatal|fail(ed|ure|s)?|exception|assert(ion)?|abort(ed)?|"
                         r"panic|segmentation fault|traceback|mismatch|timed? ?out)\b", re.I)
_STRIP = [
    (re.compile(r"\b\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d(\.\d+)?)?)?\b"), "<date>"),
    (re.compile(r"\b\d\d?:\d\d(:\d\d(\.\d+)?)?\b"), "<time>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"(?<![\w.])(~|\.{1,2})?(/[\w.@+-]+)+/?"), "<path>"),
    (re.compile(r"\b\d+(\.\d+)?([eE][-+]?\d+)?\b"), "<n>"),
    (re.compile(r"[ \t]+"), " "),
]
MAX_LENGTH = 200


def normalise(line):
    """LINE with what differs between occurrences of one fault replaced by placeholders."""
    text = line.strip()
    for pattern, placeholder in _STRIP:
        text = pattern.sub(placeholder, text)
    return text[:MAX_LENGTH]


def first_error_line(path):
    """The first line of the log at PATH that reads like an error, else its last non-blank
    line; "" when it cannot be read."""
    lines = logs.head_lines(path)
    for line in lines:
        if _ERROR_LINE.search(line):
            return line.strip()
    rest = [line.strip() for line in lines if line.strip()]
    return rest[-1] if rest else ""


def signature(test):
    """The bucket of a failing record (a result of report.results with detail): its log's
    first error line normalised, else its comment normalised, else its status."""
    line = first_error_line(test["log"]) if test.get("log") else ""
    return normalise(line or test["comment"] or "") or f"status {test['status']}"


def buckets(runs):
    """Failing records of RUNS grouped by signature, most frequent first:
    [{"signature", "count", "example", "tests": [{"target", "runname", "test", ...}]}]."""
    groups = {}
    for run in runs:
        for t in results.counted(run["tests"]):
            if t["outcome"] not in results.FAILING:
                continue
            sig = signature(t)
            group = groups.setdefault(sig, {"signature": sig, "count": 0, "example": "",
                                            "tests": []})
            group["count"] += 1
            if not group["example"] and t.get("log"):
                group["example"] = first_error_line(t["log"])
            group["tests"].append({"target": run["target"], "runname": run["runname"],
                                   "test": results.name_of(t), "status": t["status"],
                                   "log": t.get("log", ""), "reproduce": t.get("reproduce", "")})
    return sorted(groups.values(), key=lambda g: (-g["count"], g["signature"]))
