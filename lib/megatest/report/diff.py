"""One run against another: what a night changed (dvsim's and SQUAD's categories).

Every record (items and non-iterated tests) of either run falls in one category, compared by
test/itempath; a failure is FAIL, ABORT or any bad end (results.FAILING).
"""
from megatest.report import results

CATEGORIES = ("new_failure", "still_failing", "fixed", "newly_waived", "new_test", "missing",
              "unchanged")
PLURAL_TITLES = {"new_failure": "new failures", "new_test": "new tests"}
TITLES = {"new_failure": "new failure", "still_failing": "still failing", "fixed": "fixed",
          "newly_waived": "newly waived", "new_test": "new test", "missing": "missing/not run",
          "unchanged": "unchanged"}
_RAN = frozenset(("fail", "error", "flaky", "waived", "skip", "pass"))


def previous_run(candidates, run):
    """The run of RUN's target started last before RUN (None: RUN is the first)."""
    older = [r for r in candidates if r["target"] == run["target"] and r["run_id"] != run["run_id"]
             and (r["event_time"] or 0, r["run_id"]) < (run["event_time"] or 0, run["run_id"])]
    return max(older, key=lambda r: (r["event_time"] or 0, r["run_id"]), default=None)


def compare(run, against):
    """{"run", "against", "counts": {category: n}, "categories": {category: [entry]}}; an
    entry is {"test", "status", "was", "outcome", "was_outcome"} plus, for a failure now,
    "comment", "log" and "reproduce"."""
    now = {results.name_of(t): t for t in results.counted(run["tests"])}
    before = {results.name_of(t): t for t in results.counted(against["tests"])}
    cats = {c: [] for c in CATEGORIES}
    for name in sorted(set(now) | set(before)):
        t, b = now.get(name), before.get(name)
        category = categorise(t["outcome"] if t else None, b["outcome"] if b else None)
        entry = {"test": name, "status": t["status"] if t else "", "was": b["status"] if b else "",
                 "outcome": t["outcome"] if t else "absent",
                 "was_outcome": b["outcome"] if b else "absent"}
        if t is not None and t["outcome"] in results.FAILING:
            entry.update(comment=t["comment"], log=t.get("log", ""), reproduce=t.get("reproduce", ""))
        cats[category].append(entry)
    return {"run": f"{run['target']}/{run['runname']}",
            "against": f"{against['target']}/{against['runname']}",
            "counts": {c: len(v) for c, v in cats.items()}, "categories": cats}


def categorise(now, was):
    """The category of a record whose outcome is NOW (None: absent) and was WAS."""
    failing_now, failing_before = now in results.FAILING, was in results.FAILING
    if failing_now:
        return "still_failing" if failing_before else "new_failure"
    if now is None or now not in _RAN:
        return "missing" if was in _RAN else "unchanged"
    if failing_before:
        return "fixed"
    if now == "waived" and was != "waived":
        return "newly_waived"
    if was not in _RAN:              # absent before, or registered but never run
        return "new_test"
    return "unchanged"


def text(result):
    """The diff as lines a person reads; failures with their log and reproduce command."""
    counts = ", ".join(f"{n} {PLURAL_TITLES.get(c, TITLES[c]) if n > 1 else TITLES[c]}"
                       for c, n in result["counts"].items() if n and c != "unchanged")
    lines = [f"{result['run']} against {result['against']}: {counts or 'no change'}"
             + (f" ({result['counts']['unchanged']} unchanged)" if result["counts"]["unchanged"] else "")]
    for category in CATEGORIES[:-1]:
        for e in result["categories"][category]:
            was = f" (was {e['was']})" if e["was"] else ""
            lines.append(f"  {TITLES[category]:<15} {e['test']}  {e['status'] or '-'}{was}")
            if e.get("reproduce"):
                lines.append(f"      log: {e['log'] or '(none)'}")
                lines.append(f"      reproduce: {e['reproduce']}")
    return "\n".join(lines) + "\n"
