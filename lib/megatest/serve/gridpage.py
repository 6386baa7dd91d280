"""The grid page: runs as columns (newest first, their keys and run name on top, as in
Megatest's dashboard), tests as rows with their items folded in unless expanded, each cell
in Megatest's colours; the filter form; and the filters read from a query string.

Usable at 100 runs x 2,500 records because it shows the newest 10 runs unless asked for up
to 100 (older ones by paging), one row per test until the test is expanded, and at most
MAX_CELLS cells (more rows are cut, and the page says so).
"""
from megatest.report import grid
from megatest.serve.pages import BadRequest, cell, e, href, layout

MAX_CELLS = 100_000       # cells (rows x runs) one page shows
MAX_PATTERN = 1000        # characters of a filter field
MAX_WORDS = 500           # statuses, or tests to expand, one query names


def filters(query):
    """grid.Filters from a query string's values ({name: [values]}); BadRequest naming the
    field when one is out of range."""
    def text(name):
        value = (query.get(name) or ["%"])[-1].strip() or "%"
        if len(value) > MAX_PATTERN:
            raise BadRequest(f"{name} is longer than {MAX_PATTERN} characters")
        return value

    def words(name):
        found = tuple(w.strip() for v in query.get(name, []) for w in v.split(",") if w.strip())
        if len(found) > MAX_WORDS:
            raise BadRequest(f"{name} names more than {MAX_WORDS} values")
        return found

    return grid.Filters(target=text("target"), runname=text("runname"),
                        testpatt=text("testpatt"), statuses=words("status"),
                        columns=number(query, "columns", grid.DEFAULT_COLUMNS, 1,
                                       grid.MAX_COLUMNS),
                        skip=number(query, "skip", 0, 0, None), expand=words("expand"))


def number(query, name, default, low, high):
    """A whole number from the query, within [LOW, HIGH]; BadRequest otherwise."""
    text = (query.get(name) or [""])[-1].strip()
    if not text:
        return default
    span = f"from {low} to {high}" if high is not None else f"of at least {low}"
    if not text.isdigit() or not low <= int(text) <= (high if high is not None else int(text)):
        raise BadRequest(f"{name} must be a whole number {span}, got {text!r}")
    return int(text)


def query_of(f, **changes):
    """The query values that show F (with CHANGES applied), for links."""
    values = {"target": f.target, "runname": f.runname, "testpatt": f.testpatt,
              "status": ",".join(f.statuses), "columns": f.columns, "skip": f.skip,
              "expand": ",".join(f.expand)}
    values.update(changes)
    defaults = {"target": "%", "runname": "%", "testpatt": "%", "status": "",
                "columns": grid.DEFAULT_COLUMNS, "skip": 0, "expand": ""}
    return {k: v for k, v in values.items() if v != defaults[k]}


def watch_url(f):
    """The change feed for this grid: the filters that decide whether a record shows."""
    def given(value):
        return "" if value == "%" else value
    return href("/api/changes", target=given(f.target), runname=given(f.runname),
                testpatt=given(f.testpatt), status=",".join(f.statuses))


def page(frame, f, g):
    rows = g["rows"]
    limit = max(1, MAX_CELLS // max(1, len(g["runs"])))
    cut = ""
    if len(rows) > limit:
        cut = (f'<p class="note">Showing the first {limit} of {len(rows)} rows: narrow the '
               'test pattern or collapse items.</p>')
        rows = rows[:limit]
    body = (f"<h1>Runs &times; tests</h1>{form(f)}{summary(f, g)}{cut}"
            f'<table id="grid" class="grid" data-skip="{f.skip}">{head(g["runs"])}<tbody>'
            f'{"".join(row(f, r, g["runs"]) for r in rows)}</tbody></table>')
    if not g["runs"]:
        body += '<p class="empty">No run matches these filters.</p>'
    return layout(frame, "Grid", body)


def form(f):
    def field(name, label, value, hint):
        return (f'<label>{label} <input name="{name}" value="{e(value)}" '
                f'placeholder="{e(hint)}"></label> ')
    expand = f'<input type="hidden" name="expand" value="{e(",".join(f.expand))}">' \
        if f.expand else ""
    return ('<form class="filters" method="get" action="/">'
            + field("target", "Target", f.target, "% (all)")
            + field("runname", "Run name", f.runname, "% (all)")
            + field("testpatt", "Tests", f.testpatt, "test[/item], ...")
            + field("status", "Status", ",".join(f.statuses), "any (e.g. FAIL,ABORT)")
            + f'<label>Runs <input name="columns" type="number" min="1" max="{grid.MAX_COLUMNS}"'
            f' value="{f.columns}"></label> {expand}'
            '<button type="submit">Show</button> <a href="/">Reset</a></form>')


def summary(f, g):
    n = len(g["runs"])
    parts = [f"runs {f.skip + 1}-{f.skip + n} of {g['total_runs']}, newest first" if n
             else f"0 of {g['total_runs']} runs"]
    if f.skip:
        parts.append(f'<a href="{e(href("/", **query_of(f, skip=max(0, f.skip - f.columns))))}"'
                     '>&larr; newer runs</a>')
    if f.skip + n < g["total_runs"]:
        parts.append(f'<a href="{e(href("/", **query_of(f, skip=f.skip + f.columns)))}">'
                     'older runs &rarr;</a>')
    parts.append(f"{sum(1 for r in g['rows'] if not r['item'])} tests")
    if "%" in f.expand:
        parts.append(f'<a href="{e(href("/", **query_of(f, expand="")))}">collapse items</a>')
    else:
        parts.append(f'<a href="{e(href("/", **query_of(f, expand="%")))}">expand all items</a>')
    return f'<p class="summary">{" &middot; ".join(parts)}</p>'


def head(runs):
    keys = list(runs[0]["keys"]) if runs else []
    lines = []
    for key in keys:
        lines.append(f'<tr class="key"><th>{e(key)}</th>' + "".join(
            f"<th>{e(run['keys'].get(key, ''))}</th>" for run in runs) + "</tr>")
    lines.append('<tr class="runname"><th>run</th>' + "".join(
        f'<th><a href="/run/{run["run_id"]}">{e(run["runname"])}</a></th>' for run in runs)
        + "</tr>")
    lines.append('<tr class="runstate"><th></th>' + "".join(
        f'<th class="cell c{run["colour"].lstrip("#")}" data-run-head="{run["run_id"]}">'
        f'{e(run["label"])}</th>' for run in runs) + "</tr>")
    return f"<thead>{''.join(lines)}</thead>"


def row(f, r, runs):
    if r["item"]:
        name = f'<th class="item">{e(r["item"])}</th>'
    elif r["items"]:
        opened = f.expanded(r["test"])
        others = [t for t in f.expand if t != r["test"]]
        toggle = ",".join(others if opened else [*others, r["test"]])
        mark = "&#9662;" if opened else "&#9656;"
        name = (f'<th><a class="fold" href="{e(href("/", **query_of(f, expand=toggle)))}" '
                f'title="{"hide" if opened else "show"} items">{mark}</a> {e(r["test"])} '
                f'<span class="n">({r["items"]})</span></th>')
    else:
        name = f"<th>{e(r['test'])}</th>"
    folded = f' data-items="{r["items"]}"' if r["items"] and not f.expanded(r["test"]) else ""
    cells = "".join(cell(c, extra=f' data-run="{run["run_id"]}"')
                    for c, run in zip(r["cells"], runs))
    return (f'<tr data-test="{e(r["test"])}" data-item="{e(r["item"])}"{folded}>'
            f"{name}{cells}</tr>")
