"""The pages of one run, one record, and the pass rates per target.

A record's page is what a user opens a failure for: its steps with durations and logs, its
test data with expected values and tolerances, its attempts, the tail of the log that
failed, the command that reproduces it, its environment (megatest.sh in its run
directory), and its history across the target's recent runs.
"""
from megatest.serve import logfiles, plots
from megatest.serve.pages import (action_form, cell, colour_class, duration, e, layout,
                                  path_url, test_name, when)


def _table(cls, headers, rows):
    """A table of class CLS: HEADERS, then ROWS (each already <tr>...</tr>)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    return (f'<table class="{cls}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _tr(cells, nums=(), cls=""):
    """A row of CELLS (HTML already); the columns in NUMS are numbers (right-aligned)."""
    tds = "".join(f'<td class="num">{c}</td>' if i in nums else f"<td>{c}</td>"
                  for i, c in enumerate(cells))
    return f'<tr class="{cls}">{tds}</tr>' if cls else f"<tr>{tds}</tr>"


def _fields(pairs):
    return '<dl class="fields">' + "".join(
        f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in pairs if v not in (None, "")) + "</dl>"


def run_page(frame, run, rates):
    """RUN: grid.run_detail's; RATES: the pass-rate points of its target."""
    head = (f'<span class="cell {colour_class(run["colour"])}" data-run-head="{run["run_id"]}">'
            f'{e(run["label"])}</span>')
    actions = (action_form(frame, "kill", "Kill run", "Kill every running test of this run?",
                           run_id=run["run_id"]) +
               action_form(frame, "remove", "Remove run", "Remove this run, its records and "
                           "run directories?", run_id=run["run_id"]))
    counts = [_tr([e(status), n], nums=(1,))
              for status, n in sorted(run["counts"]["status"].items())]
    rows = [f'<tr><td><a href="/test/{t["test_id"]}">{e(t["testname"])}</a></td>'
            f'<td>{e(t["item_path"])}</td>{cell(t["cell"])}<td class="num">'
            f'{duration(t["run_duration"])}</td><td>{e(t["host"])}</td><td>{e(t["comment"])}'
            "</td></tr>" for t in run["tests"]]
    body = (
        f'<h1>{e(run["target"])} / {e(run["runname"])} {head}</h1>'
        + _fields([("state", e(run["state"])), ("status", e(run["status"])),
                   ("user status", e(run["user_status"])), ("started", e(when(run["event_time"]))),
                   ("runner host", e(run["host"])), ("run directory", f"<code>{e(run['rundir'])}</code>"),
                   ("records counted", run["counts"]["total"])])
        + f'<div class="actions">{actions}</div>'
        + f'<h2>Pass rate of {e(run["target"])}</h2>{plots.pass_rate(run["target"], rates)}'
        + "<h2>Statuses</h2>" + _table("counts", ("status", "records"), counts)
        + "<h2>Records</h2>" + _table("records", ("test", "item", "result", "duration", "host",
                                                  "comment"), rows))
    return layout(frame, f"{run['target']}/{run['runname']}", body)


def test_page(frame, t, settings):
    """T: grid.test_detail's; SETTINGS give the area's run directories for the files."""
    rundir = t["rundir"]
    files = f'<a href="/file/{t["test_id"]}/">files</a>' if rundir else ""
    rerun = action_form(frame, "rerun", "Rerun", "", test_id=t["test_id"])
    body = (
        f'<h1>{e(test_name(t))} <span class="where">in <a href="/run/{t["run"]["run_id"]}">'
        f'{e(t["run"]["target"])} / {e(t["run"]["runname"])}</a></span> '
        f'{cell(t["cell"], tag="span")}</h1>'
        + _fields([("state", e(t["state"])), ("status", e(t["status"])),
                   ("outcome", e(t["outcome"]) + (" (passed after a failing attempt)"
                                                  if t["flaky"] else "")),
                   ("attempt", t["attempt"]), ("exit code", e(t["exit_code"])),
                   ("host", e(t["host"])), ("started", e(when(t["event_time"]))),
                   ("duration", duration(t["run_duration"])), ("comment", e(t["comment"])),
                   ("run directory", f"<code>{e(rundir)}</code> {files}" if rundir else ""),
                   ("reproduce", f'<code class="copy">{e(t["reproduce"])}</code>')])
        + f'<div class="actions">{rerun}</div>'
        + f"<h2>History</h2>{history(t['history'])}"
        + steps(t) + data(t) + attempts(t)
        + log_tail(t, settings) + environment(t, settings))
    return layout(frame, test_name(t), body)


