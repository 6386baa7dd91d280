"""Reports of a run for people and CI systems: JUnit XML, an HTML report, and the diff
against an earlier run.

Usage:
  mt-report junit [--target PATT] [--runname PATT] [--testpatt PATT] [-o FILE] [--area DIR]
  mt-report html [--target PATT] [--runname PATT] [--testpatt PATT] [-o DIR] [--area DIR]
  mt-report diff [--target TARGET] [--runname RUNNAME] [--against RUNNAME] [--json] [--area DIR]
  mt-report (-h | --help)

Commands:
  junit   JUnit XML (Jenkins' junit step, GitLab's artifacts:reports:junit): one testsuite
          per run, one testcase per item and per non-iterated test (classname the test,
          name the itempath); <failure> for FAIL, <error> for ABORT and other bad ends,
          <skipped> for SKIP, blocked and unfinished records. A failure's text is its
          comment, the last 50 lines of its failing step's log, the log's path and the
          command that reproduces it.
  html    a self-contained report directory (DIR/index.html, no network needed): counts
          per status, failures grouped by signature, each failure with its log excerpt and
          reproduce command, the per-test table and the test data with expected values and
          tolerances.
  diff    the run against an earlier one of the same target: new failure, still failing,
          fixed, newly waived, new test, missing/not run. Exit 1 on any new failure.

Options:
  --target PATT     target pattern (`x86/%`) [default: %]; diff: the target.
  --runname PATT    run-name pattern; without it, the newest run of the matching targets.
  --testpatt PATT   only these records (test[/itempath] patterns) [default: %].
  --against RUN     diff: the run name to compare with, or `previous` (the run of the same
                    target started last before this one) [default: previous].
  -o FILE, --output FILE  junit: the file to write (else stdout); html: the directory
                    [default for html: megatest-report].
  --json            diff: print JSON ({"run", "against", "counts", "categories"}).
  --area DIR        the test area (else $MT_RUN_AREA_HOME, else the nearest megatest.config up).
  -h, --help        show this text.

Reads come from the live database on the home host, else a fresh copy of megatest.db.
A flaky record (failed, then passed in the same run) is marked FLAKY in every format.
Exit status: 0 written (junit and html, whatever the records say; diff: no new failure),
1 diff found a new failure, 2 usage or configuration error, or no run matched.
"""
import json
import sys

from megatest.commands.cli import check_subcommand, parse
from megatest.errors import MtError, UsageError


REPORTS = ("junit", "html", "diff")


def main(argv):
    try:
        args = parse(__doc__, argv)
    except UsageError:
        check_subcommand(__doc__, argv, REPORTS, "report", "which report",
                         "mt-report junit -o results.xml   (see mt-report --help)")
        raise
    from megatest.config.area import find_area
    area = find_area(args["--area"])
    if args["diff"]:
        return _diff(area, args)
    runs = _selected(area, args["--target"], args["--runname"], args["--testpatt"])
    if args["junit"]:
        return _junit(runs, args["--output"])
    return _html(runs, args["--output"] or "megatest-report")


def _warn(message):
    sys.stderr.write(message.rstrip("\n") + "\n")


def _read(area, target, runname, testpatt="%", detail=True, records=True):
    from megatest.report import results
    sel = results.read(area, target or "%", runname or "%", testpatt or "%", detail=detail,
                       prog="mt-report", warn=_warn, records=records)
    return results.runs(sel, detail=detail)


def _selected(area, target, runname, testpatt):
    """The runs a report covers: those matching --runname, else the newest matching run;
    none is an error that names the selector."""
    runs = _read(area, target, runname, testpatt)
    if not runname and runs:
        runs = [_newest(runs)]
    if not runs:
        raise MtError(f"no run matches --target {target or '%'}"
                      + (f" --runname {runname}" if runname else ""),
                      hint="mt-list runs   (shows the runs there are)")
    if not any(r["tests"] for r in runs) and testpatt not in ("%", None):
        raise MtError(f"--testpatt {testpatt} selects no record in "
                      f"{len(runs)} matching run{'s' if len(runs) != 1 else ''}")
    return runs


def _one(area, run, detail=True):
    """RUN (read without its records) read again with them."""
    runs = _read(area, run["target"], run["runname"], detail=detail)
    return next(r for r in runs if r["run_id"] == run["run_id"])


def _newest(runs):
    return max(runs, key=lambda r: (r["event_time"] or 0, r["run_id"]))


def _junit(runs, output):
    from megatest.report import junit
    text = junit.document(runs)
    if not output or output == "-":
        sys.stdout.write(text)
        return 0
    _write_file(output, text)
    print(f"mt-report: wrote {output} ({_summary(runs)})")
    return 0


def _html(runs, directory):
    from megatest.report import html
    try:
        path = html.write(runs, directory)
    except OSError as err:
        raise MtError(f"cannot write the report in {directory}: {err.strerror or err}") from None
    print(f"mt-report: wrote {path} ({_summary(runs)})")
    return 0


def _write_file(path, text):
    """Whole or not at all (fsutil): a CI job never reads half a report."""
    from megatest import fsutil
    try:
        fsutil.write_atomic(path, text)
    except OSError as err:
        raise MtError(f"cannot write {path}: {err.strerror or err}") from None


def _summary(runs):
    from megatest.commands.words import plural
    from megatest.report import results
    tests = [t for r in runs for t in results.counted(r["tests"])]
    failing = sum(1 for t in tests if t["outcome"] in results.FAILING)
    return (f"{plural(len(runs), 'run')}, {plural(len(tests), 'test')}, "
            f"{plural(failing, 'failure')}")


def _diff(area, args):
    from megatest.report import diff
    target, runname, against = args["--target"], args["--runname"], args["--against"]
    target = None if target == "%" else target
    if target and any(c in target for c in "%*"):
        raise UsageError(f"--target {target}: diff compares runs of one target; give it whole")
    candidates = _read(area, target, "%", detail=False, records=False)
    if not candidates:
        raise MtError(f"no run matches --target {target or '%'}",
                      hint="mt-list runs   (shows the runs there are)")
    if runname:
        mine = [r for r in candidates if r["runname"] == runname]
        if not mine:
            raise MtError(f"no run {target + '/' if target else ''}{runname}",
                          hint="mt-list runs   (shows the runs there are)")
        if len(mine) > 1:
            raise UsageError(f"run name {runname} is in {len(mine)} targets: give --target")
        run = mine[0]
    else:
        run = _newest(candidates)
    if against == "previous":
        other = diff.previous_run(candidates, run)
        note = None if other else f"no earlier run of {run['target']}: every record is new"
    else:
        other = next((r for r in candidates if r["target"] == run["target"]
                      and r["runname"] == against), None)
        if other is None:
            raise MtError(f"no run {run['target']}/{against} to compare with",
                          hint="mt-list runs   (shows the runs there are)")
        note = None
    this = _one(area, run)
    base = _one(area, other, detail=False) if other else \
        {"target": run["target"], "runname": "(none)", "tests": []}
    result = diff.compare(this, base)
    if note:
        result["note"] = note
    if args["--json"]:
        sys.stdout.write(json.dumps(result, indent=1))   # one write, not one per token
        sys.stdout.write("\n")
    else:
        if note:
            print(f"mt-report: {note}")
        sys.stdout.write(diff.text(result))
    return 1 if result["counts"]["new_failure"] else 0
