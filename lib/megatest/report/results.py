"""The result structure every listing, report and dashboard page is a view of.

One function reads: `read` selects runs and records from the database reads use (the live
db on the home host, else the per-host copy of megatest.db) and returns `Selection`; `runs`
turns it into the structure `mt-list runs --json` prints, plus, with detail, each record's
steps, data, attempts, failing log and reproduce command. The views never run SQL.
"""
import os
import shlex
from dataclasses import dataclass, field

from megatest import states

# The JSON fields of a record as mt-list prints them (cli.md), then the ones this module adds.
JSON_TEST_FIELDS = ("test_id", "testname", "item_path", "state", "status", "comment", "host",
                    "rundir", "run_duration", "event_time", "job_id")
# Outcomes, in the order reports list them.
OUTCOMES = ("fail", "error", "flaky", "waived", "skip", "pass", "running", "notrun")
FAILING = frozenset(("fail", "error"))
_PASSING_STATUSES = frozenset((states.PASS, states.WARN, states.CHECK, states.AUTO,
                               states.AUTO_WARN))
_SKIP_STATUSES = frozenset((states.SKIP,)) | states.BLOCKED_STATUSES
_OK_STEP_STATUSES = frozenset(("0", "PASS", "WARN", "2", "n/a", ""))


@dataclass
class Selection:
    """What `read` found: the rows of each selected run, and the rows that go with them."""
    runs: list = field(default_factory=list)   # [{"run", "keys", "tests", "steps", "archived"}] (runops)
    attempts: dict = field(default_factory=dict)   # test_id -> [attempt rows], oldest first
    data: dict = field(default_factory=dict)       # test_id -> [test_data rows]
    hosts: dict = field(default_factory=dict)      # (target, runname) -> runner host
    linktree: str = ""
    source: str = ""                               # the database file read
    note: str = ""                                 # "read off the home host" note, if any


def read(area, target="%", runname="%", testpatt="%", states_=(), statuses=(), detail=False,
         prog="mt-list", settings=None, warn=None, records=True):
    """Select runs (target and run-name patterns) and their records (testpatt, states,
    statuses). DETAIL also reads steps and test data; without RECORDS, only the runs are
    read. SETTINGS: the area's, when the caller has them. WARN receives the note of a read
    made off the home host."""
    from megatest.config import settings as settings_mod
    from megatest.run import runops
    from megatest.store import db, homehost
    warn = warn or (lambda message: None)
    settings = settings or settings_mod.load_settings(area, warn=warn)
    sel = Selection(linktree=settings.linktree)
    sel.note = homehost.away_note(area, settings, prog) or ""
    if sel.note:
        warn(sel.note)
    conn, path = open_source(area, settings)
    if conn is None:
        return sel
    sel.source = path
    try:
        sel.runs = runops.select_runs(conn, target, runname, testpatt, states_, statuses,
                                      steps=detail, records=records)
        run_ids = [s["run"]["id"] for s in sel.runs]
        if run_ids and records:
            sel.attempts = db.attempts_of_runs(conn, run_ids)
            sel.hosts = db.runner_hosts(conn)
        if detail:
            for s in sel.runs:
                sel.data.update(db.data_of_run(conn, s["run"]["id"]))
    finally:
        conn.close()
    return sel


def open_source(area, settings):
    """(read-only connection, its file) of the database reads use: the live db on the home
    host, else this host's refreshed copy of megatest.db; (None, "") before the first run."""
    from megatest.store import db, readcopy
    path = readcopy.path_for_reading(area, settings) or ""
    conn = db.open_for_reading(area, paths=[path]) if path else None
    return conn, path


def runs(sel, detail=False):
    """The selection as the result structure: a list of runs, each with its "tests"."""
    return [run_result(sel, s, detail) for s in sel.runs]


def run_result(sel, s, detail=False):
    run = s["run"]
    out = {"run_id": run["id"], "target": run["target"], "keys": s["keys"],
           "runname": run["runname"], "state": run["state"], "status": run["rollup_status"],
           "user_status": run["status"], "event_time": _int(run["event_time"]),
           "archived": s.get("archived", ""),
           "tests": [test_result(sel, s, row, detail) for row in s["tests"]]}
    if detail:
        out["host"] = sel.hosts.get((run["target"], run["runname"]), "")
        out["rundir"] = os.path.join(sel.linktree, run["target"], run["runname"])
        out["counts"] = counts(out["tests"])
    return out


def test_result(sel, s, row, detail=False):
    """One record (JSON_TEST_FIELDS, then attempt, exit_code, flaky, outcome). A dashboard
    builds a quarter of a million of these: one dict literal, outcome computed once."""
    earlier = sel.attempts.get(row["id"], ())
    own = outcome(row["state"], row["status"])
    flaky = own == "pass" and bool(earlier) and is_flaky(row, earlier)
    event_time = row["event_time"]
    out = {"test_id": row["id"], "testname": row["testname"], "item_path": row["item_path"],
           "state": row["state"], "status": row["status"], "comment": row["comment"] or "",
           "host": row["host"] or "", "rundir": row["rundir"] or "",
           "run_duration": row["run_duration"],
           "event_time": None if event_time is None else int(event_time),
           "job_id": row["job_id"] or "", "attempt": (row["attempt"] or 0) + 1,
           "exit_code": row["exit_code"], "flaky": flaky, "outcome": "flaky" if flaky else own}
    if detail:
        out["steps"] = steps(s["steps"].get(row["id"], []), row["rundir"] or "")
        out["data"] = [dict(d) for d in sel.data.get(row["id"], [])]
        for d in out["data"]:
            d.pop("test_id", None)
        out["attempts"] = [attempt_result(a) for a in earlier] + [_current_attempt(row)]
        out["log"] = failing_log(out["steps"], row)
        out["reproduce"] = reproduce(s["run"]["target"], s["run"]["runname"],
                                     row["testname"], row["item_path"])
    return out


