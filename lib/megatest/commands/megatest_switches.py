"""megatest's switches: the usage text, which switches take a value, which belong to the test
side and which are run actions, and the messages about them. Shared by the front end
(megatest.py) and its two halves (megatest_run.py, megatest_test.py), so that neither half
imports the front end that imports it.
"""
import os
import sys

from megatest.errors import UsageError

USAGE = """\
megatest: Megatest's command line, run by this project's library (see mt-run, mt-list, mt-test).

Usage:
  megatest (-run | -runall) -target TARGET -runname NAME [-testpatt PATT] [-itempatt PATT]
           [-rerun STATUSES | -rerun-clean | -rerun-all] [-preclean] [-run-wait] [-q]
  megatest -runtests PATT -target TARGET -runname NAME
  megatest -reqtarg TARGET -runname NAME -run [-testpatt PATT]
  megatest -list-runs RUNPATT [-target PATT] [-testpatt PATT] [-state LIST] [-status LIST]
           [-dumpmode json]
  megatest -list-targets [-target PATT] [-dumpmode json]
  megatest -list-db-targets [-target PATT] [-dumpmode json]
  megatest -remove-runs -target PATT -runname PATT [-testpatt PATT]
  megatest -set-state-status STATE,STATUS -target PATT -runname PATT [-testpatt PATT]
           [-state LIST] [-status LIST]
  megatest -set-run-status STATUS -target PATT -runname PATT [-m COMMENT]
  megatest -get-run-status -target PATT -runname PATT
  megatest (-lock | -unlock) -target PATT -runname PATT
  megatest -run-wait -target PATT -runname PATT [-testpatt PATT]
  megatest -show-config [-section SECTION -var VAR] [-dumpmode (ini | json)]
  megatest -show-runconfig [-target TARGET] [-section SECTION -var VAR] [-dumpmode (ini | json)]
  megatest -test-paths [-target PATT] [-runname PATT] [-testpatt PATT] [-state PATT] [-status PATT]
  megatest -test-files GLOB [-target PATT] [-runname PATT] [-testpatt PATT]
  megatest -env2file NAME
  megatest -create-megatest-area
  megatest -create-test NAME
  megatest -test-status :state STATE :status STATUS [-m COMMENT] [-setlog FILE]
  megatest -step NAME :state STATE :status STATUS [-setlog FILE] [-m COMMENT]
  megatest -runstep NAME CMD... [-logpro RULES] [-m COMMENT]
  megatest -set-values :value VALUE :expected EXPECTED :tol TOL [:category CAT]
           [:variable VAR] [:units UNITS] [-m COMMENT]
  megatest -load-test-data [-m COMMENT]
  megatest -setlog FILE
  megatest -set-toplog FILE
  megatest -server (- | HOST)
  megatest (-list-servers | -stop-server | -kill-servers)
  megatest -version
  megatest (-h | --help)

Selecting runs and tests:
  -target TARGET      key values joined by / (a pattern where runs are selected; % wildcard).
                      Inside a test it defaults to $MT_TARGET.
  -reqtarg TARGET     as -target, but [TARGET] must be a section of runconfigs.config.
  -runname NAME       the run's name (a pattern where runs are selected); also :runname.
  -testpatt PATT      test[/itempath] patterns, comma list, % wildcard; -itempatt PATT adds
                      /PATT to it (Megatest's older spelling).
  -state, -status     comma lists (also :state, :status) filtering the records.

Runs (mt-run): -run, -runall and -runtests PATT start or resume a run and wait until every
selected test has finished; -rerun STATUSES, -rerun-clean and -rerun-all relaunch finished
records (the last two also start the run). -preclean and -run-wait are accepted: a relaunch
always cleans its directory, and every run waits. Exits 0 when the run ended, also with
failed tests, as Megatest does; 2 on a usage or configuration error.

Queries and changes: -list-runs prints Megatest's -list-runs text (mt-list runs --megatest)
or, with -dumpmode json, its JSON; -remove-runs, -lock and -unlock are mt-clean's;
-set-state-status sets the selected records (locked runs are skipped) and fires their
triggers; -set-run-status sets the run's free-form status; -test-paths prints the run
directories of the selected records, newest first, and -test-files GLOB the files matching
GLOB in them.

Inside a test (identity from the MT_* environment, as mt-test): -test-status, -step,
-runstep (stdout and stderr in NAME.log; exits with the step's code, 3 for codes above 2),
-set-values, -load-test-data (CSV on standard input), -setlog, -set-toplog. -m sets the
step's comment with -step and -runstep, else the record's.

Accepted but changing nothing here (one line on stderr says so): -debug N, -v, -transport,
-summarize-items, :first_err, :first_warn. -log FILE sends all output to FILE; -start-dir DIR
runs in DIR. Any other switch, or a switch without its value, is refused with exit 2.

Exit status: 0 done; 1 something failed (a test step, a run or record that was not found);
2 usage, configuration or input error (Megatest used 1, 3, 5 or 6 for these).
"""

