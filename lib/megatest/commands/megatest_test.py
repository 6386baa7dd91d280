"""megatest's calls from inside a running test: -test-status, -step, -runstep, -set-values,
-load-test-data, -setlog, -set-toplog, -summarize-items (behaviour.md §12).

Each is one of mt-test's own functions (commands/test.py) on a testroute.TestRecord, so the
records, the route (live database or mt-serve), triggers and rollups are mt-test's, and so is
the start-up cost: only the standard library and the small modules mt-test imports.
"""
import os
import sys

from megatest.commands import test as mt_test
from megatest.commands.megatest_switches import TEST_SIDE, note, note_unused
from megatest.errors import MtError, UsageError
from megatest.launch import testenv
from megatest.serve import testroute

STATES = (":state", "-state")
STATUSES = (":status", "-status")
DATA_FIELDS = {":category": "category", ":variable": "variable", ":value": "value",
               ":expected": "expected", ":tol": "tol", ":units": "units", ":comment": "comment",
               ":type": "type"}
DATA_NEEDED = (":value", ":expected", ":tol")      # Megatest writes a row only with all three
NO_EFFECT = {
    "-summarize-items": "no HTML rollup pages here; the toplevel record is rolled up on every change",
    ":first_err": "Megatest no longer records it either",
    ":first_warn": "Megatest no longer records it either",
    ":expected_value": "not a Megatest switch (Megatest reported it and went on); use :expected",
}
USED = frozenset(TEST_SIDE) | frozenset(STATES + STATUSES) | frozenset(DATA_FIELDS) | \
    frozenset(NO_EFFECT) | {"-m", "-logpro"}
SHELL_EXIT_CAP = 3      # Megatest exits 0, 1, 2 with the step's code, 3 for any other


def main(opts, words, environ=None):
    _check(opts, words)
    environ = os.environ if environ is None else environ
    try:
        ident = testenv.identity_from_env(environ)
    except MtError as err:
        raise MtError(err.message, hint=f"{_action(opts)} is called by the steps or runscript "
                      "of a test that megatest -run (or mt-run) started") from None
    test = testroute.TestRecord(ident, environ, testroute.off_home(environ), say=_say)
    try:
        return _calls(test, opts, words)
    finally:
        test.close()


def _say(text):
    sys.stderr.write(f"megatest: {text}\n")


def _first(opts, names):
    return next((opts[n] for n in names if n in opts), None)


def _check(opts, words):
    """Every usage error before anything is recorded (Megatest exits 5 or 6 for these, here 2)."""
    from megatest.commands.megatest_switches import RUN_ACTIONS
    others = [s for s in opts if s in RUN_ACTIONS]
    if others:
        raise UsageError(f"{others[0]} cannot be combined with {_action(opts)} "
                         "(a call from inside a test)")
    for switch in ("-step", "-test-status"):
        if switch in opts:
            missing = [n[0] for n in (STATES, STATUSES) if _first(opts, n) is None]
            if missing:
                raise UsageError(f"{switch}: missing {' and '.join(missing)}",
                                 hint=f"megatest {switch}{' NAME' if switch == '-step' else ''} "
                                      ":state STATE :status STATUS")
    if "-runstep" in opts and not words:
        raise UsageError(f"-runstep {opts['-runstep']}: nothing to run",
                         hint='megatest -runstep NAME "COMMAND" [-logpro RULES]')
    if words and "-runstep" not in opts:
        raise UsageError(f"unexpected argument {words[0]!r}", hint="megatest -h")
    if "-set-values" in opts:
        missing = [n for n in DATA_NEEDED if n not in opts]
        if missing:
            raise UsageError(f"-set-values: missing {', '.join(missing)}",
                             hint="megatest -set-values :variable V :value X :expected E :tol T")


def _action(opts):
    return next(s for s in TEST_SIDE if s in opts)


def _calls(test, opts, words):
    """In Megatest's order: the step, then data, logs, the run step, the status."""
    for switch, why in NO_EFFECT.items():
        if switch in opts:
            note(switch, opts[switch], why)
    note_unused(opts, USED, _action(opts))
    comment = opts.get("-m")
    comment_used = False
    codes = []
    if "-step" in opts:
        codes.append(mt_test.record_step(test, opts["-step"], _first(opts, STATES),
                                         _first(opts, STATUSES), opts.get("-setlog"), comment))
        comment_used = True
    if "-load-test-data" in opts:
        codes.append(mt_test.load_data(test, "-"))
    if "-setlog" in opts and "-step" not in opts:
        test.call("setlog", path=opts["-setlog"], comment=None)
    if "-set-toplog" in opts:
        test.call("toplog", path=opts["-set-toplog"])
    if "-runstep" in opts:
        code, _ = mt_test.run_checked_step(test, opts["-runstep"], " ".join(words),
                                           opts.get("-logpro"), comment)
        codes.append(min(code, SHELL_EXIT_CAP))
        comment_used = True
    codes.append(_data(test, opts))
    if "-test-status" in opts:
        codes.append(mt_test.set_status(test, _first(opts, STATES), _first(opts, STATUSES),
                                        comment))
    elif comment is not None and not comment_used:
        test.call("comment", comment=comment)
    return next((c for c in codes if c), 0)


def _data(test, opts):
    """The one data row of -set-values (or of -test-status given :value :expected :tol)."""
    given = [n for n in opts if n in DATA_FIELDS]
    if not given:
        return 0
    if any(n not in opts for n in DATA_NEEDED):
        note(given[0], opts[given[0]], "a data row needs :value, :expected and :tol")
        return 0
    row = {field: opts.get(switch, "") for switch, field in DATA_FIELDS.items()}
    return mt_test.store_data(test, [row], "-set-values")
