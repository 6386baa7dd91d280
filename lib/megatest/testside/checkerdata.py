"""A log checker's NAME.dat (logpro's verdict and measured values) as test-data rows.

Read literally, never through the config reader: the checker copies log text into the file,
and #{shell ...} or [system ...] in a log must not run. Standard library only (mt-test and
the megatest front end import it inside tests)."""
import os

from megatest.errors import MtError


def dat_rows(path, stepname):
    """Test data rows from PATH: one row per rule section, and the [final] verdict."""
    rows = []
    for section, keys in _sections(path).items():
        if not keys:
            continue
        if section == "final":
            rows.append({"category": stepname, "variable": "final",
                         "value": keys.get("exit-code", ""), "expected": "", "tol": "",
                         "units": "", "comment": keys.get("message", ""),
                         "status": keys.get("exit-status", ""), "type": "logpro"})
            continue
        rows.append({"category": stepname, "variable": section,
                     "value": keys.get("measured", ""), "expected": keys.get("expected", ""),
                     "tol": keys.get("tolerance", ""), "units": keys.get("units", ""),
                     "comment": keys.get("comment") or keys.get("desc", ""),
                     "status": keys.get("status", ""), "type": keys.get("type", "logpro")})
    return rows


def _sections(path):
    """`[section]` lines, then `key value` lines (a repeated key: the last wins)."""
    sections, current = {}, "default"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise MtError(f"cannot read {path}: {e.strerror}", path) from None
    for line in lines:
        text = line.strip()
        if text.startswith("[") and text.endswith("]"):
            current = text[1:-1].strip()
            sections.setdefault(current, {})
        elif text and not text.startswith("#"):
            key, value = (text.split(None, 1) + [""])[:2]
            keys = sections.setdefault(current, {})
            keys.pop(key, None)
            keys[key] = value
    return sections


def checker_rows(path, stepname):
    """(normalized rows, problem) for PATH when it exists; a broken file must not lose the
    step row, so its problem is returned, not raised."""
    if not os.path.isfile(path):
        return [], None
    from megatest.testside import testdata
    try:
        rows = dat_rows(path, stepname)
        return [testdata.normalize_row(r, warn=lambda m: None) for r in rows], None
    except MtError as err:
        return [], str(err)


def verdict_message(rows):
    """The checker's own message for its verdict (the [final] comment), or ""."""
    return next((r["comment"] for r in rows if r["variable"] == "final" and r["comment"]), "")
