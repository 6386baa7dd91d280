"""Selecting runs and records, and the run operations besides removal (behaviour.md §13.11):
setting records' state and status by hand, a run's own free-form status, how much of a run is
still unfinished, the run directories of records.

Removal, kill requests and locks are in clean.py; mt-list, mt-clean and `megatest` share these.
"""
from megatest import states
from megatest.config import patterns
from megatest.store import archived, db


def select_runs(conn, target_patt, runname_patt, testpatt, states=(), statuses=(), steps=False,
                records=True):
    """Runs matching the target and run-name patterns, each with its selected records:
    [{"run": row, "keys": {k: v}, "tests": [row...], "steps": {test_id: [row...]},
    "archived": the path of the run's archive, "" when it is not archived}].
    Without RECORDS, the runs alone ("tests" empty): choosing a run costs no record read."""
    keys = db.get_keys(conn)
    archives = archived.archive_paths(conn)
    match = patterns.compile_testpatt(testpatt or "%")
    selected = []
    for run in db.list_runs(conn):
        if not (patterns.match_target(target_patt, run["target"]) and
                patterns.match_name(runname_patt or "%", run["runname"])):
            continue
        tests = [t for t in (db.tests_of_run(conn, run["id"]) if records else ())
                 if match(t["testname"], t["item_path"])
                 and (not states or t["state"] in states) and (not statuses or t["status"] in statuses)]
        by_test = {}
        if steps:
            for s in db.steps_of_run(conn, run["id"]):
                by_test.setdefault(s["test_id"], []).append(s)
        selected.append({"run": run, "keys": {k: run[k] for k in keys}, "tests": tests,
                         "steps": by_test, "archived": archives.get(run["id"], "")})
    return selected


def set_state_status(conn, run, testpatt, state, status, only_states=(), only_statuses=()):
    """Set STATE/STATUS on the selected records of RUN (test pattern, and when given the
    states and statuses they must have now), in one transaction; items roll their toplevel
    up. A locked run is left alone (None). Returns the records that changed, as written,
    for the caller to fire their triggers once the change is committed."""
    if run["locked"]:
        return None
    match = patterns.compile_testpatt(testpatt or "%")
    changed = []
    with db.transaction(conn):
        for row in db.tests_of_run(conn, run["id"]):
            if not match(row["testname"], row["item_path"]):
                continue
            if (only_states and row["state"] not in only_states) or \
                    (only_statuses and row["status"] not in only_statuses):
                continue
            new = db.set_test_state(conn, row["id"], state, status)
            if (new["state"], new["status"]) != (row["state"], row["status"]):
                changed.append(new)
    return changed


def set_run_status(conn, run_id, status, comment=None):
    """The run's own status: free text that only users set (§13.10), with an optional comment."""
    fields = {"status": status}
    if comment is not None:
        fields["comment"] = comment
    with db.transaction(conn):
        db.set_run(conn, run_id, **fields)


def unfinished(conn, run_id, testpatt):
    """How many selected records of the run are not final yet (pending or running)."""
    match = patterns.compile_testpatt(testpatt or "%")
    return sum(1 for r in db.tests_of_run(conn, run_id)
               if match(r["testname"], r["item_path"]) and not states.is_final(r["state"], r["status"]))


def test_paths(conn, target_patt, runname_patt, testpatt, state_patts=(), status_patts=()):
    """Link-tree paths of the selected records (Megatest's -test-paths): the newest run first,
    and in each run the most recently started record first. State and status are patterns
    (`%` wildcard); records without a run directory yet are left out."""
    paths = []
    for sel in reversed(select_runs(conn, target_patt, runname_patt, testpatt)):
        rows = [t for t in sel["tests"] if t["rundir"]
                and _any_match(state_patts, t["state"]) and _any_match(status_patts, t["status"])]
        rows.sort(key=lambda t: (t["event_time"] or 0, t["id"]), reverse=True)
        paths.extend(t["rundir"] for t in rows)
    return paths


def _any_match(patts, text):
    return not patts or any(patterns.match_name(p, text) for p in patts)