# Megatest's two kinds of switches (margs.scm): those that take the next word and flags.
VALUED = frozenset((
    "-target", "-reqtarg", "-runname", ":runname", "-testpatt", "-itempatt", "-state", ":state",
    "-status", ":status", "-runtests", "-list-runs", "-set-state-status", "-set-run-status",
    "-rerun", "-test-files", "-env2file", "-create-test", "-start-dir", "-section", "-var",
    "-dumpmode", "-server", "-transport", "-debug", "-log", "-step", "-runstep", "-setlog",
    "-set-toplog", "-logpro", "-m", ":category", ":variable", ":value", ":expected", ":tol",
    ":units", ":comment", ":type", ":first_err", ":first_warn", ":expected_value"))
FLAGS = frozenset((
    "-h", "-help", "--help", "-version", "-run", "-runall", "-rerun-clean", "-rerun-all",
    "-preclean", "-run-wait", "-runwait", "-list-targets", "-list-db-targets", "-remove-runs",
    "-lock", "-unlock", "-get-run-status", "-show-config", "-show-runconfig", "-test-paths",
    "-create-megatest-area", "-list-servers", "-stop-server", "-kill-servers", "-v", "-q",
    "-test-status", "-set-values", "-load-test-data", "-summarize-items"))
HELP = ("-h", "-help", "--help")
USAGE_PUNCTUATION = str.maketrans("()[]|", "     ")
# A call from inside a test: one of these picks the fast side.
TEST_SIDE = ("-test-status", "-step", "-runstep", "-set-values", "-load-test-data", "-setlog",
             "-set-toplog", "-summarize-items")
# Everything else that acts (outside a test); without one of these there is nothing to do.
RUN_ACTIONS = frozenset((
    "-run", "-runall", "-runtests", "-rerun-clean", "-rerun-all", "-list-runs", "-list-targets",
    "-list-db-targets", "-remove-runs", "-set-state-status", "-set-run-status", "-get-run-status",
    "-lock", "-unlock", "-show-config", "-show-runconfig", "-test-paths", "-test-files",
    "-env2file", "-create-megatest-area", "-create-test", "-server", "-list-servers",
    "-stop-server", "-kill-servers", "-version", "-run-wait", "-runwait"))
# Never reported as unused: they act (or say they do not) wherever they appear.
COMMON = frozenset(("-start-dir", "-log", "-debug", "-v", "-transport"))
NO_EFFECT = {
    "-debug": "no debug levels here; errors and warnings are always shown",
    "-v": "no verbosity levels here",
    "-transport": "this Megatest has one server, mt-serve, speaking JSON over HTTP",
}


def parse(argv):
    """({switch: value or True}, [plain words]), as Megatest's margs reads argv (a repeated
    switch keeps its last value). A value must not be another switch: `-target -run` is a
    missing value, not a target named -run. Unknown switches are refused, except after
    -runstep, whose command words may look like switches (`-runstep s ls -l`)."""
    opts, words = {}, []
    runstep = "-runstep" in argv
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in VALUED:
            if i + 1 == len(argv) or argv[i + 1] in VALUED or argv[i + 1] in FLAGS:
                raise UsageError(f"{word} needs a value", hint=usage_line(word))
            opts[word] = argv[i + 1]
            i += 2
            continue
        if word in FLAGS:
            opts[word] = True
        elif runstep or not (word.startswith(":") or word.startswith("-") and len(word) > 1):
            words.append(word)
        else:
            raise UsageError(f"unknown switch {word}", hint="megatest -h")
        i += 1
    return opts, words


def usage_line(switch):
    """The usage line of SWITCH, offered as `try:` after a mistake with it."""
    for line in USAGE.splitlines():
        words = line.translate(USAGE_PUNCTUATION).split()
        if line.startswith("  megatest ") and switch in words:
            return line.strip()
    return "megatest -h"


def common(opts):
    """-start-dir and -log act first, on both sides, as in Megatest; -debug, -v and
    -transport say once that they change nothing."""
    if "-start-dir" in opts:
        try:
            os.chdir(opts["-start-dir"])
        except OSError as err:
            raise UsageError(f"-start-dir {opts['-start-dir']}: {err.strerror}") from None
        os.environ["PWD"] = os.getcwd()
    if "-log" in opts:
        _log_to(opts["-log"])
    for switch, why in NO_EFFECT.items():
        if switch in opts:
            note(switch, opts[switch], why)


def _log_to(path):
    """All further output (ours and that of the commands we start) goes to PATH."""
    try:
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as err:
        raise UsageError(f"-log {path}: {err.strerror}") from None
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def note(switch, value, why):
    """The one stderr line of a switch that is accepted but changes nothing."""
    shown = switch if value is True or value is None else f"{switch} {value}"
    sys.stderr.write(f"megatest: {shown}: ignored ({why})\n")


def note_unused(opts, used, action):
    """One `ignored` line per given switch that ACTION does not use (Megatest ignores them
    silently; here a script's mistake shows)."""
    for switch, value in opts.items():
        if switch not in used and switch not in COMMON:
            note(switch, value, f"it does nothing with {action}")
