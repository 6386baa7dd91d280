"""Test data rows (`mt-test data load`): CSV parsing, per-row pass/fail, and the data rollup.

Imported by `mt-test`: standard library only, heavier modules imported when used
(behaviour.md §11.7).
"""
from megatest.errors import MtError

__all__ = ["FIELDS", "COMPARATORS", "compute_status", "parse_csv_rows", "normalize_row",
           "rollup_status"]

FIELDS = ("category", "variable", "value", "expected", "tol", "units", "comment", "status", "type")
COMPARATORS = (">", "<", ">=", "<=")
_UNDECIDED = ("", "n/a")


def _number(text):
    """Return TEXT as a Decimal when it is a finite number, else None.

    Decimal keeps `1.3 - 0.1` equal to `1.2`, as the user wrote it; binary floats
    would fail a value sitting exactly on the tolerance edge.
    """
    from decimal import Decimal, InvalidOperation

    if isinstance(text, bool) or text is None:
        return None
    try:
        number = Decimal(str(text).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _compare(value, op, expected):
    if op == ">":
        return value > expected
    if op == "<":
        return value < expected
    if op == ">=":
        return value >= expected
    return value <= expected


def compute_status(value, expected, tol):
    """Return "pass", "fail" or "" (undecided) for one row.

    Numeric TOL: pass if expected - tol <= value <= expected + tol. A comparator
    TOL (> < >= <=): pass if `value TOL expected`. Any other non-empty TOL with
    a numeric value and expected raises MtError("bad tol comparator X").
    """
    tol_text = "" if tol is None else str(tol).strip()
    num_value, num_expected = _number(value), _number(expected)
    if num_value is None or num_expected is None or not tol_text:
        return ""
    if tol_text in COMPARATORS:
        return "pass" if _compare(num_value, tol_text, num_expected) else "fail"
    num_tol = _number(tol_text)
    if num_tol is None:
        raise MtError(f"bad tol comparator {tol_text}",
                      hint="tol is a number or one of > < >= <=")
    low, high = num_expected - num_tol, num_expected + num_tol
    return "pass" if low <= num_value <= high else "fail"


def parse_csv_rows(text):
    """Parse CSV lines `category,variable,value,expected,tol,units,comment,status,type`.

    Blank lines and lines starting with `#` are skipped; fields are trimmed;
    missing fields are ""; fields past the ninth are ignored.
    """
    import csv

    lines = [line for line in (text or "").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    rows = []
    for fields in csv.reader(lines, skipinitialspace=True):
        fields = [f.strip() for f in fields[:len(FIELDS)]]
        fields += [""] * (len(FIELDS) - len(fields))
        rows.append(dict(zip(FIELDS, fields)))
    return rows


def normalize_row(row, warn=None):
    """Return a copy of ROW with its status computed when it is blank or `n/a`.

    A bad tol comparator raises MtError, unless WARN is given: then WARN(message)
    is called and the status stays "".
    """
    row = dict(row)
    status = (row.get("status") or "").strip()
    if status.lower() in _UNDECIDED:
        try:
            status = compute_status(row.get("value"), row.get("expected"), row.get("tol"))
        except MtError as err:
            if warn is None:
                raise
            warn(str(err))
            status = ""
    row["status"] = status
    return row


def rollup_status(current_status, rows):
    """Return (status, pass_count, fail_count) for a test's data rows.

    FAIL if any row failed; else PASS if any passed and the current status is
    not WARN or FAIL; else the current status unchanged.
    """
    statuses = [(row.get("status") or "").strip().lower() for row in rows]
    passed, failed = statuses.count("pass"), statuses.count("fail")
    if failed:
        return "FAIL", passed, failed
    if passed and (current_status or "").upper() not in ("WARN", "FAIL"):
        return "PASS", passed, failed
    return current_status, passed, failed
