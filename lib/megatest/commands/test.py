"""mt-test: called from inside a running test to record its state, status, steps and data.

Every test step pays for this command's start-up, so the normal path imports the standard
library and a few small library modules only; arguments are parsed by hand. USAGE is a docopt
text all the same (tests check it parses), and is what --help prints.
"""
import os
import sys

from megatest import states
from megatest.errors import MtError, UsageError
from megatest.launch import testenv
from megatest.serve import testroute

USAGE = """\
mt-test: called from inside a running test to record its state, status, steps and data.

Usage:
  mt-test status STATE STATUS [--comment TEXT]
  mt-test step NAME (start | end) [--status STATUS] [--logfile FILE] [--comment TEXT]
  mt-test data load CSVFILE
  mt-test data set CATEGORY VARIABLE VALUE [--expected E] [--tol T] [--units U] [--comment TEXT]
  mt-test runstep NAME [--logpro FILE] [--comment TEXT] [--] CMD...
  mt-test setlog FILE [--comment TEXT]
  mt-test show
  mt-test (-h | --help)

Commands:
  status    set this record's state and status. A numeric STATUS is an exit code
            (0 -> PASS, other -> FAIL); AUTO computes the status from the test data.
  step      add or replace the step row (NAME, start|end). At `end`, NAME.dat in the run
            directory (a log checker's output) is loaded as test data.
  data      load test data rows `category,variable,value,expected,tol,units,comment,status,type`
            from CSVFILE (`-` = stdin), or set one row. Rows without a status get pass/fail
            from value, expected and tol; the test's pass/fail counts are updated.
  runstep   run CMD through /bin/sh in the current directory, stdout and stderr to NAME.log,
            recording the rows (NAME, start) and (NAME, end, <exit code>). One CMD word is
            shell text; several words are one command line, quoted as given. With --logpro,
            `logpro FILE NAME.html < NAME.log` checks the log and NAME.html becomes the final log.
  setlog    set the record's final log file (relative to the run directory).
  show      print this test's identity (run, test, database, run directory).

Options:
  -m TEXT, --comment TEXT  set the comment (the record's; for step and runstep, the step's).
  --status STATUS          the step's status [default: n/a].
  --logfile FILE           the step's log file; also the record's final log.
  --expected E             expected value.
  --tol T                  tolerance: a number, or one of > < >= <=.
  --units U                units.
  --logpro FILE            log checker rules for runstep.
  -h, --help               show this text.

Exit status: 0 done; 1 the step failed, or the record refused the change (it is being
killed or removed); 2 bad arguments, bad input, or not called from inside a test.
"""

# name: (positional names, options, usage line for error hints)
COMMANDS = {
    "status": (("STATE", "STATUS"), ("--comment",), "status STATE STATUS [--comment TEXT]"),
    "step": (("NAME", "start|end"), ("--status", "--logfile", "--comment"),
             "step NAME start|end [--status STATUS] [--logfile FILE] [--comment TEXT]"),
    "data load": (("CSVFILE",), (), "data load CSVFILE"),
    "data set": (("CATEGORY", "VARIABLE", "VALUE"), ("--expected", "--tol", "--units", "--comment"),
                 "data set CATEGORY VARIABLE VALUE [--expected E] [--tol T] [--units U] "
                 "[--comment TEXT]"),
    "runstep": (("NAME", "CMD..."), ("--logpro", "--comment"),
                "runstep NAME [--logpro FILE] [--comment TEXT] -- CMD..."),
    "setlog": (("FILE",), ("--comment",), "setlog FILE [--comment TEXT]"),
    "show": ((), (), "show"),
}
ALIASES = {"-m": "--comment"}
STEP_STATES = ("start", "end")
LOGPRO = "logpro"
LOGPRO_MISSING_CODE = 127  # the end row's code without a checker: what sh says for "not found"


def main(argv, environ=None):
    environ = os.environ if environ is None else environ
    if not argv:
        raise UsageError("missing command (status, step, data, runstep, setlog or show)",
                         hint="mt-test --help")
    if _wants_help(argv):
        sys.stdout.write(USAGE)
        return 0
    name, args, opts = parse_args(argv)
    ident = testenv.identity_from_env(environ)
    remote = testroute.off_home(environ)
    if name == "show":
        return show(ident, remote, environ)
    test = testroute.TestRecord(ident, environ, remote, say=_say)
    try:
        return _dispatch(test, name, args, opts)
    finally:
        test.close()


def _say(text):
    sys.stderr.write(f"mt-test: {text}\n")


