"""May a pending record run? Its waitons judged from the records' current states (§9.2, §9.5).

Pure: it reads the runner's mirror of the records and returns a verdict plus the upstream
records to watch, so the runner re-evaluates a record only when one of those changes.
"""
from megatest import states
from megatest.config.waiton import apply_itemmap, toplevel_verdict, upstream_verdict

RANK = {"ok": 0, "wait": 1, "blocked": 2, "failed": 3}


def verdict(testdef, key, tests, recs, iterated, expanded, is_final):
    """(verdict, why, watch): verdict is ok, wait, blocked or failed; watch lists the
    upstream record keys whose change may change it."""
    path = key[1]
    worst, why, watch = "ok", "", []
    for up in testdef.deps.waitons:
        if up not in tests:
            continue
        top = recs[(up, "")]
        if "toplevel" in testdef.deps.modes:
            v, w = toplevel_verdict(top["state"], top["status"]), (up, "")
        elif testdef.deps.itemwait and iterated.get(up) and path:
            v, w, missing = _item_verdict(testdef, up, path, top, recs, expanded, is_final)
            if missing:
                if RANK["blocked"] > RANK[worst]:
                    worst, why = "blocked", missing
                continue
        elif testdef.deps.itemwait and iterated.get(up):
            v, w = gate_verdict(top), (up, "")
        else:
            v, w = upstream_verdict(top["state"], top["status"]), (up, "")
        if v == "wait":
            watch.append(w)
        if RANK[v] > RANK[worst]:
            worst = v
            label = up if not w[1] else f"{up}/{w[1]}"
            why = f"upstream {label} failed" if v == "failed" else f"upstream {label} did not run"
    return worst, why, watch


def _item_verdict(testdef, up, path, top, recs, expanded, is_final):
    """itemwait on an iterated upstream: the record of item itemmap(path). (v, key, missing)."""
    if not expanded.get(up):
        return "wait", (up, ""), ""
    upath = apply_itemmap(testdef.deps.map_for(up), path)
    upstream = recs.get((up, upath))
    if upstream is not None:
        return upstream_verdict(upstream["state"], upstream["status"]), (up, upath), ""
    if not is_final((up, "")) and top["state"] != "NOT_STARTED":
        return "wait", (up, upath), ""
    return "blocked", (up, upath), f"upstream {up} has no item {upath}"


def gate_verdict(top):
    """When an itemwait test may expand its items: the upstream toplevel runs or completed."""
    if top["state"] in ("RUNNING", "COMPLETED"):
        return "ok"
    if top["state"] == "NOT_STARTED" and top["status"] in states.BLOCKED_STATUSES:
        return "blocked"
    return "failed" if states.is_final(top["state"], top["status"]) else "wait"
