"""The stall guard: a run whose records can no longer progress ends with a message instead
of waiting for ever. Functions of the runner's state (runner.py), as watching.py's are.
"""
from megatest import states
from megatest.store import db


def stalled(runner):
    """Nothing runs, nothing can start, yet records are not final: nothing this runner
    waits on can happen any more (a record set back to NOT_STARTED after its launch, by
    its test or another writer, and what waits on it). Seen at two checks in a row, with
    the records re-read from the db, the run ends: the records say why (summary), one
    line says it stalled. A record running elsewhere (another host, a scheduler, a
    sweep to come) is something that can still happen: no stall while one exists."""
    records = runner.records
    if runner.jobs.running or runner.queue.ready or records.dirty or runner.after_commit \
            or runner.stop or records.watchers.get(("exclusive", "")):
        runner.stall_seen = False
        return False
    stuck = [k for k in records.counted() if not records.final(k)]
    if not stuck or _changed_outside(runner, stuck) or any(   # re-read: a record run elsewhere
            states.is_running(records.recs[k]["state"]) for k in stuck):   # ends only there
        runner.stall_seen = False
        return False
    if not runner.stall_seen:
        runner.stall_seen = True       # once more at the next poll, to be sure
        return False
    for key in stuck:
        records.recs[key]["comment"] = f"cannot progress: {_stall_reason(runner, key)}"
    runner.say(f"error: run {runner.plan.target}/{runner.plan.runname} stalled: nothing runs and "
               f"nothing can start, yet {len(stuck)} of its records cannot finish (listed "
               f"below); the run ends incomplete")
    runner.stop = True
    return True


def _changed_outside(runner, keys):
    """Re-read KEYS from the db; True when one changed there (the runner then judges
    it again: it may have been finished, or set running, by someone else)."""
    changed = False
    for key in keys:
        r = runner.records.recs[key]
        row = db.get_test(runner.conn, r["id"])
        if row and (row["state"], row["status"]) != (r["state"], r["status"]):
            r.update(dict(row))
            runner.records.notify(key)
            runner.records.dirty.add(key)
            changed = True
    return changed


def _stall_reason(runner, key):
    from megatest.run import readiness
    r = runner.records.recs[key]
    if r["state"] in states.TRANSIENT_STATES:
        return f"another command is removing it ({r['state']})"
    if key in runner.queue.ready_set:
        return (f"{r['state']}/{r['status']} again after its launch (set by its test or "
                f"another writer); one mt-run launches a record once")
    records = runner.records
    _, _, upstream = readiness.verdict(runner.plan.tests[key[0]], key, runner.plan.tests,
                                       records.recs, records.iterated, records.expanded,
                                       records.final)
    names = ", ".join(n + (f"/{p}" if p else "") for n, p in upstream)
    return f"waits on {names}, which cannot finish" if names else "nothing launches it"
