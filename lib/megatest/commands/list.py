"""Read-only queries of a test area (mt-list): runs, tests, targets and the resolved config.

Usage:
  mt-list runs [--target PATT] [--runname PATT] [--testpatt PATT] [--state LIST]
               [--status LIST] [--area DIR] [--json | --megatest]
  mt-list history [--testpatt PATT] [--target PATT] [--last N] [--area DIR] [--json]
  mt-list failures [--target PATT] [--runname PATT] [--testpatt PATT] [--area DIR] [--json]
  mt-list targets [--area DIR] [--json]
  mt-list tests [--area DIR] [--json]
  mt-list config [--target TARGET] [--area DIR] [--json]
  mt-list (-h | --help)

Commands:
  runs     the runs of the area and their test records, sorted by test name then itempath.
           Deleted runs and DELETED records are never shown. Without a database yet,
           nothing is printed (`[]` with --json).
  history  each test's and item's status across the runs of its target, oldest first, with
           how many runs in a row it has been failing and the run that streak began with.
  failures the failing records of the selected runs grouped by failure signature (the first
           error line of the failing step's log, numbers, hex, paths and times stripped),
           most frequent first, each with its log and reproduce command.
  targets  the concrete target sections of runconfigs.config, sorted ([default] and
           templates are not targets).
  tests    the tests defined in the area: name, directory, waitons, item variables.
  config   megatest.config as resolved (includes, templates and #{...} helpers done), then
           the runconfig variables of TARGET (as written, not run by the shell), or of
           [default] when no target is given.

Options:
  --target PATT     runs: a target pattern, one pattern per key (`x86/%`); a pattern with
                    fewer parts than keys leaves the other keys free (default: all).
                    config: the target whose runconfig to show.
  --runname PATT    run-name pattern: % wildcard (case-insensitive), else * [default: %].
  --testpatt PATT   test[/itempath] patterns, comma list, % wildcard, ~ negation [default: %].
  --last N          history: only the newest N runs of each target [default: 10].
  --state LIST      only records in one of these states (comma list); a state that is
                    neither known nor in [validvalues] nor on a listed record is warned about.
  --status LIST     only records with one of these statuses (comma list), warned about alike.
  --area DIR        the test area (else $MT_RUN_AREA_HOME, else the nearest megatest.config up).
  --json            print JSON.
  --megatest        print Megatest's `-list-runs` text, column for column.
  -h, --help        show this text.

JSON of `runs`: an array of runs, each {"run_id", "target", "keys": {key: value}, "runname",
"state", "status", "user_status", "event_time", "archived", "tests": [...]}. "status" is the
run's rollup status (the worst status of its toplevel records, stored by mt-run);
"user_status" is the free-form status column that only users set (`n/a` until someone does);
"archived" is the path of the run's archive (mt-clean --archive), "" when it has none. Each test is
{"test_id", "testname", "item_path" ("" = toplevel), "state", "status", "comment", "host",
"rundir", "run_duration", "event_time", "job_id" (the scheduler's, "" when started directly),
"attempt" (1 for the first launch; reruns in the same run add one), "exit_code" (the test's
wrapper's, null until it ends), "flaky" (passed after a failing attempt in this run) and
"outcome" (fail, error, flaky, waived, skip, pass, running or notrun: what reports count)}.
A flaky record shows `PASS (FLAKY)` in the text listing. `targets --json` prints {"targets": [...]};
`tests --json` an array of {"name", "path", "waitons", "items"}; `config --json`
{"target", "config": {section: {key: value}}, "runconfig": {var: value}}.

Reads never write: no lock, no server, no new file; they work in a read-only area.

A selector given that matches nothing says so in one line on stderr (for example
`no run matches --target X`, or `--testpatt P selected no record in 2 matching runs`).
Exit status: 0 listed (also when nothing matched), 2 usage or configuration error.
"""
import json
import os
import sys

from megatest.commands.cli import parse
from megatest.commands.words import counted_records, plural, tests_and_items

