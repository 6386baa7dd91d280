"""What a running test records about itself (state, steps, data, final log), as plain calls.

One call is `(cmd, params)` with JSON-friendly params, and `execute(conn, cmd, params)` runs it
against a live database connection. `mt-test` on the home host calls it through
`execute_here` (which delivers the test's journal first); `mt-serve` calls it for tests on
other hosts; a journal of undelivered calls replays through it. So every route runs the
same code.

A call names its record with `params["test"]`: {"id", "target", "runname", "testname",
"item_path"}. The id is used when given (no lookup: hot path); the names find the record
otherwise, check the id, and make messages readable.

No third-party package: `mt-test` imports this on every call.
"""
import os

from megatest import states
from megatest.errors import MtError
from megatest.store import db
from megatest.testside import datarows, journal

# A record being killed or removed keeps that state: a script's late write must not undo a
# kill request (the executor would then keep the script's verdict) nor revive a removed test.
PROTECTED_STATES = frozenset((states.KILLREQ, states.KILLED, states.CLEANING, states.REMOVING,
                              states.ARCHIVE_REMOVING, states.DELETED))
TEST_REF_FIELDS = ("id", "target", "runname", "testname", "item_path")


def test_ref(ident):
    """The `test` parameter of a call, from a testenv.TestIdentity."""
    return {"id": ident.test_id, "target": ident.target, "runname": ident.runname,
            "testname": ident.testname, "item_path": ident.item_path}


def label(test):
    return "/".join(test.get(k) or "" for k in ("target", "runname", "testname", "item_path")
                    if test.get(k))


def open_live(ident, environ=None):
    """(connection, path) of the live database a test started on this host writes to."""
    if ident.test_id and ident.db_path:
        return db.open_test_db(ident.db_path), ident.db_path
    from megatest.config.area import Area
    path = Area(ident.toppath).live_db_path(environ)
    return db.open_test_db(path), path


# ---------------------------------------------------------------- the one entry point

def execute(conn, cmd, params, where=""):
    """Run one call; returns its outcome, a JSON-friendly dict with at least "code".

    WHERE (the database path) only makes messages better. MtError for a record that is gone,
    KeyError/TypeError/ValueError for malformed params (the server answers those with 400)."""
    op = OPERATIONS.get(cmd)
    if op is None:
        raise ValueError(f"unknown call {cmd!r}")
    test = params["test"]
    test_id = resolve(conn, test, where)
    return op(conn, test_id, test, params, where)


def resolve(conn, test, where=""):
    """The record id of a call's `test` parameter (MtError when there is none)."""
    if test.get("id"):
        return int(test["id"])
    run = db.find_run(conn, test["target"], test["runname"])
    if run is None:
        raise MtError(f"run {test['target']}/{test['runname']} is not in the database",
                      path=where or None)
    row = db.find_test(conn, run["id"], test["testname"], test.get("item_path") or "")
    if row is None:
        raise MtError(f"test {test['testname']} (itempath {test.get('item_path') or ''!r}) is not "
                      f"registered in run {test['target']}/{test['runname']}", path=where or None)
    return row["id"]


def _row(conn, test_id, test, where):
    """The current row (call inside the transaction); MtError when it is gone or not this test."""
    row = db.get_test(conn, test_id)
    if row is None:
        raise MtError(f"test id {test_id} ({label(test)}) is not in the database",
                      path=where or None, hint="the run may have been removed; mt-list runs")
    named = test.get("testname")
    if named and (row["testname"], row["item_path"]) != (named, test.get("item_path") or ""):
        raise MtError(f"test id {test_id} is {row['testname']}/{row['item_path']}, "
                      f"not {label(test)}", path=where or None,
                      hint="the live database was rebuilt or replaced since this test started")
    return row


def _changed(old, new):
    """The outcome of a state change: what a caller needs to fire the record's triggers."""
    fire = (old["state"], old["status"]) != (new["state"], new["status"])
    return {"code": 0, "id": new["id"], "state": new["state"], "status": new["status"],
            "rundir": new["rundir"] or "", "fire": fire}


# ---------------------------------------------------------------- the operations

def set_status(conn, test_id, test, params, where=""):
    """Set exactly STATE/STATUS (numeric -> PASS/FAIL, AUTO -> from the data)."""
    state, status = params["state"], states.normalize_status(params["status"])
    _check_text(state, status)
    with db.transaction(conn):
        old = _row(conn, test_id, test, where)
        if old["state"] in PROTECTED_STATES:
            return {"code": 1, "refused": old["state"], "state": state, "status": status}
        fields = {}
        if status == states.AUTO:
            # while the test still runs AUTO stays, and the end of the test resolves it from
            # the data then (as Megatest defers it); a final state resolves it now
            resolved, passes, fails = datarows.rollup(conn, test_id, status)
            fields.update(pass_count=passes, fail_count=fails)
            if state not in (states.RUNNING, states.REMOTEHOSTSTART):
                status = resolved
        new = db.set_test_state(conn, test_id, state, status, params.get("comment"), **fields)
    return _changed(old, new)


def record_step(conn, test_id, test, params, where=""):
    """Add or replace the step row; ROWS (a log checker's data, parsed by the caller) go with it."""
    name, logfile = params["name"], params.get("logfile") or ""
    _check_text(name, params["state"], logfile)
    rows = _rows(params.get("rows"))
    with db.transaction(conn):
        _row(conn, test_id, test, where)
        db.add_step(conn, test_id, name, params["state"], params.get("status") or states.NA,
                    params.get("comment") or "", logfile)
        if logfile and params.get("final", True):
            db.update_test(conn, test_id, final_logf=logfile)
        datarows.store(conn, test_id, rows)
    return {"code": 0}