def _dispatch(test, name, args, opts):
    comment = opts.get("--comment")
    if name == "status":
        return set_status(test, args[0], args[1], comment)  # fires triggers
    if name == "step":
        return record_step(test, args[0], args[1], opts.get("--status") or states.NA,
                           opts.get("--logfile"), comment)
    if name == "data load":
        return load_data(test, args[0])
    if name == "data set":
        row = {"category": args[0], "variable": args[1], "value": args[2],
               "expected": opts.get("--expected", ""), "tol": opts.get("--tol", ""),
               "units": opts.get("--units", ""), "comment": comment or ""}
        return store_data(test, [row], "data set")
    if name == "runstep":
        return run_step(test, args[0], _command_text(args[1:]), opts.get("--logpro"), comment)
    return test.call("setlog", path=args[0], comment=comment)["code"]


# ---------------------------------------------------------------- arguments

def _wants_help(argv):
    words = argv[:argv.index("--")] if "--" in argv else argv
    return "-h" in words or "--help" in words


def parse_args(argv):
    """Return (command name, positionals, {option: value}); UsageError names the bad word."""
    name, words = argv[0], list(argv[1:])
    if name == "data":
        if not words or words[0] not in ("load", "set"):
            got = repr(words[0]) if words else "nothing"
            raise UsageError(f"data: expected 'load' or 'set', got {got}",
                             hint=_hint("data load"))
        name = "data " + words.pop(0)
    if name not in COMMANDS:
        raise UsageError(f"unknown command {name!r}", hint="mt-test --help")
    positional, allowed, _ = COMMANDS[name]
    args, opts = _split_words(name, words, allowed)
    _check_count(name, args, positional)
    if name == "step" and args[1] not in STEP_STATES:
        raise UsageError(f"step: state must be start or end, got {args[1]!r}", hint=_hint(name))
    return name, args, opts


def _split_words(name, words, allowed):
    args, opts = [], {}
    while words:
        word = words.pop(0)
        if word == "--":
            args.extend(words)
            break
        option = ALIASES.get(word, word)
        if not option.startswith("--"):
            args.append(word)
            continue
        option, eq, value = option.partition("=")
        if option not in allowed:
            raise UsageError(f"{name}: unknown option {option}", hint=_hint(name))
        if not eq:
            if not words:
                raise UsageError(f"{name}: option {option} needs a value", hint=_hint(name))
            value = words.pop(0)
        opts[option] = value
    return args, opts


def _check_count(name, args, positional):
    variadic = positional and positional[-1].endswith("...")
    if len(args) < len(positional):
        missing = positional[len(args)].rstrip(".")
        raise UsageError(f"{name}: missing {missing}", hint=_hint(name))
    if len(args) > len(positional) and not variadic:
        raise UsageError(f"{name}: unexpected argument {args[len(positional)]!r}", hint=_hint(name))


def _hint(name):
    return f"mt-test {COMMANDS[name][2]}   (see mt-test --help)"


def _command_text(words):
    """One word is shell text as written; several are an argv, quoted so they stay as given."""
    if len(words) == 1:
        return words[0]
    import shlex
    return shlex.join(words)


# ---------------------------------------------------------------- the calling test's record

def set_status(test, state, status, comment):
    """Set exactly STATE/STATUS (numeric -> PASS/FAIL, AUTO -> from the data); fire triggers."""
    return test.call("status", state=state, status=status, comment=comment)["code"]


# ---------------------------------------------------------------- data

def load_data(test, source):
    from megatest.testside import testdata
    text = _read_input(source)
    return store_data(test, testdata.parse_csv_rows(text), "stdin" if source == "-" else source)


def _read_input(source):
    if source == "-":
        return sys.stdin.read()
    try:
        with open(source) as f:
            return f.read()
    except OSError as err:
        raise MtError(f"cannot read test data: {err.strerror}", path=source) from None


def store_data(test, rows, origin):
    """Compute missing statuses, upsert ROWS, update the counts (the status waits, §11.7)."""
    from megatest.testside import testdata
    problems = []
    rows = [testdata.normalize_row(r, warn=lambda m, r=r: problems.append(_row_problem(r, m)))
            for r in rows]
    size = test.max_rows or len(rows) or 1
    for start in range(0, max(len(rows), 1), size):
        test.call("data", rows=rows[start:start + size])
    for problem in problems:
        sys.stderr.write(f"mt-test: error: {origin}: {problem}\n")
    return 2 if problems else 0


def _row_problem(row, message):
    return f"row {row.get('category', '')},{row.get('variable', '')}: {message}"


# ---------------------------------------------------------------- steps