# Megatest's -list-runs text (cli.md, behaviour.md §15). The run line is the one cli.md fixes;
# Megatest 1.60-1.65 really print `Run: T/R <key>: v ... id: N runname: R state: S ...` (its
# `status: ... run-id:` branch is never reached), which -dumpmode json's "meta" follows.
MEGATEST_RUN = ("Run: {target}/{runname} status: {state} run-id: {run_id}, number tests: {n} "
                "event_time: {event_time}")
MEGATEST_RUN_FIELDS = ("id", "runname", "state", "status", "owner", "event_time", "comment",
                       "fail_count", "pass_count")
MEGATEST_TEST = ("  Test: {name:<25} State: {state:<15} Status: {status:<15} "
                 "Runtime: {runtime:>5}s Time: {event_time:<22} Host: {host:<10}")
MEGATEST_DETAIL = ("         cpuload:  {cpuload}\n         diskfree: {diskfree}\n"
                   "         uname:    {uname}\n         rundir:   {rundir}")
MEGATEST_STEP = "    Step: {stepname:<20} State: {state:<10} Status: {status:<10} Time {event_time:<22}"
# -dumpmode json: every test field Megatest has; its attemptnum is our attempt counter.
MEGATEST_TEST_FIELDS = ("id", "run_id", "testname", "state", "status", "event_time", "host",
                        "cpuload", "diskfree", "uname", "rundir", "item_path", "run_duration",
                        "final_logf", "comment", "shortdir", "attemptnum", "archived")
# Megatest prints details and steps only for records that need a look.
QUIET_STATUSES = ("PASS", "WARN")


LISTINGS = ("runs", "history", "failures", "targets", "tests", "config")


def main(argv):
    from megatest.errors import UsageError
    try:
        args = parse(__doc__, argv)
    except UsageError:
        _check_listing(argv)
        raise
    from megatest.config.area import find_area
    area = find_area(args["--area"])
    if args["runs"]:
        return _runs(area, args)
    if args["history"]:
        return _history(area, args)
    if args["failures"]:
        return _failures(area, args)
    if args["targets"]:
        return _targets(area, args["--json"])
    if args["tests"]:
        return _tests(area, args["--json"])
    return _config(area, args["--target"], args["--json"])


def _check_listing(argv):
    """A clearer message than docopt's when no listing word was given."""
    from megatest.commands.cli import check_subcommand
    check_subcommand(__doc__, argv, LISTINGS, "listing", "what to list", "mt-list runs --json   (see mt-list --help)")


def _warn(message):
    sys.stderr.write(message.rstrip("\n") + "\n")


# ---------------------------------------------------------------- runs

def _runs(area, args):
    from megatest.report import results
    sel = read_runs(area, args["--target"], args["--runname"], args["--testpatt"],
                    _commas(args["--state"]), _commas(args["--status"]), detail=args["--megatest"])
    for message in _nothing_matched(args, sel.runs):
        _warn(message)
    if args["--json"]:
        _print_json(results.runs(sel))
    elif args["--megatest"]:
        for run in sel.runs:
            print_megatest(run)
    else:
        for run, result in zip(sel.runs, results.runs(sel)):
            _print_run(run, result)
    return 0


def _nothing_matched(args, runs):
    """One stderr line when a selector given matched nothing, so that a typo never reads as
    an empty area or as runs without records (the listing and exit status are unchanged)."""
    chosen = {opt: args[opt] for opt in ("--target", "--runname", "--testpatt", "--state",
                                         "--status") if args[opt] not in (None, "", "%")}
    given = " ".join(f"{opt} {chosen[opt]}" for opt in ("--target", "--runname") if opt in chosen)
    if not runs:
        return [f"mt-list: no run matches {given}"] if given else []
    records = [opt for opt in ("--testpatt", "--state", "--status") if opt in chosen]
    if records and not any(sel["tests"] for sel in runs):
        what = " ".join(f"{opt} {args[opt]}" for opt in records)
        return [f"mt-list: {what} selected no record in {plural(len(runs), 'matching run')}"]
    return []


