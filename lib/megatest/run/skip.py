"""[skip] rules, checked just before launch (behaviour.md §11.10): every key present counts."""
import os
import time

from megatest import states
from megatest.store import db


def check(testdef, rec, conn, run_id):
    """The reason to skip this record, or "" to launch it."""
    rules = testdef.skip
    if not rules:
        return ""
    name, path = rec["testname"], rec["item_path"]
    if "prevrunning" in rules and db.running_elsewhere(conn, run_id, name, path, states.RUNNING_STATES):
        return "skipped: a previous run of this test is still running"
    target = (rules.get("fileexists") or "").strip()
    if target and os.path.exists(target):
        return f"skipped: file {target} exists"
    delay = (rules.get("rundelay") or "").strip()
    if delay:
        from megatest.config.parse import parse_hms
        seconds = parse_hms(delay) or 0
        if db.running_elsewhere(conn, run_id, name, path, states.RUNNING_STATES):
            return "skipped: rundelay, the test is running elsewhere"
        last = db.last_end_elsewhere(conn, name, path, rec["id"])
        if last and time.time() - last < seconds:
            return f"skipped: rundelay {delay}, last run ended {time.time() - last:.0f}s ago"
    return ""