def store_data(conn, test_id, test, params, where=""):
    """Upsert normalized data rows and update the counts (the status waits, §11.7)."""
    rows = _rows(params["rows"])
    with db.transaction(conn):
        _row(conn, test_id, test, where)
        datarows.store(conn, test_id, rows)
    return {"code": 0, "rows": len(rows)}


def set_log(conn, test_id, test, params, where=""):
    path = params["path"]
    _check_text(path)
    with db.transaction(conn):
        _row(conn, test_id, test, where)
        fields = {"final_logf": path}
        if params.get("comment") is not None:
            fields["comment"] = params["comment"]
        db.update_test(conn, test_id, **fields)
    return {"code": 0}


def set_toplog(conn, test_id, test, params, where=""):
    """Set the final log of this test's toplevel record: an item writing the summary log of
    the whole iterated test (Megatest's -set-toplog)."""
    path = params["path"]
    _check_text(path)
    with db.transaction(conn):
        row = _row(conn, test_id, test, where)
        top = db.find_test(conn, row["run_id"], row["testname"], "")
        if top is not None:
            db.update_test(conn, top["id"], final_logf=path)
    return {"code": 0}


def set_comment(conn, test_id, test, params, where=""):
    """Set the record's comment alone (Megatest's -m given with -set-values or -load-test-data)."""
    comment = params["comment"]
    _check_text(comment)
    with db.transaction(conn):
        _row(conn, test_id, test, where)
        db.update_test(conn, test_id, comment=comment)
    return {"code": 0}


def show(conn, test_id, test, params, where=""):
    row = _row(conn, test_id, test, where)
    return {"code": 0, "id": row["id"], "state": row["state"], "status": row["status"],
            "rundir": row["rundir"] or ""}


def heartbeat(conn, test_id, test, params, where=""):
    """A wrapper on another host says its test is alive (the dead-test sweep reads this)."""
    with db.transaction(conn):
        db.heartbeat_tests(conn, [test_id])
    return {"code": 0}


OPERATIONS = {"status": set_status, "step": record_step, "data": store_data, "setlog": set_log,
              "toplog": set_toplog, "comment": set_comment, "show": show, "heartbeat": heartbeat}


def _check_text(*values):
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {type(value).__name__}")


def _rows(rows):
    """Data rows as given, checked to be {column: text} (they may come over the network)."""
    if not rows:
        return []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError("rows must be a list of objects")
    for row in rows:
        _check_text(*(row.get(c, "") for c in db.DATA_COLUMNS))
    return rows


# ---------------------------------------------------------------- journals, delivered here

def execute_here(conn, cmd, params, where, rundir, environ=None):
    """mt-test's call on the home host: the test's journal first, then the call, into the
    live db. When the live db refuses writes (full, read-only) the call goes to RUNDIR's
    journal behind what is left there, so the test goes on and loses nothing: its next call,
    the runner when it ends, or mt-serve deliver it. A journaled outcome carries a "note".
    A wrapper's start is never journaled: a test that cannot record its start does not run."""
    try:
        if rundir:
            deliver_journal(conn, rundir, environ)
        return execute(conn, cmd, params, where)
    except (OSError, db.sqlite3.Error) as err:
        return journal_refused(err, cmd, params, where, rundir)


def journal_refused(err, cmd, params, where, rundir):
    """The outcome of a call the live db refused (ERR: opening it or writing): kept in
    RUNDIR's journal with a note; ERR itself when it is no storage refusal or not kept."""
    reason = db.storage_reason(err)
    if reason is None or not rundir or cmd == "exec-start":
        raise err
    journal.append_journal(rundir, cmd, params)
    return {"code": 0, "journaled": True,
            "note": f"note: the live database {where} refused the write ({reason}); {cmd} kept "
                    f"in {journal.journal_path(rundir)} and delivered once it can be written"}


def deliver_journal(conn, rundir, environ=None, warn=None):
    """Apply the undelivered calls kept in RUNDIR's journal to CONN, in order, firing the
    triggers they cause; returns the number applied; WARN(text) hears of each entry dropped. The runner calls this when a test on
    another host ends, and mt-serve for running tests when it starts and every sweep."""
    if not os.path.exists(journal.journal_path(rundir)):
        return 0
    from megatest.launch import triggers
    from megatest.testside import rpc_params

    def deliver(cmd, params):
        """One call, checked as mt-serve checks a request: the journal is a file anyone
        may have edited, and a bad entry is dropped with its reason, never a traceback."""
        try:
            if cmd not in rpc_params.PARAMS or not isinstance(params, dict):
                raise ValueError(f"{cmd!r} with params {type(params).__name__}")
            rpc_params.check(cmd, params)
            outcome = execute(conn, cmd, params)
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise MtError(f"malformed journal entry: {err}") from None
        if outcome.get("fire"):
            triggers.fire(rundir or outcome["rundir"], outcome["id"], outcome["state"],
                          outcome["status"], os.environ if environ is None else environ)
        return outcome

    replay = journal.replay_journal(rundir, deliver)
    for error in replay.errors if warn else ():
        warn(f"warning: {journal.journal_path(rundir)}: dropped {error}")
    return replay.delivered


def _with_exec_operations():
    """The calls of mt-exec (start, heartbeat with kill check, finish) share this one entry."""
    from megatest.testside.execops import OPERATIONS as EXEC
    OPERATIONS.update(EXEC)


_with_exec_operations()