def read_runs(area, target, runname, testpatt, states=(), statuses=(), detail=False,
              prog="mt-list", settings=None):
    """The selection (report.results) with mt-list's warnings: the off-home-host note, and
    --state/--status values nothing knows. SETTINGS: the area's, when the caller has them."""
    from megatest.config import settings as settings_mod
    from megatest.report import results
    settings = settings or settings_mod.load_settings(area, warn=_warn)
    sel = results.read(area, target, runname, testpatt, states, statuses, detail=detail,
                       prog=prog, settings=settings, warn=_warn)
    for message in _unknown_filters(settings, sel.runs, states, statuses, prog):
        _warn(message)
    return sel


def _unknown_filters(settings, runs, states, statuses, prog):
    """Warnings for --state/--status values no vocabulary knows and no listed record has
    (records may carry custom values their scripts set: those are not typos)."""
    from megatest.commands.cli import unknown_value_warnings
    from megatest.states import validvalues_words
    declared = validvalues_words(settings.config.section("validvalues"))
    seen = {t[field] for sel in runs for t in sel["tests"] for field in ("state", "status")}
    return (unknown_value_warnings(prog, "state", states, "state", declared | seen)
            + unknown_value_warnings(prog, "status", statuses, "status", declared | seen))


def _commas(text):
    return tuple(w.strip() for w in (text or "").split(",") if w.strip())


def _int(value):
    return None if value is None else int(value)


def _print_run(sel, result):
    run, tests = sel["run"], sel["tests"]
    names = [_name(t, "/") for t in tests]
    width = max([len(n) for n in names] + [20])
    counted = len(counted_records(tests))
    count = plural(len(tests), "record")
    if counted != len(tests):          # say which records a summary of the run counts
        count += f": {tests_and_items(counted)}, {plural(len(tests) - counted, 'toplevel')}"
    archived = f", archived in {sel['archived']}" if sel["archived"] else ""
    print(f"{run['target']}/{run['runname']}  {run['state']}  {run['rollup_status']}  "
          f"(run-id {run['id']}, {count}{archived})")
    for name, t, r in zip(names, tests, result["tests"]):
        status = f"{t['status']} (FLAKY)" if r["flaky"] else t["status"]
        line = f"  {name:<{width}}  {t['state']:<11} {status:<14} {t['run_duration'] or 0:7.1f}s"
        job = f"  job {t['job_id']}" if t["job_id"] else ""
        print((line + job + ("  " + t["comment"] if t["comment"] else "")).rstrip())


def _name(row, sep):
    if not row["item_path"]:
        return row["testname"]
    return f"{row['testname']}{sep}{row['item_path']}" if sep == "/" else f"{row['testname']}({row['item_path']})"


def print_megatest(sel, fields_line=False):
    """One run as Megatest's -list-runs prints it; details and steps for records not PASS/WARN.

    The run line is cli.md's (`mt-list runs --megatest`), or with fields_line the one Megatest
    really prints (`megatest -list-runs`): `Run: T/R key: v ... id: N runname: R ... ` with
    #f for an empty field and a trailing space."""
    run, tests = sel["run"], sel["tests"]
    if fields_line:
        fields = "".join(f"{name}: {'#f' if value == '' else value} "
                         for name, value in _megatest_run_fields(sel))
        print(f"Run: {run['target']}/{run['runname']} {fields}")
    else:
        print(MEGATEST_RUN.format(target=run["target"], runname=run["runname"], state=run["state"],
                                  run_id=run["id"], n=len(tests), event_time=_int(run["event_time"])))
    for t in tests:
        print(MEGATEST_TEST.format(name=_name(t, "()"), state=t["state"], status=t["status"],
                                   runtime=round(t["run_duration"] or 0),
                                   event_time=_num(_int(t["event_time"])), host=t["host"] or ""))
        if t["status"] in QUIET_STATUSES or t["state"] == "NOT_STARTED":
            continue
        print(MEGATEST_DETAIL.format(cpuload=_num(t["cpuload"], keep_float=True),
                                     diskfree=_num(t["diskfree"]), uname=t["uname"] or "",
                                     rundir=t["rundir"] or ""))
        for s in sel["steps"].get(t["id"], []):
            print(MEGATEST_STEP.format(stepname=s["stepname"], state=s["state"], status=s["status"],
                                       event_time=_num(_int(s["event_time"]))))


