"""Each test's or item's status across runs: how long it has been failing and since when.

Runs are ordered by their start (event_time, then id) per target; a streak counts the
newest runs back to the last one where the record did not fail.
"""
from megatest.report import results


def history(runs, last=None):
    """[{"target", "test", "runs": [{"runname", "status", "outcome", "run_id"}] oldest first
    (the LAST newest runs of the target), "failing_for", "first_failing", "last_passed"}],
    sorted by target then test. A run without the record shows outcome "absent"."""
    by_target = {}
    for run in sorted(runs, key=lambda r: (r["event_time"] or 0, r["run_id"])):
        by_target.setdefault(run["target"], []).append(run)
    out = []
    for target, target_runs in sorted(by_target.items()):
        if last:
            target_runs = target_runs[-last:]
        names = {}
        for run in target_runs:
            for t in results.counted(run["tests"]):
                names.setdefault(results.name_of(t), {})[run["run_id"]] = t
        for name in sorted(names):
            seen = names[name]
            cells = []
            for run in target_runs:
                t = seen.get(run["run_id"])
                cells.append({"runname": run["runname"], "run_id": run["run_id"],
                              "status": t["status"] if t else "",
                              "outcome": t["outcome"] if t else "absent"})
            out.append(dict(target=target, test=name, runs=cells, **streak(cells)))
    return out


def streak(cells):
    """failing_for (newest consecutive failing runs), first_failing (the run that streak
    started with, "" when not failing) and last_passed (the newest run it passed in)."""
    ran = [c for c in cells if c["outcome"] != "absent"]
    failing, first = 0, ""
    for c in reversed(ran):
        if c["outcome"] not in results.FAILING:
            break
        failing, first = failing + 1, c["runname"]
    passed = [c["runname"] for c in ran if c["outcome"] in ("pass", "flaky", "waived")]
    return {"failing_for": failing, "first_failing": first,
            "last_passed": passed[-1] if passed else ""}


def strip(cells):
    """A one-character-per-run picture, oldest first: P pass, F fail, E error, f flaky,
    W waived, S skip, R running, . not run, blank absent."""
    marks = {"pass": "P", "fail": "F", "error": "E", "flaky": "f", "waived": "W", "skip": "S",
             "running": "R", "notrun": ".", "absent": " "}
    return "".join(marks[c["outcome"]] for c in cells)
