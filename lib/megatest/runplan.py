"""Everything mt-run decides before it touches the database: target, environment, tests, graph.

Any bad input is found here, so a refused run leaves no record and no directory behind.
"""
import os
from dataclasses import dataclass, field

from megatest.errors import MtError


@dataclass
class RunPlan:
    settings: object
    target: str
    keyvals: list
    runname: str
    testpatt: str              # effective pattern: user pattern plus the waiton closure
    user_testpatt: str
    env: dict                  # the runner's environment: keys, runconfig, MT_* run variables
    runconfig: dict            # evaluated runconfig variables
    tests: dict = field(default_factory=dict)       # name -> TestDef, tests in this run
    all_tests: dict = field(default_factory=dict)   # name -> TestDef, every test of the area
    messages: list = field(default_factory=list)    # warnings/errors the user must see


def make_plan(area, target, runname, testpatt=None, environ=None, warn=None):
    from megatest import settings as settings_mod
    from megatest.config import read_runconfig, eval_env_section
    from megatest import testdefs, waiton, patterns
    environ = dict(os.environ if environ is None else environ)
    settings_mod.check_runname(runname)
    settings = settings_mod.load_settings(area, environ, warn, target=target, runname=runname)
    keyvals = settings_mod.split_target(target, settings.keys)
    env = dict(settings.environ)         # MT_* names, keys and [env-override] as megatest.config left them
    env.update(settings_mod.key_environ(settings.keys, keyvals))
    env.update(MT_LINKTREE=settings.linktree)
    if not os.path.exists(area.runconfig_path) and warn:
        warn(f"warning: {area.runconfig_path} not found: no per-target variables")
    raw = read_runconfig(area.runconfig_path, target, toppath=area.toppath, environ=env, warn=warn) \
        if os.path.exists(area.runconfig_path) else {}
    runconfig = eval_env_section(list(raw.items()), env)
    env.update(runconfig)
    env.update(settings.env_override_values)    # [env-override] wins over the runconfig (§11.2)
    user_patt = testpatt if testpatt not in (None, "") else None
    if user_patt in (None, "%") and runconfig.get("TESTPATT"):
        user_patt = runconfig["TESTPATT"]
    user_patt = user_patt or "%"
    plan = RunPlan(settings, target, keyvals, runname, user_patt, user_patt, env, runconfig)
    messages = plan.messages
    found = testdefs.discover_tests(area, settings.tests_paths, messages.append)
    _check_named_dirs(area, user_patt, found)
    scheme = {"scheme_args": {"-target": target, "-reqtarg": target, "-runname": runname,
                              "-testpatt": user_patt, "-runtests": user_patt},
              "tests": lambda: dict(found)}
    for name, path in found.items():
        plan.all_tests[name] = testdefs.load_testdef(name, path, area, env, runconfig, warn,
                                                     settings.runtimelim, scheme)
    deps = {n: t.deps for n, t in plan.all_tests.items()}
    messages.extend(waiton.clean_waitons(deps, set(plan.all_tests)))
    iterated = {n for n, t in plan.all_tests.items() if t.iterated}
    plan.testpatt = waiton.closure(user_patt, deps, iterated)
    match = patterns.compile_testpatt(plan.testpatt)
    selects = _test_selector(plan.testpatt)
    selected = {n for n in plan.all_tests if selects(n)}
    plan.tests = {n: plan.all_tests[n] for n in sorted(selected)}
    if not selected:
        raise MtError(f"--testpatt {user_patt!r} selects no test of this area",
                      hint="mt-list tests   (the tests this area defines)")
    waiton.check_no_cycle({n: deps[n] for n in sorted(selected)})
    for t in plan.tests.values():
        if not t.deferred:
            expand(t, plan, match)        # bad item values are found before anything is written
    return plan


def _test_selector(patt):
    """name -> bool: does any element's test part select this test? Literal parts (the
    waiton closure adds one per upstream test) are a set lookup, not a pattern match each."""
    from megatest.patterns import split_elements, match_part
    parts = {tp for tp, _ in split_elements(patt)}
    literal = {p for p in parts if not any(c in p for c in "%*~")}
    wild = [p for p in parts if p not in literal]
    return lambda name: name in literal or any(match_part(p, name) for p in wild)


def _check_named_dirs(area, patt, found):
    from megatest.patterns import split_elements
    from megatest.testdefs import dirs_without_testconfig
    missing = set(dirs_without_testconfig(area)) - set(found)
    for testpart, _ in split_elements(patt):
        if testpart in missing:
            raise MtError(f"test directory {os.path.join(area.toppath, 'tests', testpart)} has no testconfig",
                          hint=f"create tests/{testpart}/testconfig (mt-init test {testpart})")


def expand(testdef, plan, match=None, environ=None):
    """Items of a test as (selected, total): selected is a list of (item_path, item dict) that
    the run's pattern selects, total the number of items expanded. None when not iterated."""
    from megatest import items as items_mod
    from megatest.config import run_system
    from megatest.patterns import compile_testpatt
    match = match or compile_testpatt(plan.testpatt)
    env = environ or plan.env

    def values(pairs, section):
        out = []
        for var, text in pairs:
            if (section, var) in testdef.config.deferred:
                text, _ = run_system(text, env, plan.settings.area.toppath)
            out.append((var, text))
        return out

    expanded = items_mod.expand_items(values(testdef.items, "items"),
                                      values(testdef.itemstable, "itemstable"), warn=plan.messages.append)
    if expanded is None:
        return None
    result = []
    for item in expanded:
        for var, value in item.items():
            try:
                items_mod.check_item_value(var, value)
            except MtError as err:
                raise MtError(f"test {testdef.name}: {err.message}",
                              *testdef.config.location("items", var)) from None
        path = items_mod.item_path(item)
        if match(testdef.name, path):
            result.append((path, item))
    return result, len(expanded)
