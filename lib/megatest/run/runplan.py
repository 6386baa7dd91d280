"""Everything mt-run decides before it touches the database: target, environment, tests, graph.

Any bad input is found here, so a refused run leaves no record and no directory behind.
"""
import os
from dataclasses import dataclass, field

from megatest.errors import MtError, option_name

DEFAULT_NAME_MAX = 255   # bytes in one directory name, where os.pathconf cannot tell
ITEMS_SHOWN = 8          # items a hint lists for a pattern that selects none
NAME_SHOWN = 40          # characters of a too long name an error shows


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
    dead_elements: list = field(default_factory=list)   # user pattern elements selecting nothing
    late_elements: list = field(default_factory=list)   # ... that only run-time items may satisfy


def make_plan(area, target, runname, testpatt=None, environ=None, warn=None, prog="mt-run",
              evaluate=True):
    """The plan of one run, every input checked. PROG names the front end (mt-run, megatest)
    whose spelling of the options the messages use. evaluate=False (a dry run) keeps the
    runconfig values as written: like Megatest's -show-runconfig, it runs none of them."""
    from megatest.config import settings as settings_mod
    from megatest.config import testdefs, waiton
    from megatest.config.parse import read_runconfig, eval_env_section
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
    runconfig = eval_env_section(list(raw.items()), env) if evaluate else dict(raw)
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
    plan.all_tests, broken = testdefs.load_testdefs(found, area, env, runconfig, warn,
                                                    settings.runtimelim, scheme)
    deps = {n: t.deps for n, t in plan.all_tests.items()}
    messages.extend(waiton.clean_waitons(deps, set(found)))
    iterated = {n for n, t in plan.all_tests.items() if t.iterated}
    plan.testpatt = waiton.closure(user_patt, deps, iterated)
    selects = _test_selector(plan.testpatt)
    selected = {n for n in found if selects(n)}
    testpatt_opt = option_name(prog, "testpatt")
    if not selected:
        raise MtError(f"{testpatt_opt} {user_patt!r} selects no test of this area",
                      hint="mt-list tests   (the tests this area defines)")
    _refuse_broken(selected, broken, messages, prog)
    plan.tests = {n: plan.all_tests[n] for n in sorted(selected)}
    waiton.check_no_cycle({n: deps[n] for n in sorted(selected)})
    check_name_lengths(plan, option_name(prog, "runname"))
    paths = {n: [p for p, _ in expand_all(t, plan)] for n, t in plan.tests.items()
             if t.iterated and not t.deferred}   # bad item values are found before anything is written
    _check_elements(plan, paths, prog)
    return plan


def _refuse_broken(selected, broken, messages, prog):
    """A selected test (or one its waitons pull in) whose testconfig does not read refuses the
    run; the others only cost a warning each, naming the file and line."""
    for name in sorted(broken):
        if name in selected:
            raise broken[name]
        messages.append(f"{prog}: warning: {broken[name]}; test {name} is not selected, so it is skipped")


def _check_elements(plan, paths, prog):
    """Every element of the user's pattern must select a test or item: a partly dead pattern
    warns once per dead element, a wholly dead one refuses the run. Elements that only tests
    expanded at run time ([system] items) can satisfy are kept in plan.late_elements, which
    mt-run checks once the run is over."""
    from megatest.config.patterns import dead_elements, pattern_elements
    records = [(n, "") for n in plan.tests]
    records += [(n, p) for n, test_paths in paths.items() for p in test_paths]
    opt = option_name(prog, "testpatt")
    deferred = [n for n, t in plan.tests.items() if t.deferred]
    plan.dead_elements = dead_elements(plan.user_testpatt, records, deferred)
    plan.late_elements = [text for text in dead_elements(plan.user_testpatt, records)
                          if text not in plan.dead_elements]
    dead = plan.dead_elements
    if not dead:
        return
    if len(dead) == len(pattern_elements(plan.user_testpatt)):
        raise MtError(f"{opt} {plan.user_testpatt!r} selects no test or item of this area",
                      hint=_items_hint(dead, paths))
    for text in dead:
        plan.messages.append(f"{prog}: warning: {opt} element {text!r} selects no test or item; "
                             "ignored")


def _test_selector(patt):
    """name -> bool: does any element's test part select this test? Literal parts (the
    waiton closure adds one per upstream test) are a set lookup, not a pattern match each."""
    from megatest.config.patterns import split_elements, match_part
    parts = {tp for tp, _ in split_elements(patt)}
    literal = {p for p in parts if not any(c in p for c in "%*~")}
    wild = [p for p in parts if p not in literal]
    return lambda name: name in literal or any(match_part(p, name) for p in wild)