def file_link(t, path):
    """A link to PATH when it is inside the record's run directory, else the path as text."""
    rel = logfiles.relative(t["rundir"], path)
    if rel is None:
        return f"<code>{e(path)}</code>" if path else ""
    url = path_url(f"/file/{t['test_id']}/", rel)
    return f'<a href="{e(url)}">{e(rel)}</a>'


def history(entry):
    if not entry["runs"]:
        return "<p>No earlier run of this target has this record.</p>"
    runs = len(entry["runs"])
    span = "the one run" if runs == 1 else f"the {runs} newest runs"
    streak = ""
    if entry["failing_for"]:
        streak = (f' Failing for {entry["failing_for"]} run(s), since '
                  f'{e(entry["first_failing"])}.')
    elif entry["last_passed"]:
        streak = f" Last passed in {e(entry['last_passed'])}."
    return (f'<p>{plots.history_strip(entry)} <span class="n">{span} of the target, oldest '
            f'first.{streak}</span></p>')


def steps(t):
    if not t["steps"]:
        return ""
    rows = [_tr([e(s["name"]), e(s["status"]), e(s["exit_code"]), e(when(s["start"])),
                 duration(s["duration"]), file_link(t, s["log"]), e(s["comment"])], nums=(4,))
            for s in t["steps"]]
    return "<h2>Steps</h2>" + _table("steps", ("step", "status", "exit", "started", "duration",
                                              "log", "comment"), rows)


def data(t):
    if not t["data"]:
        return ""
    columns = ("category", "variable", "value", "expected", "tol", "units", "status", "comment")
    rows = [_tr([e(d.get(c)) for c in columns], nums=(2, 3, 4),
                cls="data-" + e((d.get("status") or "").lower())) for d in t["data"]]
    return "<h2>Test data</h2>" + _table("data", columns, rows)


def attempts(t):
    if len(t["attempts"]) < 2:
        return ""
    rows = [_tr([a["attempt"], e(a["state"]), e(a["status"]), e(a["exit_code"]), e(a["host"]),
                 e(when(a["started"])), duration(a["duration"]), file_link(t, a["log"])],
                nums=(6,)) for a in t["attempts"]]
    return "<h2>Attempts</h2>" + _table("attempts", ("#", "state", "status", "exit", "host",
                                                     "started", "duration", "log"), rows)


def log_tail(t, settings):
    rel = logfiles.relative(t["rundir"], t["log"])
    if rel is None:
        return ""
    text = logfiles.tail(settings, t["rundir"], rel)
    if not text:
        return ""
    return (f'<h2>Log: {file_link(t, t["log"])}</h2><p class="n">its last '
            f'{logfiles.TAIL_LINES} lines</p><pre class="log">{e(text)}</pre>')


def environment(t, settings):
    if not t["rundir"]:
        return ""
    text, cut = logfiles.read_text(settings, t["rundir"], "megatest.sh")
    if not text:
        return ""
    more = " (its beginning only: the file is longer)" if cut else ""
    return (f'<details class="env"><summary>Environment: '
            f'{file_link(t, "megatest.sh")}{more}</summary>'
            f'<pre>{e(text)}</pre></details>')


def trends_page(frame, rates):
    """RATES: grid.pass_rates's, a plot per target."""
    parts = []
    for target, points in rates.items():
        latest = next((p for p in reversed(points) if p["rate"] is not None), None)
        now = f" latest {latest['rate'] * 100:.1f}% ({e(latest['runname'])})" if latest else ""
        parts.append(f'<section class="trend"><h2>{e(target)}<span class="n">{now}, '
                     f'{len(points)} runs</span></h2>{plots.pass_rate(target, points)}</section>')
    if not parts:
        parts.append('<p class="empty">No run yet.</p>')
    return layout(frame, "Pass rates", "<h1>Pass rate per target</h1><p>Each bar is one run, "
                  "oldest left: the share of its finished records that passed (PASS, WARN, "
                  "CHECK; a flaky pass counts). Click a bar for the run.</p>" + "".join(parts))
