"""The dashboard's views of the result model: the runs x tests grid, what changed since a
change number (its live refresh), one run, one test with its history, and pass rates per
target.

Reads go where results.read's go (the live db on the home host, else the per-host copy of
megatest.db) and every record becomes results' structure (outcome, flaky, attempt ...).
Only the selection is narrower than results.read's, because the grid must stay quick on a
big area (100 runs x 2,500 records is 250,000 records): it reads the newest N runs it has
columns for, and a test's history reads that one record in each run.
"""
import os
from dataclasses import dataclass, field

from megatest.config import patterns
from megatest.report import colours, history, results
from megatest.store import changes, dashreads, db, homehost

DEFAULT_COLUMNS = 10      # runs shown as columns, newest first, unless the page asks
MAX_COLUMNS = 100
MAX_CHANGES = 2000        # a poll that finds more changed records tells the page to reload
HISTORY_RUNS = 30         # runs of the target in a test's history strip
TREND_RUNS = 50           # runs per target in the pass-rate plot


class NotFound(LookupError):
    """The run or record asked for is not in the database read."""


@dataclass(frozen=True)
class Filters:
    """What the grid shows: runs by target and run-name pattern (newest first, COLUMNS of
    them after SKIP), records by test pattern and status, and which tests show their items
    (EXPAND: test names, or "%" for all)."""
    target: str = "%"
    runname: str = "%"
    testpatt: str = "%"
    statuses: tuple = ()
    columns: int = DEFAULT_COLUMNS
    skip: int = 0
    expand: tuple = ()

    def selects_run(self, run):
        return patterns.match_target(self.target or "%", run["target"]) and \
            patterns.match_name(self.runname or "%", run["runname"])

    def selects(self, testname, item_path, status):
        return patterns.compile_testpatt(self.testpatt or "%")(testname, item_path) and \
            (not self.statuses or status in self.statuses)

    def selects_all(self):
        """Does it select every record of the runs it shows (no test or status filter)?"""
        return self.testpatt.strip() in ("%", "") and not self.statuses

    def expanded(self, testname):
        return "%" in self.expand or testname in self.expand


@dataclass
class Reading:
    """One read of the area's database: the connection (None before the first run), the
    file it reads and, off the home host, the note saying so."""
    conn: object = None
    source: str = ""
    note: str = ""
    keys: list = field(default_factory=list)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.conn is not None:
            self.conn.close()
        return False


def reading(area, settings):
    """Open the database reads use (see readcopy) read-only, with the off-home note."""
    out = Reading(note=away_note(area, settings))
    out.conn, out.source = results.open_source(area, settings)
    if out.conn is not None:
        out.keys = db.get_keys(out.conn)
    return out


def away_note(area, settings):
    """The banner of a page served off the home host, naming it; "" on the home host."""
    home = homehost.home_host(area, settings)
    if not home or homehost.is_home(home):
        return ""
    return (f"Served off the home host: this area's home host is {home}. This host "
            f"({homehost.this_host()}) shows its copy of the shared megatest.db, refreshed "
            "when that file changes (a few seconds behind the live database).")


# ---------------------------------------------------------------- the grid