def _megatest_run_fields(sel):
    """(name, value) of a run's "meta": the key values, then MEGATEST_RUN_FIELDS. The run's
    state is this project's (new, running, completed, incomplete); its status is the
    free-form one users set (n/a until then), as in Megatest."""
    run = sel["run"]
    values = dict(sel["keys"])
    values.update((f, run[f]) for f in MEGATEST_RUN_FIELDS)
    values["event_time"] = _int(run["event_time"])
    return [(name, "" if value is None else value) for name, value in values.items()]


def megatest_json(runs):
    """-list-runs -dumpmode json, in Megatest's shape: {target: {runname: {"meta": {field:
    text}, "data": {test id: {field: value}}}}}; "data" only for a run with records."""
    out = {}
    for sel in runs:
        run = sel["run"]
        entry = out.setdefault(run["target"], {}).setdefault(run["runname"], {})
        entry["meta"] = {name: str(value) for name, value in _megatest_run_fields(sel)}
        if sel["tests"]:
            entry["data"] = {str(t["id"]): _megatest_test(t) for t in sel["tests"]}
    return out


def _megatest_test(row):
    out = {}
    for field in MEGATEST_TEST_FIELDS:
        value = row["attempt" if field == "attemptnum" else field]
        if field == "event_time":
            value = _int(value)            # whole seconds, as -list-runs' text shows it
        elif field == "run_duration":
            value = round(value or 0)
        elif value is None:
            value = ""
        out[field] = value
    return out


