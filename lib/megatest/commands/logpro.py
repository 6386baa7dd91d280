"""logpro: Megatest's log checker, rebuilt: rules (Scheme forms) applied to a log read on stdin.

This runs once per ezstep that has a NAME.logpro, so it parses its arguments by hand and
imports only the standard library, megatest.logpro and megatest.scheme. Its exit code is a
verdict, so none of its own problems may look like one that lets a test pass: a rule file
that cannot be read is ABORT (5), never WARN (2), and a usage error (2) only ever comes
from a bad command line, which Megatest never produces.
"""
import os
import sys

from megatest.errors import MtError
from megatest.logpro import check, model, report, rules

USAGE = """\
logpro: check a log against a rule file; print the annotated log, write an HTML report and
the test data (.dat).

Usage:
  logpro RULES [HTML [WAIVERS]] < LOG > ANNOTATED.log
  logpro (-h | --help)

Arguments:
  RULES    the rule file: Scheme forms such as
             (expect:error    in "LogFileBody" = 0 "no errors" #/error/i)
             (expect:required in "LogFileBody" > 0 "it ran" #/done/)
  HTML     the report to write. BASE.dat is written beside it (BASE is HTML without its
           extension): the test data Megatest loads. Without HTML: no report, summary.dat.
  WAIVERS  a rule file read before RULES; its rules come first, so they win a line.

Options:
  -h, --help  show this text.

Exit status (the verdict):
  0 PASS   1 FAIL (error, required or value rule failed)   2 WARN   3 CHECK
  4 WAIVE (only waive rules failed)   5 ABORT (or: the rule file could not be loaded)
  6 SKIP.  When rules of several kinds fail: SKIP > ABORT > CHECK > FAIL > WARN > WAIVE.
  A bad command line exits 2 after this text's usage lines.
"""
USAGE_LINES = "usage: logpro RULES [HTML [WAIVERS]] < LOG > ANNOTATED.log\n" \
              "       logpro --help\n"
PROG = "logpro"


def main(argv, stdin=None, stdout=None, stderr=None, environ=None):
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    stderr = stderr or sys.stderr
    args = _parse(argv)
    if args == "help":
        stdout.write(USAGE.encode())
        stdout.flush()
        return 0
    if isinstance(args, str):
        stderr.write(f"{PROG}: error: {args}\n{USAGE_LINES}")
        return 2
    rules_path, html_path, waiver = (args + [None, None])[:3]
    try:
        ruleset = rules.load_rules(rules_path, waiver, environ=environ)
    except MtError as err:
        stderr.write(f"{PROG}: error: {err}\n")
        return model.ABORT_CODE
    for warning in ruleset.warnings:
        stderr.write(f"{PROG}: warning: {warning}\n")
    return _check(ruleset, rules_path, html_path, stdin, _Output(stdout), stderr)


def _parse(argv):
    """The positional arguments, "help", or a usage error message (a str)."""
    positional, options_done = [], False
    for arg in argv:
        if not options_done and arg == "--":
            options_done = True
        elif not options_done and arg in ("-h", "--help"):
            return "help"
        elif not options_done and arg.startswith("-") and arg != "-":
            return f"unknown option {arg}"
        else:
            positional.append(arg)
    if not 1 <= len(positional) <= 3:
        return f"expected RULES [HTML [WAIVERS]], got {len(positional)} arguments"
    return positional


def _check(ruleset, rules_path, html_path, stdin, out, stderr):
    report_file = None
    if html_path:
        try:
            from megatest.logpro.htmlreport import HtmlReport
            report_file = HtmlReport(html_path)
        except OSError as err:
            stderr.write(f"{PROG}: error: cannot write {html_path}: {err.strerror}\n")
            return model.ABORT_CODE
    try:
        verdict = _run(ruleset, stdin, out, report_file)
    except OSError as err:
        if report_file:
            report_file.discard()
        stderr.write(f"{PROG}: error: cannot read the log: {err.strerror}\n")
        return model.ABORT_CODE
    except BaseException:
        if report_file:
            report_file.discard()
        raise
    return _write_outputs(verdict, rules_path, html_path, report_file, stderr)


def _run(ruleset, stdin, out, report_file):
    for text in ruleset.output:
        out.line(text)
    checker = check.Checker(ruleset, run_hook=out.run)
    for text in check.log_lines(stdin):
        result = checker.feed(text)
        for note in result.notes:
            out.line(note)
        out.line(text)
        if report_file:
            report_file.add_line(checker.lines, text, result)
    for note in checker.finish():
        out.line(note)
    verdict = checker.verdict()
    for line in report.summary_lines(verdict):
        out.line(line)
    out.flush()
    return verdict


def _write_outputs(verdict, rules_path, html_path, report_file, stderr):
    from megatest import fsutil
    dat = report.dat_path(html_path)
    try:
        fsutil.write_atomic(dat, report.dat_text(verdict), fsync=False)
    except OSError as err:
        # logpro goes on without its .dat (e.g. a read-only directory); Megatest then has no data
        stderr.write(f"{PROG}: warning: cannot write {dat}: {err.strerror}\n")
    if report_file:
        try:
            report_file.finish(verdict, rules_path)
        except OSError as err:
            stderr.write(f"{PROG}: error: cannot write {html_path}: {err.strerror}\n")
            return model.ABORT_CODE
    return verdict.code


class _Output:
    """The annotated log on stdout. A closed pipe (`logpro ... | head`) stops the writing,
    not the check: the exit code must still be the verdict on the whole log."""

    def __init__(self, stream):
        self.stream = stream
        self.open = True

    def line(self, text):
        self.write((text + "\n").encode("utf-8", "surrogateescape"))

    def write(self, data):
        if not self.open:
            return
        try:
            self.stream.write(data)
        except BrokenPipeError:
            self.close()

    def flush(self):
        if self.open:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.close()

    def close(self):
        self.open = False
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
        except (OSError, AttributeError, ValueError):
            pass

    def run(self, command):
        """Run a hook's shell command; its output joins the annotated log, as in logpro."""
        import subprocess
        proc = subprocess.run(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE)
        self.write(proc.stdout)