def grid(area, settings, f):
    """{"seq", "note", "runs" (newest first, each without its records), "total_runs" (runs
    matching the filters), "rows": [{"test", "item", "items" (selected items of an iterated
    test, on its toplevel row), "cells": [cell or None, one per run]}]}. A test has a row
    when the filters select its toplevel record or one of its items; items have rows of
    their own only when the test is expanded, so a collapsed test costs one record per run."""
    with reading(area, settings) as r:
        out = {"seq": 0, "note": r.note, "source": r.source, "runs": [], "total_runs": 0,
               "rows": []}
        if r.conn is None:
            return out
        with changes.snapshot(r.conn):
            out["seq"] = changes.current(r.conn)
            matching = [run for run in reversed(db.list_runs(r.conn)) if f.selects_run(run)]
            shown = matching[f.skip:f.skip + f.columns]
            ids = [run["id"] for run in shown]
            expand = "%" if "%" in f.expand else list(f.expand)
            records = dashreads.toplevels_of_runs(r.conn, ids, expand)
            if f.selects_all():           # the common case: counted by SQLite
                counts, items = dashreads.item_counts(r.conn, ids), []
            else:
                counts, items = None, dashreads.items_of_runs(r.conn, ids)
            attempts = db.attempts_of_runs(r.conn, ids) if ids else {}
    out["total_runs"] = len(matching)
    by_run = {run_id: [] for run_id in ids}
    selected_items = {}               # test -> its selected items (of expanded tests at least)
    for row in records:
        if f.selects(row["testname"], row["item_path"], row["status"]):
            by_run[row["run_id"]].append(row)
            if row["item_path"]:
                selected_items.setdefault(row["testname"], set()).add(row["item_path"])
    for _, name, path, status in items:
        if f.selects(name, path, status):
            selected_items.setdefault(name, set()).add(path)
    if counts is None:
        counts = {name: len(paths) for name, paths in selected_items.items()}
    sel = results.Selection(attempts=attempts, runs=[
        {"run": run, "keys": {k: run[k] for k in r.keys}, "tests": by_run[run["id"]],
         "steps": {}} for run in shown])
    runs = results.runs(sel)
    out["rows"] = _rows(runs, counts, selected_items, f)
    for run in runs:
        del run["tests"]
        run["colour"], run["label"] = run_look(run["state"], run["status"])
    out["runs"] = runs
    return out


def _rows(runs, counts, selected_items, f):
    """Rows by test name: each test's toplevel (or only) record, then, when the test is
    expanded, one row per selected item. COUNTS: selected items per test."""
    cells = {}
    for col, run in enumerate(runs):
        for t in run["tests"]:
            cells.setdefault((t["testname"], t["item_path"]), {})[col] = cell(t)
    names = sorted({name for name, _ in cells} | {n for n, count in counts.items() if count})
    out = []
    for name in names:
        out.append(_row(name, "", counts.get(name, 0), cells.get((name, ""), {}), len(runs)))
        if f.expanded(name):
            out.extend(_row(name, item, 0, cells.get((name, item), {}), len(runs))
                       for item in sorted(selected_items.get(name, ())))
    return out


def _row(test, item, n_items, by_col, n_cols):
    return {"test": test, "item": item, "items": n_items,
            "cells": [by_col.get(col) for col in range(n_cols)]}


def cell(t):
    """What a grid cell shows of a record: Megatest's colour and label, plus the outcome."""
    colour, label = colours.colour(t["state"], t["status"])
    return {"id": t["test_id"], "state": t["state"], "status": t["status"],
            "outcome": t["outcome"], "flaky": t["flaky"], "colour": colour, "label": label}


# ---------------------------------------------------------------- live refresh

def changed(area, settings, f, since):
    """What changed after change number SINCE: {"seq", "reload", "tests": [cell plus
    "run_id", "testname", "item_path", "show" (the filters select it)], "runs": [...],
    "actions": [...]}. "reload" says the page must be built again: too many changes, or a
    database that went back (rebuilt)."""
    with reading(area, settings) as r:
        out = {"seq": 0, "note": r.note, "reload": False, "tests": [], "runs": [],
               "actions": []}
        if r.conn is None:
            return out
        with changes.snapshot(r.conn):
            out["seq"] = seq = changes.current(r.conn)
            if since > seq:
                return dict(out, reload=True)
            if since == seq:
                return out
            rows = changes.tests_since(r.conn, since, MAX_CHANGES + 1)
            if len(rows) > MAX_CHANGES:
                return dict(out, reload=True)
            attempts = dashreads.attempts_of_tests(r.conn, [row["id"] for row in rows])
            runs = changes.runs_since(r.conn, since)
            actions = changes.actions_since(r.conn, since)
    sel = results.Selection(attempts=attempts)
    for row in rows:
        t = results.test_result(sel, None, row)
        shown = t["state"] != "DELETED" and f.selects(t["testname"], t["item_path"], t["status"])
        out["tests"].append(dict(cell(t), run_id=row["run_id"], testname=t["testname"],
                                 item_path=t["item_path"], show=shown))
    out["runs"] = [dict(run_summary(run), show=run["state"] != "deleted" and f.selects_run(run))
                   for run in runs]
    out["actions"] = [action(a) for a in actions]
    return out


