"""The HTML report: verdict and rule table first, each rule's hits, then the marked-up log.

The log part is streamed to a temporary file beside the report while the log is read, and
the report is assembled and renamed into place at the end, so neither the log nor the
report is ever held in memory, and a reader never sees half a report. The page is
self-contained (inline CSS, no scripts, no links off the page).
"""
import html
import os
import re
import shutil
import tempfile

from megatest.logpro.report import by_section, expected_text, got_text

CSS = """
body { font-family: sans-serif; margin: 1em 2em; }
h1.PASS { color: #1a7f37; } h1.WARN, h1.WAIVE, h1.CHECK { color: #b35900; }
h1.FAIL, h1.ABORT { color: #c62828; } h1.SKIP { color: #7a7a00; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
th { background: #eee; text-align: left; } tr.section td { background: #ddd; font-weight: bold; }
td.FAIL { background: #f8d0d0; } td.OK { background: #d8f0d8; }
pre { background: #fafafa; border: 1px solid #ddd; padding: 0.5em; white-space: pre-wrap; }
.k-error, .k-required, .k-value-fail { background: #f8c8c8; }
.k-warning, .k-required-warn { background: #ffe0b0; } .k-waive { background: #e8d0b8; }
.k-check { background: #f8d8e8; } .k-abort { background: #f0a0a0; } .k-skip { background: #eef0a8; }
.k-ignore, .k-value-pass { background: #d8f0d8; } .k-note { background: #f4f0c0; }
.k-trigger { background: #d0e0f8; }
"""


class HtmlReport:
    """Open with the report's path (fails early if it cannot be written), add_line() per log
    line, then finish(verdict, title); discard() drops the temporary files on an error."""

    def __init__(self, path):
        self.path = path
        if os.path.isdir(path):
            raise IsADirectoryError(21, "Is a directory", path)
        self.dir = os.path.dirname(os.path.abspath(path))
        fd, self.body_path = tempfile.mkstemp(prefix=".logpro-log-", dir=self.dir)
        self.body = os.fdopen(fd, "w", encoding="utf-8")

    def add_line(self, number, text, result):
        text = _esc(text)
        if result.rule is None and result.trigger is None:
            self.body.write(text + "\n")
            return
        kind, title = _mark(result)
        if kind:
            text = f'<span id="L{number}" class="k-{kind}" title="{_esc(title)}">{text}</span>'
        self.body.write(text + "\n")

    def finish(self, verdict, title):
        self.body.close()
        fd, tmp = tempfile.mkstemp(prefix=".logpro-html-", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(_head(verdict, title))
                out.write("".join(_summary(verdict)))
                out.write(f"<h2>Log ({verdict.lines} lines)</h2>\n<pre>")
                with open(self.body_path, encoding="utf-8") as body:
                    shutil.copyfileobj(body, out)
                out.write("</pre>\n</body>\n</html>\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            _remove(tmp)
            raise
        finally:
            _remove(self.body_path)

    def discard(self):
        if not self.body.closed:
            self.body.close()
        _remove(self.body_path)


def _mark(result):
    """(css kind, tooltip) for a log line, or (None, None) when nothing counted it."""
    if result.rule is not None:
        rule = result.rule.rule
        kind = rule.kind
        if rule.is_value:
            kind = "value-pass" if result.value_ok else "value-fail"
        return kind, f"rule-{rule.num} {rule.label}: {rule.desc}"
    if result.trigger is not None:
        return "trigger", f"trigger {result.trigger.trigger.name}"
    return None, None


def _head(verdict, title):
    word = f"{verdict.status} (exit code {verdict.code})"
    message = f"<p>{_esc(verdict.message)}</p>\n" if verdict.message else ""
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>logpro: {_esc(title)}: {word}</title>\n<style>{CSS}</style>\n</head>\n"
            f"<body>\n<h1 class=\"{verdict.status}\">EXIT CODE: {verdict.code} "
            f"({verdict.status})</h1>\n{message}<p>Rules: {_esc(title)}</p>\n")


def _summary(verdict):
    yield "<h2>Triggers</h2>\n<table>\n<tr><th>Trigger</th><th>Status</th><th>Count</th>" \
          "<th>Lines</th></tr>\n"
    for t in verdict.triggers:
        yield (f"<tr><td>{_esc(t.trigger.name)}</td><td class=\"{t.status}\">{t.status}</td>"
               f"<td>{t.hits.count}</td><td>{_line_links(t.hits)}</td></tr>\n")
    yield "</table>\n<h2>Rules</h2>\n<table>\n<tr><th>Rule</th><th>Kind</th><th>Status</th>" \
          "<th>Expected</th><th>Got</th><th>Description</th><th>Regex</th></tr>\n"
    sections = by_section(verdict.rules)
    for section, states in sections:
        yield f"<tr class=\"section\"><td colspan=\"7\">Section {_esc(section)}</td></tr>\n"
        for s in states:
            yield _rule_row(s)
    yield "</table>\n<h2>Hits</h2>\n"
    for section, states in sections:
        for s in states:
            if s.hits.count:
                yield from _hit_list(s, section)


def _rule_row(state):
    r = state.rule
    status = "OK" if state.ok else "FAIL"
    regexes = "<br>".join(_esc(p.label) for p in r.patterns)
    name = f"<a href=\"#{_anchor(r)}\">rule-{r.num}</a>" if state.count else f"rule-{r.num}"
    return (f"<tr><td>{name}</td>"
            f"<td class=\"k-{r.kind}\">{r.label}</td><td class=\"{status}\">{status}</td>"
            f"<td>{_esc(expected_text(r))}</td><td>{_esc(got_text(state))}</td>"
            f"<td>{_esc(r.desc)}<br><small>{_esc(str(r.origin))}</small></td>"
            f"<td><code>{regexes}</code></td></tr>\n")


def _hit_list(state, section):
    r = state.rule
    yield (f"<h3 id=\"{_anchor(r)}\">rule-{r.num} {r.label} "
           f"&ldquo;{_esc(r.desc)}&rdquo; in {_esc(section)}: {state.count} "
           f"line{'s' if state.count != 1 else ''}</h3>\n<pre>")
    for number, text in state.hits.kept:
        yield f"<a href=\"#L{number}\">{number:>6}</a>: {_esc(text)}\n"
    more = state.count - len(state.hits.kept)
    if more:
        yield f"... and {more} more\n"
    yield "</pre>\n"


def _anchor(rule):
    """A valid HTML id for one rule in one section."""
    return f"rule-{rule.num}-" + re.sub(r"[^A-Za-z0-9_-]", "_", rule.section)


def _line_links(hits):
    links = ", ".join(f"<a href=\"#L{n}\">{n}</a>" for n, _ in hits.kept)
    more = hits.count - len(hits.kept)
    return links + (f", ... {more} more" if more else "")


def _esc(text):
    """TEXT safe inside HTML; bytes that were not UTF-8 show as U+FFFD."""
    text = str(text)
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return html.escape(text, quote=True)


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass
