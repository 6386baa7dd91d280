"""The dashboard's HTML: the frame every page shares, and the small pages (login, errors,
a run directory's listing, the queued actions).

Pages are plain strings built here, every value escaped on the way in (`e`); there is no
inline script or style (the Content-Security-Policy forbids both), so colours are classes
from /static/colours.css and behaviour is /static/dashboard.js reading data- attributes.
"""
import html
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from megatest.serve.webauth import CSRF_FIELD


class BadRequest(Exception):
    """A request the dashboard cannot make sense of: 400 with this one line."""


@dataclass
class Frame:
    """What every page of one request shows around its content."""
    area_name: str
    note: str = ""            # served off the home host: says so, naming it
    csrf: str = ""            # the session's CSRF token ("" without a session)
    logged_in: bool = False
    seq: int = None           # change number the page shows; with WATCH, the page refreshes
    watch: str = ""           # the /api/changes URL (without since) the page polls
    reload_ids: str = ""      # records whose change reloads the whole page


def e(value):
    """VALUE as HTML text or attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def href(path, **query):
    """A URL of this server: PATH plus the non-empty QUERY values (lists repeat the name)."""
    pairs = []
    for name, value in query.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if v not in (None, "", ()):
                pairs.append((name, v))
    return path + ("?" + urlencode(pairs) if pairs else "")


def path_url(prefix, rel):
    """PREFIX followed by REL with each part quoted (slashes stay)."""
    return prefix + quote(rel, safe="/")


def when(seconds):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else ""


def duration(seconds):
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def colour_class(colour):
    """The colours.css class of a Megatest colour (#rrggbb)."""
    return "c" + colour.lstrip("#").lower()


def cell(c, tag="td", extra=""):
    """A record's cell: Megatest's colour and label, linking to the record's page."""
    if c is None:
        return f"<{tag}{extra}></{tag}>"
    flaky = " flaky" if c["flaky"] else ""
    title = f"{c['state']} {c['status']}" + (" (flaky: passed after a failing attempt)"
                                               if c["flaky"] else "")
    return (f'<{tag} class="cell {colour_class(c["colour"])}{flaky}" data-id="{c["id"]}"'
            f'{extra} title="{e(title)}"><a href="/test/{c["id"]}">{e(c["label"])}</a></{tag}>')


def csrf_field(frame):
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{e(frame.csrf)}">'


def action_form(frame, action, label, confirm="", **ids):
    """A button that queues ACTION (rerun, kill, remove) for the record or run in IDS."""
    if not frame.logged_in:
        return ""
    ids["request"] = secrets.token_hex(8)     # a form sent twice queues one action
    hidden = "".join(f'<input type="hidden" name="{k}" value="{e(v)}">' for k, v in ids.items())
    ask = f' data-confirm="{e(confirm)}"' if confirm else ""
    return (f'<form class="action" method="post" action="/action"{ask}>{csrf_field(frame)}'
            f'<input type="hidden" name="action" value="{e(action)}">{hidden}'
            f'<button type="submit">{e(label)}</button></form>')


def layout(frame, title, body):
    """The whole page: head, the header with navigation and login state, the off-home
    note, BODY, and the queued actions this page follows."""
    watch = ""
    if frame.watch and frame.seq is not None:
        watch = (f' data-changes="{e(frame.watch)}" data-seq="{frame.seq}"'
                 f' data-reload-ids="{e(frame.reload_ids)}"')
    if frame.logged_in:
        who = (f'<form method="post" action="/logout" class="logout">{csrf_field(frame)}'
               '<button type="submit">Log out</button></form>')
    else:
        who = '<a class="login" href="/login">Log in</a>'
    note = f'<p class="note" id="away">{e(frame.note)}</p>' if frame.note else ""
    aside = '<aside><h2>Actions</h2><ul id="actions"></ul></aside>' if watch else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)} - {e(frame.area_name)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="csrf-token" content="{e(frame.csrf)}">'
        '<link rel="icon" href="/static/favicon.svg">'
        '<link rel="stylesheet" href="/static/dashboard.css">'
        '<link rel="stylesheet" href="/static/colours.css">'
        '<script src="/static/dashboard.js" defer></script></head>'
        f"<body{watch}><header><a class=\"area\" href=\"/\">{e(frame.area_name)}</a>"
        '<nav><a href="/">Grid</a> <a href="/trends">Pass rates</a> '
        f'<a href="/actions">Actions</a></nav>{who}</header>{note}'
        f'<p class="status" id="live" hidden></p><main>{body}</main>{aside}</body></html>\n')