def run_look(state, status):
    """(colour, label) of a run's header: a completed run by its rollup status, any other
    by its state (new, running, incomplete) in the colour of the matching test state."""
    if state == "completed":
        return colours.colour("COMPLETED", status)
    colour, _ = colours.colour(_RUN_STATES.get(state, state.upper()), status)
    return colour, state


_RUN_STATES = {"new": "NOT_STARTED", "running": "RUNNING"}


def run_summary(run):
    colour, label = run_look(run["state"], run["rollup_status"])
    return {"run_id": run["id"], "target": run["target"], "runname": run["runname"],
            "state": run["state"], "status": run["rollup_status"], "colour": colour,
            "label": label}


def action(row):
    """A queued action as the page shows it: queued, running, done or failed."""
    shown = {"new": "queued", "claimed": "running"}.get(row["state"], row["state"])
    return {"id": row["id"], "action": row["action"], "target": row["target"],
            "runname": row["runname"], "testpatt": row["testpatt"], "state": shown,
            "exit_code": row["exit_code"], "created": row["created"],
            "finished": row["finished_at"]}


def actions(area, settings, ids=(), limit=20):
    """The queued actions of IDS, else the newest LIMIT, newest first."""
    with reading(area, settings) as r:
        if r.conn is None:
            return []
        return [action(a) for a in dashreads.actions(r.conn, ids, limit)]


# ---------------------------------------------------------------- one run, one test

def sequence(area, settings):
    """The change number of the database reads use (0 before the first run)."""
    with reading(area, settings) as r:
        return changes.current(r.conn) if r.conn is not None else 0


def run_of(area, settings, run_id):
    """run_summary of the run RUN_ID; NotFound when it is not there (or removed)."""
    with reading(area, settings) as r:
        run = db.get_run(r.conn, run_id) if r.conn is not None else None
    if run is None or run["state"] == "deleted":
        raise NotFound(f"no run with id {run_id}")
    return run_summary(run)


def record(area, settings, test_id):
    """The record TEST_ID in results' structure (without detail), with "run" (its
    run_summary); NotFound when it is not there (or removed)."""
    with reading(area, settings) as r:
        test, run = dashreads.test_and_run(r.conn, test_id) if r.conn is not None \
            else (None, None)
        attempts = dashreads.attempts_of_tests(r.conn, [test_id]) if test else {}
    if test is None or test["state"] == "DELETED":
        raise NotFound(f"no test record with id {test_id}")
    out = results.test_result(results.Selection(attempts=attempts), None, test)
    return dict(out, run=run_summary(run))


def run_detail(area, settings, run_id):
    """The run RUN_ID in results' structure with its records, counts, host and rundir,
    plus "seq" (the change number read) and "note" (off the home host)."""
    with reading(area, settings) as r:
        run = db.get_run(r.conn, run_id) if r.conn is not None else None
        seq = changes.current(r.conn) if r.conn is not None else 0
        note = r.note
    if run is None or run["state"] == "deleted":
        raise NotFound(f"no run with id {run_id}")
    sel = results.read(area, _literal(run["target"]), _literal(run["runname"]),
                       prog="mt-serve", settings=settings)
    for s in sel.runs:
        if s["run"]["id"] == run_id:
            out = results.run_result(sel, s)
            out.update(host=sel.hosts.get((run["target"], run["runname"]), ""),
                       rundir=os.path.join(sel.linktree, run["target"], run["runname"]),
                       counts=results.counts(out["tests"]), note=note, seq=seq)
            return out
    raise NotFound(f"no run with id {run_id}")


def test_detail(area, settings, test_id):
    """The record TEST_ID with detail (steps, data, attempts, log, reproduce), its run
    (without records) and its history across the target's newest runs."""
    with reading(area, settings) as r:
        test, run = dashreads.test_and_run(r.conn, test_id) if r.conn is not None \
            else (None, None)
        seq = changes.current(r.conn) if r.conn is not None else 0
        note = r.note
    if test is None or test["state"] == "DELETED":
        raise NotFound(f"no test record with id {test_id}")
    sel = results.read(area, _literal(run["target"]), _literal(run["runname"]),
                       _literal(test["testname"]), detail=True, prog="mt-serve",
                       settings=settings)
    for s in sel.runs:
        for row in s["tests"]:
            if row["id"] == test_id:
                out = results.test_result(sel, s, row, detail=True)
                out.update(run=run_summary(run), note=note, seq=seq, cell=cell(out),
                           history=test_history(area, settings, run["target"],
                                                test["testname"], test["item_path"]))
                return out
    raise NotFound(f"no test record with id {test_id}")


def test_history(area, settings, target, testname, item_path, last=HISTORY_RUNS):
    """history.history's entry for one record across the LAST newest runs of TARGET, with
    each run's cell (None where the run lacks the record) and the one-letter strip."""
    with reading(area, settings) as r:
        if r.conn is None:
            return {"runs": [], "strip": ""}
        with changes.snapshot(r.conn):
            runs = [run for run in db.list_runs(r.conn) if run["target"] == target][-last:]
            rows = dashreads.record_in_runs(r.conn, testname, item_path,
                                            [run["id"] for run in runs])
            attempts = dashreads.attempts_of_tests(r.conn, [row["id"] for row in rows])
    by_run = {row["run_id"]: [row] for row in rows}
    sel = results.Selection(attempts=attempts, runs=[
        {"run": run, "keys": {}, "tests": by_run.get(run["id"], []), "steps": {}}
        for run in runs])
    structured = results.runs(sel)
    entry = next(iter(history.history(structured)), None)
    if entry is None:
        return {"runs": [], "strip": ""}
    for cell_, run in zip(entry["runs"], structured):
        cell_["cell"] = cell(run["tests"][0]) if run["tests"] else None
    return dict(entry, strip=history.strip(entry["runs"]))


def _literal(name):
    """A pattern that selects NAME (and maybe more: callers pick by id). A name holding a
    pattern's list separator or negation is selected through the match-all pattern."""
    return "%" if "," in name or name.startswith("~") or not name else name


# ---------------------------------------------------------------- pass rate per target

def pass_rates(area, settings, target="%", last=TREND_RUNS):
    """{target: [{"run_id", "runname", "event_time", "passed", "finished", "total",
    "rate"}] oldest first} over the LAST newest runs of each target matching TARGET. The
    rate is the share of finished records that passed (PASS, WARN, CHECK; a flaky pass
    counts); None while none has finished."""
    with reading(area, settings) as r:
        if r.conn is None:
            return {}
        with changes.snapshot(r.conn):
            by_target = {}
            for run in db.list_runs(r.conn):
                if patterns.match_target(target or "%", run["target"]):
                    by_target.setdefault(run["target"], []).append(run)
            chosen = [run for runs in by_target.values() for run in runs[-last:]]
            counts = dashreads.status_counts(r.conn, [run["id"] for run in chosen])
    out = {}
    for run in chosen:
        totals = {}
        for state, status, n in counts[run["id"]]:
            kind = results.outcome(state, status)
            totals[kind] = totals.get(kind, 0) + n
        total = sum(totals.values())
        finished = total - totals.get("running", 0) - totals.get("notrun", 0)
        passed = totals.get("pass", 0)
        out.setdefault(run["target"], []).append({
            "run_id": run["id"], "runname": run["runname"], "event_time": run["event_time"],
            "passed": passed, "finished": finished, "total": total,
            "rate": passed / finished if finished else None})
    return dict(sorted(out.items()))