def _checker_rows(path, stepname):
    from megatest.testside.checkerdata import checker_rows    # only when a checker ran
    return checker_rows(path, stepname)


def record_step(test, name, state, status, logfile, comment):
    rows, problem = [], None
    if state == "end":
        rows, problem = _checker_rows(os.path.join(test.rundir(), name + ".dat"), name)
    test.call("step", name=name, state=state, status=status, logfile=logfile or "",
              comment=comment or "", rows=rows)
    if problem:
        sys.stderr.write(f"mt-test: error: {problem} (step {name} recorded without its data)\n")
        return 2
    return 0


def run_step(test, name, command, rules, comment):
    """Record (NAME, start), run COMMAND into NAME.log, check it, record (NAME, end, <code>);
    0 when the step passed (PASS or WARN), else 1."""
    _, status = run_checked_step(test, name, command, rules, comment)
    return 0 if status in (states.PASS, states.WARN) else 1


def run_checked_step(test, name, command, rules, comment):
    """run_step's work; returns the code on the end row (the step's exit code, or the log
    checker's) and its status. `megatest -runstep` exits with that code, as Megatest does."""
    test.call("step", name=name, state="start", status=states.NA, logfile="",
              comment=comment or "")
    log = name + ".log"
    code = _run_logged(command, log)
    status, note, rows, problem = states.exit_to_status(code, "ezstep"), "", [], None
    checked = _check_log(rules, name, log) if rules else None
    if checked:
        code, status, log = checked[0], checked[1], name + ".html"
        rows, problem = _checker_rows(name + ".dat", name)
        note = _checker_note(status, code, rows)
    elif rules:
        code, status, note = LOGPRO_MISSING_CODE, states.FAIL, "log checker not found"
    elif status != states.PASS:
        note = f"{status}: exit code {code}"
    test.call("step", name=name, state="end", status=str(code), comment=comment or note,
              logfile=log, rows=rows, final=log.endswith(".html"))
    if problem:
        sys.stderr.write(f"mt-test: error: {problem} (step {name} recorded without its data)\n")
    return code, status


def _run_logged(command, log):
    """Run COMMAND via /bin/sh with stdout and stderr in LOG; return its exit code."""
    import subprocess
    with open(log, "w") as out:
        proc = subprocess.run(["/bin/sh", "-c", command], stdout=out, stderr=subprocess.STDOUT)
    return _exit_code(proc.returncode)


def _exit_code(returncode):
    return returncode if returncode >= 0 else 128 - returncode  # killed by a signal: as sh says


def _check_log(rules, name, log):
    """Run `logpro RULES NAME.html < LOG` from PATH: (exit code, status), or None without logpro."""
    import shutil
    import subprocess
    checker = shutil.which(LOGPRO)
    if checker is None:
        return None
    with open(log) as stdin:
        proc = subprocess.run([checker, rules, name + ".html"], stdin=stdin,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    code = _exit_code(proc.returncode)
    return code, states.exit_to_status(code, "checker")


def _checker_note(status, code, rows):
    """The end row's comment: "<status>: <checker message>" unless PASS (§11.4)."""
    if status == states.PASS:
        return ""
    from megatest.testside.checkerdata import verdict_message
    return f"{status}: {verdict_message(rows) or f'log checker exit code {code}'}"


# ---------------------------------------------------------------- show

def show(ident, remote_home, environ):
    lines = [("run-id", ident.run_id or ""), ("test-id", ident.test_id or ""),
             ("db", ident.db_path), ("rundir", ident.rundir), ("area", ident.toppath),
             ("target", ident.target), ("runname", ident.runname), ("test", ident.testname),
             ("itempath", ident.item_path), ("route", _route_text(ident, remote_home))]
    sys.stdout.write("".join(f"{key}: {value}\n" for key, value in lines))
    return 0


def _route_text(ident, remote_home):
    """Which way this test's calls go; off the home host, whether mt-serve answers now."""
    here = os.uname().nodename
    if not remote_home:
        return f"direct (live database on this host, {here})"
    from megatest.serve import rpc_client
    from megatest.testside import testops
    client = rpc_client.Client(ident.toppath)
    try:
        got = client.call("show", {"test": testops.test_ref(ident)}, patience=0)
        answer = f"reachable, record {got['state']}/{got['status']}"
    except rpc_client.Unreachable as err:
        answer = f"unreachable now: {err}"
    except MtError as err:
        answer = f"answers: {err}"
    finally:
        client.close()
    return f"mt-serve at {client.where()} (home host {remote_home}, this host {here}; {answer})"
