"""A run as a self-contained HTML report: one index.html with its style inline, no script,
no link outside the file; opens from a CI artifact store or a file:// URL with no network.

Sections: the summary (counts per status and outcome), failures grouped by signature, every
failure with its log excerpt, log path and reproduce command, the per-test table, and the
test data with expected values and tolerances.
"""
import html
import os
import time

from megatest import fsutil
from megatest.report import colours, logs, results, signatures

STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#eee}.st{font-weight:bold;white-space:nowrap}.num{text-align:right}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.5em;overflow-x:auto;max-height:30em}
.chip{display:inline-block;padding:2px 10px;margin:2px;border-radius:3px;font-weight:bold}
code{background:#f0f0f0;padding:1px 4px}.meta td:first-child{font-weight:bold}
"""


def write(runs, directory, buckets=None):
    """Write DIRECTORY/index.html for RUNS (results.runs(..., detail=True)); returns its path.
    Written whole or not at all (fsutil): a reader never sees half a report."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "index.html")
    fsutil.write_atomic(path, page(runs, buckets if buckets is not None else signatures.buckets(runs)))
    return path


def page(runs, buckets):
    title = ", ".join(f"{r['target']}/{r['runname']}" for r in runs) or "no run"
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>megatest report: {_e(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>megatest report: {_e(title)}</h1>",
             f"<p>generated {_e(time.strftime('%Y-%m-%d %H:%M:%S'))}</p>"]
    for run in runs:
        parts.append(_run_section(run))
    parts.append(_buckets(buckets))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _run_section(run):
    tests = results.counted(run["tests"])
    out = [f"<h2 id=\"run-{run['run_id']}\">{_e(run['target'])}/{_e(run['runname'])}</h2>",
           "<table class=\"meta\">"]
    for label, value in (("target", run["target"]), ("runname", run["runname"]),
                         ("state", run["state"]), ("status", run["status"]),
                         ("host", run.get("host", "")), ("rundir", run.get("rundir", "")),
                         ("started", _when(run["event_time"]))):
        out.append(f"<tr><td>{label}</td><td>{_e(value)}</td></tr>")
    out.append("</table>")
    out.append(_summary(tests))
    failing = [t for t in tests if t["outcome"] in results.FAILING]
    if failing:
        out.append(f"<h3>Failures ({len(failing)})</h3>")
        out.extend(_failure(t) for t in failing)
    out.append(_table(tests))
    with_data = [t for t in tests if t.get("data")]
    if with_data:
        out.append("<h3>Test data</h3>")
        out.extend(_data(t) for t in with_data)
    return "\n".join(out)


def _summary(tests):
    by_status = {}
    for t in tests:
        key = (t["state"], t["status"])
        by_status[key] = by_status.get(key, 0) + 1
    chips = []
    for (state, status), n in sorted(by_status.items(), key=lambda kv: -kv[1]):
        chips.append(_chip(state, status, f"{_label(state, status)}: {n}"))
    flaky = sum(1 for t in tests if t["flaky"])
    extra = f" <span class=\"chip\" style=\"background:#ffe08a\">FLAKY: {flaky}</span>" if flaky else ""
    return (f"<p class=\"summary\">{len(tests)} tests and items: " + " ".join(chips) + extra
            + "</p>")


def _label(state, status):
    """The status, unless the record has none yet (then its state)."""
    return status if status not in ("n/a", "", None) else state


def _chip(state, status, label):
    bg, _ = colours.colour(state, status)
    return (f"<span class=\"chip\" style=\"background:{bg};color:{colours.text_colour(bg)}\">"
            f"{_e(label)}</span>")


def _failure(t):
    name = results.name_of(t)
    return (f"<div class=\"failure\" id=\"fail-{t['test_id']}\"><h4>{_e(name)} "
            f"{_chip(t['state'], t['status'], t['status'])}</h4>"
            + (f"<p>{_e(t['comment'])}</p>" if t["comment"] else "")
            + f"<p>log: <code>{_e(t.get('log') or '(none)')}</code><br>"
            f"reproduce: <code>{_e(t['reproduce'])}</code></p>"
            + (f"<pre>{_e(logs.tail(t['log']))}</pre>" if t.get("log") else "") + "</div>")


def _table(tests):
    rows = ["<h3>Tests</h3><table class=\"tests\"><tr><th>test</th><th>item</th><th>state</th>"
            "<th>status</th><th>duration</th><th>attempt</th><th>host</th><th>comment</th></tr>"]
    for t in tests:
        bg, _ = colours.colour(t["state"], t["status"])
        label = _label(t["state"], t["status"])
        status = f"{label} (FLAKY)" if t["flaky"] else label
        rows.append(f"<tr><td>{_e(t['testname'])}</td><td>{_e(t['item_path'])}</td>"
                    f"<td>{_e(t['state'])}</td><td class=\"st\" style=\"background:{bg};"
                    f"color:{colours.text_colour(bg)}\">{_e(status)}</td>"
                    f"<td class=\"num\">{t['run_duration'] or 0:.1f}s</td>"
                    f"<td class=\"num\">{t['attempt']}</td><td>{_e(t['host'])}</td>"
                    f"<td>{_e(t['comment'])}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _data(t):
    rows = [f"<h4>{_e(results.name_of(t))}</h4><table class=\"data\"><tr><th>category</th>"
            "<th>variable</th><th>value</th><th>expected</th><th>tol</th><th>units</th>"
            "<th>status</th><th>comment</th></tr>"]
    for d in t["data"]:
        rows.append("<tr>" + "".join(f"<td>{_e(d.get(c))}</td>" for c in (
            "category", "variable", "value", "expected", "tol", "units", "status", "comment"))
            + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _buckets(buckets):
    if not buckets:
        return ""
    rows = ["<h2>Failures by signature</h2><table class=\"buckets\"><tr><th>count</th>"
            "<th>signature</th><th>example</th><th>tests</th></tr>"]
    for b in buckets:
        names = "<br>".join(_e(f"{x['target']}/{x['runname']}: {x['test']}") for x in b["tests"][:20])
        more = f"<br>... and {len(b['tests']) - 20} more" if len(b["tests"]) > 20 else ""
        rows.append(f"<tr><td class=\"num\">{b['count']}</td><td><code>{_e(b['signature'])}"
                    f"</code></td><td>{_e(b['example'])}</td><td>{names}{more}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _when(stamp):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else ""


def _e(value):
    return html.escape("" if value is None else str(value))