def _num(value, keep_float=False):
    """Numbers as Megatest shows them: integer columns without `.0` (its own are INTEGER);
    REAL ones (cpuload) as floats, `-1.0`; nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and not keep_float:
        return str(int(value))
    return str(value)


def _print_json(value):
    sys.stdout.write(json.dumps(value, indent=1))   # one write: json.dump writes per token
    sys.stdout.write("\n")


# ---------------------------------------------------------------- history, failures

def _history(area, args):
    from megatest.commands.cli import int_option
    from megatest.report import history, results
    last = int_option(args, "--last", minimum=1)
    sel = read_runs(area, args["--target"], "%", args["--testpatt"])
    rows = history.history(results.runs(sel), last=last)
    if args["--json"]:
        _print_json(rows)
        return 0
    if not rows:
        _warn(f"mt-list: no record matches --testpatt {args['--testpatt']}"
              f" --target {args['--target'] or '%'}")
        return 0
    width = max(len(r["test"]) for r in rows)
    target = None
    for r in rows:
        if r["target"] != target:
            target = r["target"]
            print(f"{target}: {' '.join(c['runname'] for c in r['runs'])} (oldest first)")
        print(f"  {r['test']:<{width}}  [{history.strip(r['runs'])}]  {_streak_words(r)}")
    print("  (P pass, F fail, E error, f flaky, W waived, S skip, R running, . not run)")
    return 0


def _streak_words(row):
    if row["failing_for"]:
        words = (f"failing for {plural(row['failing_for'], 'run')} since {row['first_failing']}")
        return words + (f", last passed in {row['last_passed']}" if row["last_passed"] else
                        ", never passed in these runs")
    last = row["runs"][-1]
    return last["status"] or "not in the newest run"


def _failures(area, args):
    from megatest.report import results, signatures
    sel = read_runs(area, args["--target"], args["--runname"], args["--testpatt"], detail=True)
    for message in _nothing_matched(args, sel.runs):
        _warn(message)
    buckets = signatures.buckets(results.runs(sel, detail=True))
    if args["--json"]:
        _print_json(buckets)
        return 0
    if not buckets:
        print(f"no failing record in {plural(len(sel.runs), 'run')}")
        return 0
    for b in buckets:
        print(f"{b['count']:>4}  {b['signature']}")
        if b["example"]:
            print(f"      e.g. {b['example']}")
        for t in b["tests"]:
            print(f"      {t['target']}/{t['runname']}  {t['test']}  {t['status']}")
            print(f"        log: {t['log'] or '(none)'}")
            print(f"        reproduce: {t['reproduce']}")
    return 0


# ---------------------------------------------------------------- targets, tests

def _targets(area, as_json):
    from megatest.config import settings as settings_mod
    from megatest.config.parse import list_targets
    settings_mod.read_keys(area, warn=_warn)      # a broken megatest.config is an error here too
    targets = []
    if os.path.isfile(area.runconfig_path):
        targets = list_targets(area.runconfig_path, toppath=area.toppath, warn=_warn)
    if as_json:
        _print_json({"targets": targets})
    else:
        for target in targets:
            print(target)
    return 0


def _tests(area, as_json):
    from megatest.config import settings as settings_mod, testdefs
    settings = settings_mod.load_settings(area, warn=_warn)
    env = dict(os.environ, MT_RUN_AREA_HOME=area.toppath, MT_LINKTREE=settings.linktree,
               MT_TESTSUITENAME=settings.area_name)
    found = testdefs.discover_tests(area, settings.tests_paths, _warn)
    defs, broken = testdefs.load_testdefs(found, area, env, {}, warn=_warn)
    for name in sorted(broken):      # one broken test must not hide the others
        _warn(f"mt-list: warning: {broken[name]}; test {name} not listed")
    listed = [{"name": name, "path": t.path, "waitons": list(t.deps.waitons),
               "items": [var for var, _ in t.items + t.itemstable]}
              for name, t in sorted(defs.items())]
    if as_json:
        _print_json(listed)
        return 0
    width = max([len(t["name"]) for t in listed] + [10])
    for t in listed:
        extra = "".join(f"  {label}: {' '.join(t[key])}" for label, key in
                        (("waiton", "waitons"), ("items", "items")) if t[key])
        print(f"{t['name']:<{width}}  {t['path']}{extra}")
    return 0


# ---------------------------------------------------------------- config

def _config(area, target, as_json):
    from megatest.config import settings as settings_mod
    settings = settings_mod.load_settings(area, warn=_warn, target=target)
    runconfig = resolved_runconfig(area, settings, target)
    sections = settings.config.sections
    if as_json:
        _print_json({"target": target, "config": sections, "runconfig": runconfig})
        return 0
    sys.stdout.write(ini_text(sections))
    origin = f"target {target}" if target else "[default] (no --target)"
    sys.stdout.write(f"\n# runconfigs.config resolved for {origin}\n")
    sys.stdout.write(ini_text({target or "default": runconfig}))
    return 0


def resolved_runconfig(area, settings, target):
    """The runconfig variables of target (or of [default]) as read: helpers and [system] lines
    expanded, values not run through the shell (Megatest's -show-runconfig runs none)."""
    from megatest.config.parse import read_runconfig
    from megatest.config.settings import key_environ, split_target
    if not os.path.isfile(area.runconfig_path):
        return {}
    env = dict(settings.environ, MT_LINKTREE=settings.linktree)
    if target:
        env.update(key_environ(settings.keys, split_target(target, settings.keys)), MT_TARGET=target)
    raw = read_runconfig(area.runconfig_path, target or "default", toppath=area.toppath,
                         environ=env, warn=_warn)
    return raw


def ini_text(sections):
    """Sections as config text that reads back the same (continuation lines indented)."""
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        for key, value in keys.items():
            first, *rest = str(value).split("\n")
            lines.append(f"{key} {first}".rstrip())
            lines.extend(f"    {more}" for more in rest)
        lines.append("")
    return "\n".join(lines)