def _check_named_dirs(area, patt, found):
    from megatest.config.patterns import split_elements
    from megatest.config.testdefs import dirs_without_testconfig
    missing = set(dirs_without_testconfig(area)) - set(found)
    for testpart, _ in split_elements(patt):
        if testpart in missing:
            raise MtError(f"test directory {os.path.join(area.toppath, 'tests', testpart)} has no testconfig",
                          hint=f"create tests/{testpart}/testconfig (mt-init test {testpart})")


def _items_hint(dead, paths):
    """What the iterated tests a dead element names do have, else where to look."""
    from megatest.config.patterns import match_part, split_elements
    parts = [split_elements(text)[0][0] for text in dead]
    named = [n for n in sorted(paths) if any(match_part(p, n) for p in parts)]
    if not named:
        return "mt-list tests   (the tests this area defines)"
    return "; ".join(f"{n}'s items: {' '.join(paths[n][:ITEMS_SHOWN])}"
                     f"{' ...' if len(paths[n]) > ITEMS_SHOWN else ''}" for n in named[:3])


def check_name_lengths(plan, runname_opt="--runname", extra=()):
    """Names that become one directory name each (target parts, run name, test names, and
    EXTRA: (label, name) pairs; item values are checked as they expand) must fit the file
    system's NAME_MAX, or the run would fail only at launch ("File name too long")."""
    limit = name_max(_run_dirs(plan))
    names = [("target part", v) for v in plan.keyvals] + [(runname_opt, plan.runname)]
    names += [("test name", n) for n in plan.tests]
    for label, name in names + list(extra):
        _check_length(label, name, limit)


def _check_length(label, name, limit):
    """MtError when a part of NAME (a value may hold `/`) is longer than LIMIT bytes."""
    for part in name.split("/"):
        size = len(os.fsencode(part))
        if size > limit:
            shown = part if len(part) <= NAME_SHOWN else part[:NAME_SHOWN] + "..."
            raise MtError(f"{label} {shown!r} is {size} bytes long; a directory name may have "
                          f"at most {limit} here",
                          hint="use a shorter name (it becomes a directory of the run)")


def _run_dirs(plan):
    """The directories the run's names go under: the disks (the area's and its tests'), the link tree."""
    from megatest.launch.rundir import DEFAULT_DISK_DIR
    s = plan.settings
    dirs = [p for _, p in s.disks] or [os.path.join(s.area.toppath, DEFAULT_DISK_DIR)]
    dirs += [p for t in plan.tests.values() for _, p in t.disks]
    return dirs + [s.linktree]


def name_max(dirs):
    """The smallest NAME_MAX of the file systems DIRS are on (of the nearest existing
    ancestor of each); DEFAULT_NAME_MAX where the system cannot tell."""
    limits = []
    for path in dirs:
        path = os.path.abspath(path)
        while not os.path.exists(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)
        try:
            limits.append(os.pathconf(path, "PC_NAME_MAX"))
        except (OSError, ValueError):
            continue
    return min([n for n in limits if n and n > 0] or [DEFAULT_NAME_MAX])


def expand_all(testdef, plan, environ=None):
    """Every item of an iterated test as [(item_path, item dict)], each value checked
    (MtError naming the testconfig line); None when the test is not iterated."""
    from megatest.config import items as items_mod
    from megatest.config.parse import run_system
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
    limit = name_max(_run_dirs(plan))
    for item in expanded:
        for var, value in item.items():
            try:
                items_mod.check_item_value(var, value)
                _check_length(f"item variable {var}: value", value, limit)
            except MtError as err:
                raise MtError(f"test {testdef.name}: {err.message}",
                              *testdef.config.location("items", var), hint=err.hint) from None
    return [(items_mod.item_path(item), item) for item in expanded]


def expand(testdef, plan, match=None, environ=None):
    """Items of a test as (selected, total): selected is a list of (item_path, item dict) that
    the run's pattern selects, total the number of items expanded. None when not iterated."""
    from megatest.config.patterns import compile_testpatt
    match = match or compile_testpatt(plan.testpatt)
    every = expand_all(testdef, plan, environ)
    if every is None:
        return None
    return [(path, item) for path, item in every if match(testdef.name, path)], len(every)