# ---------------------------------------------------------------- small pages

def login(frame, next_path, error=""):
    message = f'<p class="error">{e(error)}</p>' if error else ""
    return layout(frame, "Log in", (
        "<h1>Log in</h1>"
        "<p>Give the area's token (the file <code>.mt/token</code> in the area, on the home "
        "host) to rerun, kill or remove from these pages"
        " and, unless <code>[server] dashboard-reads open</code>, to read them.</p>"
        f"{message}<form method=\"post\" action=\"/login\" class=\"login\">{csrf_field(frame)}"
        f'<input type="hidden" name="next" value="{e(next_path)}">'
        '<label>Token <input type="password" name="token" autocomplete="current-password" '
        'autofocus required></label> <button type="submit">Log in</button></form>'))


def error(frame, status, message):
    return layout(frame, f"Error {status}",
                  f'<h1>Error {status}</h1><p class="error">{e(message)}</p>')


def listing(frame, test, rel, entries):
    """A directory of a record's run directory: name, size and time of each entry."""
    base = f"/file/{test['test_id']}/"
    up = ""
    if rel:
        parent = rel.rstrip("/").rpartition("/")[0]
        up = f'<li><a href="{e(path_url(base, parent + "/" if parent else ""))}">..</a></li>'
    rows = "".join(
        f'<tr><td><a href="{e(path_url(base, rel + name + ("/" if is_dir else "")))}">'
        f'{e(name)}{"/" if is_dir else ""}</a></td><td class="num">{"" if is_dir else size}'
        f'</td><td>{e(when(mtime))}</td></tr>' for name, is_dir, size, mtime in entries)
    title = f"{test_name(test)}: {rel or './'}"
    return layout(frame, title, (
        f'<h1><a href="/test/{test["test_id"]}">{e(test_name(test))}</a>: {e(rel or "./")}</h1>'
        f'<ul class="up">{up}</ul><table class="files"><thead><tr><th>name</th>'
        f'<th>bytes</th><th>modified</th></tr></thead><tbody>{rows}</tbody></table>'))


def actions_page(frame, actions):
    rows = "".join(action_row(a) for a in actions)
    return layout(frame, "Actions", (
        "<h1>Queued actions</h1><p>Reruns, kills and removals asked for from these pages, "
        "<code>mt-run --queue</code> or <code>mt-clean --queue</code>; the server carries "
        "each out on the home host.</p><table class=\"tasks\"><thead><tr><th>#</th>"
        "<th>action</th><th>run</th><th>tests</th><th>state</th><th>exit</th><th>queued</th>"
        f"</tr></thead><tbody id=\"task-table\">{rows}</tbody></table>"))


def action_row(a):
    return (f'<tr data-task="{a["id"]}" class="task-{e(a["state"])}"><td>{a["id"]}</td>'
            f'<td>{e(a["action"])}</td><td>{e(a["target"])}/{e(a["runname"])}</td>'
            f'<td>{e(a["testpatt"])}</td><td class="state">{e(a["state"])}</td>'
            f'<td>{e(a["exit_code"])}</td><td>{e(when(a["created"]))}</td></tr>')


def test_name(t):
    return f"{t['testname']}/{t['item_path']}" if t.get("item_path") else t["testname"]