def is_flaky(row, earlier):
    """Passed now after a failing attempt in the same run (Bazel's flaky): never silently
    green. EARLIER: the record's attempts rows."""
    return (outcome(row["state"], row["status"]) == "pass"
            and any(outcome(a["state"], a["status"]) in FAILING for a in earlier))


def outcome(state, status):
    """What a record's state and status mean to a report: fail, error, waived, skip, pass,
    running or notrun (flaky is decided from the attempts)."""
    if state in states.RUNNING_STATES or state in states.TRANSIENT_STATES:
        return "running"
    if states.is_pending(state, status):
        return "notrun"
    if status == states.WAIVED:
        return "waived"
    if status in _SKIP_STATUSES:
        return "skip"
    if state in states.BAD_END_STATES:
        return "error"
    if status in _PASSING_STATUSES:
        return "pass"
    if status == states.FAIL:
        return "fail"
    return "error"


def counts(tests):
    """{outcome: n} and {status: n} over the records a summary counts (items and
    non-iterated tests; a toplevel of an iterated test is its items' rollup)."""
    by_outcome, by_status = {}, {}
    for t in counted(tests):
        by_outcome[t["outcome"]] = by_outcome.get(t["outcome"], 0) + 1
        by_status[t["status"]] = by_status.get(t["status"], 0) + 1
    return {"outcome": by_outcome, "status": by_status,
            "total": sum(by_outcome.values())}


def counted(tests):
    """The records a summary counts: items and non-iterated tests."""
    iterated = {t["testname"] for t in tests if t["item_path"]}
    return [t for t in tests if t["item_path"] or t["testname"] not in iterated]


def steps(rows, rundir):
    """One entry per step from its start and end rows: times, duration, exit code, log."""
    out, by_name = [], {}
    for r in rows:
        step = by_name.get(r["stepname"])
        if step is None:
            step = by_name[r["stepname"]] = {
                "name": r["stepname"], "state": "RUNNING", "status": "", "exit_code": None,
                "start": r["event_time"], "end": None, "duration": None, "comment": "",
                "log": ""}
            out.append(step)
        if r["logfile"]:
            step["log"] = _under(rundir, r["logfile"])
        if r["state"] == "end":
            status = r["status"] or ""
            step.update(state="COMPLETED", end=r["event_time"], comment=r["comment"] or "")
            step["exit_code"] = int(status) if status.lstrip("-").isdigit() else None
            step["status"] = (states.exit_to_status(step["exit_code"], "runscript")
                              if step["exit_code"] is not None else status)
            if step["start"] is not None and step["end"] is not None:
                step["duration"] = round(step["end"] - step["start"], 3)
        elif r["state"] == "start":
            step["start"] = r["event_time"]
    return out


def failing_log(step_list, row):
    """The log to read for a record: its first failing step's (the plain .log beside a
    checker's .html when there is one), else its final log; "" when it has no directory."""
    rundir = row["rundir"] or ""
    if not rundir:
        return ""
    for step in step_list:
        if step["state"] == "COMPLETED" and (step["exit_code"] or 0) != 0 and step["log"]:
            return _plain(step["log"])
    final = row["final_logf"] or ""
    return _plain(_under(rundir, final)) if final else ""


def _plain(path):
    if path.endswith(".html"):
        plain = path[:-len(".html")] + ".log"
        if os.path.exists(plain):
            return plain
    return path


def _under(rundir, name):
    return name if os.path.isabs(name) else os.path.join(rundir, name)


def attempt_result(a):
    """An earlier attempt (an attempts row) as reports show it."""
    return _attempt(a["attempt"], a["state"], a["status"], a["comment"], a["host"],
                    a["exit_code"], a["started"], a["duration"], a["logdir"], a["final_logf"])


def _current_attempt(row):
    return _attempt(row["attempt"], row["state"], row["status"], row["comment"], row["host"],
                    row["exit_code"], row["event_time"], row["run_duration"], row["rundir"],
                    row["final_logf"])


def _attempt(number, state, status, comment, host, exit_code, started, duration, logdir, final):
    logdir = logdir or ""
    return {"attempt": (number or 0) + 1, "state": state, "status": status,
            "outcome": outcome(state, status), "comment": comment or "", "host": host or "",
            "exit_code": exit_code, "started": started, "duration": duration, "logdir": logdir,
            "log": _under(logdir, final) if logdir and final else ""}


def reproduce(target, runname, testname, item_path):
    """The command that runs this record again, quoted for a POSIX shell."""
    patt = f"{testname}/{item_path}" if item_path else testname
    return " ".join(["mt-run", "--target", shlex.quote(target), "--runname", shlex.quote(runname),
                     "--testpatt", shlex.quote(patt), "--rerun-all"])


def name_of(test):
    """test or test/itempath."""
    return f"{test['testname']}/{test['item_path']}" if test["item_path"] else test["testname"]


def _int(value):
    return None if value is None else int(value)
